package org.splice4j.spi;

import java.time.Duration;
import java.util.Objects;

/**
 * Per-session settings: the idle timeout (adapters pass their framework's own) and a label for logs.
 */
public final class SpliceOptions {

    private static final SpliceOptions DEFAULTS = new SpliceOptions(null, "");

    private final Duration idleTimeout;
    private final String label;

    private SpliceOptions(Duration idleTimeout, String label) {
        if (idleTimeout != null && idleTimeout.isNegative()) {
            throw new IllegalArgumentException("idleTimeout is negative: " + idleTimeout);
        }
        this.idleTimeout = idleTimeout;
        this.label = Objects.requireNonNull(label, "label");
    }

    /** No label; the idle timeout of the splicer's config. */
    public static SpliceOptions defaults() {
        return DEFAULTS;
    }

    /** An idle timeout for this session; {@link Duration#ZERO} means none, overriding {@code splice4j.idleTimeout}. */
    public SpliceOptions withIdleTimeout(Duration timeout) {
        return new SpliceOptions(Objects.requireNonNull(timeout, "timeout"), label);
    }

    public SpliceOptions withLabel(String label) {
        return new SpliceOptions(idleTimeout, label);
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
                + ", label=" + label + "]";
    }
}
