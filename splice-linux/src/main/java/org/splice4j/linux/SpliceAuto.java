package org.splice4j.linux;

/**
 * Splice-auto, the policy that says, per direction, whether the next read is spliced or copied.
 *
 * <p>A direction copies (read and write through its loop's scratch buffer) until one read fills what it asked for,
 * the mark of a bulk stream, and then splices; two splices in a row that bring in less than {@link #SMALL_READ} go
 * back to copying (one is often only the tail of a burst). Small interactive messages thus cost a read and a write,
 * never a pipe's overhead, and bulk streams pay one buffer's copy when they start. Every direction starts copying.
 *
 * <p>Loop thread only, like the direction it belongs to.
 */
final class SpliceAuto {

    /** A splice bringing in less than this is a small message. */
    static final int SMALL_READ = 4096;

    private boolean bulk;
    private int smallSplices;

    /** Whether the next read should be spliced. */
    boolean spliceNext() {
        return bulk;
    }

    /** A copying read brought in {@code n} bytes of the {@code asked}: a full buffer makes the stream bulk. */
    void copied(long n, long asked) {
        if (n == asked) {
            bulk = true;
            smallSplices = 0;
        }
    }

    /** A splice brought in {@code n} bytes. */
    void spliced(long n) {
        if (n >= SMALL_READ) {
            smallSplices = 0;
        } else if (++smallSplices == 2) {
            bulk = false; // small messages now: copy the next ones
        }
    }
}
