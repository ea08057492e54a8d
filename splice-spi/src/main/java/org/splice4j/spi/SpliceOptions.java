package org.splice4j.spi;

import java.time.Duration;
import java.util.Objects;

/**
 * Per-session settings: the idle timeout (adapters pass their framework's own), a label for logs, and the bounds of a
 * bounded session.
 *
 * <p>A bounded session ({@link #withBounds}) relays exactly a given number of bytes each way and then gives both
 * sockets back to their owner, open and usable: that is how an HTTP/1.1 proxy splices one message body on a kept-alive
 * connection and then parses the next message itself.
 */
public final class SpliceOptions {

    /** The bound of a direction that relays until end of stream: no bound. */
    public static final long UNBOUNDED = -1;

    private static final SpliceOptions DEFAULTS = new SpliceOptions(null, "", UNBOUNDED, UNBOUNDED);

    private final Duration idleTimeout;
    private final String label;
    private final long boundAToB;
    private final long boundBToA;

    private SpliceOptions(Duration idleTimeout, String label, long boundAToB, long boundBToA) {
        if (idleTimeout != null && idleTimeout.isNegative()) {
            throw new IllegalArgumentException("idleTimeout is negative: " + idleTimeout);
        }
        this.idleTimeout = idleTimeout;
        this.label = Objects.requireNonNull(label, "label");
        this.boundAToB = boundAToB;
        this.boundBToA = boundBToA;
    }

    /** No label; the idle timeout of the splicer's config. */
    public static SpliceOptions defaults() {
        return DEFAULTS;
    }

    /** An idle timeout for this session; {@link Duration#ZERO} means none, overriding {@code splice4j.idleTimeout}. */
    public SpliceOptions withIdleTimeout(Duration timeout) {
        return new SpliceOptions(Objects.requireNonNull(timeout, "timeout"), label, boundAToB, boundBToA);
    }

    public SpliceOptions withLabel(String label) {
        return new SpliceOptions(idleTimeout, label, boundAToB, boundBToA);
    }

    /**
     * Bounds both directions: the session reads exactly {@code aToB} bytes from A (and writes them to B) and exactly
     * {@code bToA} bytes from B, then ends as {@link SpliceResult.Outcome#BOUNDS_REACHED}. A bound counts bytes read
     * from the source socket; an endpoint's already-read bytes are written first and do not count.
     *
     * <p>A bounded session never reads a byte past its bound (the next bytes stay in the socket, for the owner to read
     * in order), never forwards an end of stream, and ends with both sockets open, not shut down, and with every
     * socket option the provider changed restored. An end of stream before the bound ends it as
     * {@link SpliceResult.Outcome#FAILED} with an {@link java.io.EOFException}; a reset as
     * {@link SpliceResult.Outcome#RESET}.
     *
     * @param aToB bytes to read from A: 0 not to read A at all, N &gt; 0 exactly N; or both -1 ({@link #UNBOUNDED})
     *             for a session that runs until both ends close, the default
     * @param bToA bytes to read from B, the same way
     * @throws IllegalArgumentException if one direction is bounded and the other not, or a bound is below -1
     */
    public SpliceOptions withBounds(long aToB, long bToA) {
        if ((aToB == UNBOUNDED) != (bToA == UNBOUNDED)) {
            throw new IllegalArgumentException(
                    "bound both directions or neither: aToB=" + aToB + ", bToA=" + bToA);
        }
        if (aToB < UNBOUNDED || bToA < UNBOUNDED) {
            throw new IllegalArgumentException("a bound is -1 (none), 0 or a byte count: aToB=" + aToB
                    + ", bToA=" + bToA);
        }
        return new SpliceOptions(idleTimeout, label, aToB, bToA);
    }

    /** Whether the session is bounded ({@link #withBounds}): both directions then are. */
    public boolean isBounded() {
        return boundAToB != UNBOUNDED;
    }

    /** Bytes the session reads from A, or {@link #UNBOUNDED}. */
    public long boundAToB() {
        return boundAToB;
    }

    /** Bytes the session reads from B, or {@link #UNBOUNDED}. */
    public long boundBToA() {
        return boundBToA;
    }

    /** The idle timeout to use, given the splicer's configured default. */
    public Duration idleTimeoutOr(Duration configured) {
        return idleTimeout != null ? idleTimeout : configured;
    }

    public String label() {
        return label;
    }

    @Override
    public String toString() {
        return "SpliceOptions[idleTimeout=" + (idleTimeout == null ? "config" : idleTimeout.toMillis() + "ms")
                + ", label=" + label + (isBounded() ? ", bounds a->b=" + boundAToB + " b->a=" + boundBToA : "") + "]";
    }
}
