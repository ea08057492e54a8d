package org.splice4j.spi;

import java.lang.System.Logger.Level;
import java.util.Objects;
import java.util.Optional;

/**
 * The splicer an adapter uses, or the reason it has none and keeps its stock path: the one decision every adapter
 * makes when it is built or started, made here once so that they all decide alike.
 *
 * <ul>
 *   <li>a splicer the application gave is used as it is;</li>
 *   <li>else, with {@code splice4j.enabled} not {@code true}, none: "splicing is off";</li>
 *   <li>else the default splicer ({@link Splice#splicer()}) when a provider is available, none with the reason when
 *       none is;</li>
 *   <li>but a provider named by {@code splice4j.provider} that is unknown, unavailable or fails to start is an
 *       error, never a silent fall back to the stock path: the operator asked for it.</li>
 * </ul>
 * Immutable; any thread.
 */
public final class SplicerChoice {

    private static final System.Logger LOG = System.getLogger(SplicerChoice.class.getName());
    private final Splicer splicer;
    private final String reason;

    private SplicerChoice(Splicer splicer, String reason) {
        this.splicer = splicer;
        this.reason = reason;
    }

    /**
     * Decides, as the list above says.
     *
     * @param given   the splicer the application set on the adapter, or null for the default one
     * @param adapter the adapter deciding, named in the one INFO line logged when splicing is on but impossible
     * @throws IllegalStateException    if {@code splice4j.provider} names a provider that is unknown, unavailable or
     *                                  cannot make its splicer here (the message names the property and the reason)
     * @throws IllegalArgumentException if a {@code splice4j.*} property is malformed (the message names it)
     */
    public static SplicerChoice forAdapter(Splicer given, Object adapter) {
        if (given != null) {
            return new SplicerChoice(given, null);
        }
        if (!Splice.enabled()) {
            return new SplicerChoice(null, "splicing is off (" + SpliceConfig.ENABLED + " is not true)");
        }
        SpliceConfig config = SpliceConfig.fromSystemProperties(); // a malformed value fails here, naming it
        if (config.provider() != null) {
            Splice.chooseProvider(config); // named but unknown or unavailable: throws, naming the property
        }
        try {
            return new SplicerChoice(Splice.splicer(), null);
        } catch (IllegalStateException none) {
            if (config.provider() != null) {
                throw none; // the named provider could not make its splicer
            }
            LOG.log(Level.INFO, "splice4j: {0} keeps its stock path: {1}", adapter, none.getMessage());
            return new SplicerChoice(null, none.getMessage());
        }
    }

    /** The splicer to use, or empty when the adapter keeps its stock path. */
    public Optional<Splicer> splicer() {
        return Optional.ofNullable(splicer);
    }

    /** Why there is no splicer, or empty when there is one. */
    public Optional<String> reason() {
        return Optional.ofNullable(reason);
    }

    @Override
    public String toString() {
        return splicer != null ? "splicing with " + splicer.providerName() : "not splicing: " + reason;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SplicerChoice && Objects.equals(splicer, ((SplicerChoice) o).splicer)
                && Objects.equals(reason, ((SplicerChoice) o).reason);
    }

    @Override
    public int hashCode() {
        return Objects.hash(splicer, reason);
    }
}
