package org.splice4j.linux;

import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;

import org.splice4j.spi.SpliceConfig;

/**
 * The pipes of one splicer, capped at {@code splice4j.maxPipes} (pooled and in use together). A pipe is created at
 * the kernel's default size and grown with F_SETPIPE_SZ only for a bulk stream, up to {@code splice4j.pipeSize}
 * (clamped to {@code /proc/sys/fs/pipe-max-size}); what counts is the size the kernel really granted, which is smaller
 * for unprivileged users past {@code pipe-user-pages-soft}.
 *
 * <p>Shared by the splicer's loops, hence synchronized; a borrow or return is a few field updates. A pipe that comes
 * back holding bytes belongs to a dead session: it is closed, never reused.
 */
final class PipePool {

    private static final System.Logger LOG = System.getLogger(PipePool.class.getName());

    private final int maxPipes;
    private final int maxPipeSize;
    private final ArrayDeque<Pipe> free = new ArrayDeque<>();
    private int total;
    private boolean closed;
    private boolean warnedCreateFailure;
    /** For tests and metrics: how often the kernel refused to grow a pipe, and the smallest size it granted. */
    private int growRefusals;
    /** Why the kernel last refused a pipe, for the fallback's detail; null if it never did. */
    private String lastCreateFailure;
    private int smallestGranted = Integer.MAX_VALUE;

    PipePool(int maxPipes, int pipeSize) {
        this.maxPipes = maxPipes;
        this.maxPipeSize = Math.min(pipeSize, systemPipeMaxSize());
    }

    int maxPipeSize() {
        return maxPipeSize;
    }

    /** A pipe, empty, or null if the cap is reached or the kernel refused one (the caller copies instead). */
    synchronized Pipe acquire() {
        Pipe p = free.pollFirst();
        if (p != null || closed || total >= maxPipes) {
            return p;
        }
        Pipe pipe;
        try {
            pipe = Pipe.open(); // both fds are ours from here until destroy()
        } catch (Errno.NativeIoException e) {
            lastCreateFailure = e.getMessage();
            if (!warnedCreateFailure) {
                warnedCreateFailure = true;
                LOG.log(Level.WARNING, "splice4j: cannot create a pipe, copying instead: " + e.getMessage()
                        + " (logged once)");
            }
            return null;
        }
        total++;
        smallestGranted = Math.min(smallestGranted, pipe.capacity);
        return pipe;
    }

    /** Why {@link #acquire} just returned null, in words for an operator. */
    synchronized String whyNoPipe() {
        if (closed) {
            return "the splicer is closing";
        }
        if (total >= maxPipes) {
            return "all " + maxPipes + " pipes are in use (" + SpliceConfig.MAX_PIPES + ")";
        }
        return "the kernel refused a pipe: " + lastCreateFailure;
    }

    /**
     * Grows a pipe towards the largest allowed size ({@link PipeGrowth} says when). Keeps whatever the kernel grants;
     * a refusal (EPERM past the per-user limit) leaves the pipe as it is and is counted.
     */
    void grow(Pipe p) {
        if (p.capacity >= maxPipeSize || p.growRefused) {
            return;
        }
        if (!p.grow(maxPipeSize)) {
            synchronized (this) {
                growRefusals++;
            }
        }
    }

    /** Takes a pipe back: pooled if empty, closed if it still holds a dead session's bytes. */
    synchronized void release(Pipe p) {
        if (p.bytes != 0 || closed) {
            destroy(p);
        } else {
            free.addFirst(p);
        }
    }

    private void destroy(Pipe p) {
        p.close(); // our own pipe fds: nobody else has them
        total--;
    }

    synchronized int total() {
        return total;
    }

    synchronized int growRefusals() {
        return growRefusals;
    }

    /** The smallest size a new pipe came with (the kernel's default, or two pages past the per-user limit). */
    synchronized int smallestGranted() {
        return smallestGranted;
    }

    synchronized int pooled() {
        return free.size();
    }

    /** Closes every pooled pipe; pipes still borrowed are closed as they come back. */
    synchronized void close() {
        closed = true;
        Pipe p;
        while ((p = free.pollFirst()) != null) {
            destroy(p);
        }
    }

    private static int systemPipeMaxSize() {
        try {
            // Not Files.readString: on JDK 17 it returns only the first byte of a procfs file (which reports size 0).
            return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/fs/pipe-max-size")).get(0).trim());
        } catch (Exception e) {
            return 1 << 20; // the kernel's default
        }
    }
}
