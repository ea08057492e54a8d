package org.splice4j.spi;

import java.util.Optional;

/**
 * How a session ended and what it moved.
 *
 * <p>On {@link Outcome#RESET} the provider has set {@code SO_LINGER} to zero on the socket that did not reset, so the
 * caller's close sends a reset to that peer too: that is how a proxy tells a client its tunnel failed.
 */
public final class SpliceResult {

    /** The way a session ends: a value, not an exception. */
    public enum Outcome {
        /** Both directions reached end of stream and were forwarded as half-closes. */
        COMPLETED,
        /**
         * A bounded session ({@link SpliceOptions#withBounds}) relayed exactly its bounds each way: both sockets are
         * open, not shut down, and the bytes after each bound are still unread in their socket.
         */
        BOUNDS_REACHED,
        /** A peer reset its connection (wins over an earlier end of stream). */
        RESET,
        /** Neither direction moved a byte for the idle timeout. */
        IDLE_TIMEOUT,
        /** {@link SpliceSession#cancel()} or {@link Splicer#close()} ended it. */
        CANCELLED,
        /**
         * An unexpected error, or a peer's end of stream before a bounded session's bound (an
         * {@link java.io.EOFException}); see {@link #cause()}.
         */
        FAILED
    }

    private final Outcome outcome;
    private final long bytesAToB;
    private final long bytesBToA;
    private final long splicedBytes;
    private final long copiedBytes;
    private final Throwable cause;

    public SpliceResult(Outcome outcome, long bytesAToB, long bytesBToA, long splicedBytes, long copiedBytes,
                        Throwable cause) {
        this.outcome = outcome;
        this.bytesAToB = bytesAToB;
        this.bytesBToA = bytesBToA;
        this.splicedBytes = splicedBytes;
        this.copiedBytes = copiedBytes;
        this.cause = cause;
    }

    public Outcome outcome() { return outcome; }

    /** Bytes delivered from A to B, already-read bytes included. */
    public long bytesAToB() { return bytesAToB; }

    /** Bytes delivered from B to A, already-read bytes included. */
    public long bytesBToA() { return bytesBToA; }

    /** Bytes moved by the kernel without passing through user space (both directions). */
    public long splicedBytes() { return splicedBytes; }

    /** Bytes moved through a user-space buffer (both directions, already-read bytes included). */
    public long copiedBytes() { return copiedBytes; }

    /** The error behind {@link Outcome#FAILED} (or a reset), if any. */
    public Optional<Throwable> cause() { return Optional.ofNullable(cause); }

    @Override
    public String toString() {
        return "SpliceResult[" + outcome + ", a->b=" + bytesAToB + ", b->a=" + bytesBToA + ", spliced=" + splicedBytes
                + ", copied=" + copiedBytes + (cause == null ? "" : ", cause=" + cause) + "]";
    }
}
