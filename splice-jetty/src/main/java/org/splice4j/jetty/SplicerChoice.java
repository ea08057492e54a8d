package org.splice4j.jetty;

import java.lang.System.Logger.Level;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;

/**
 * The splicer a Jetty component uses, decided when it starts: the one its user gave, else the default one when
 * {@code splice4j.enabled=true} and a provider is available, else none, with the reason.
 */
final class SplicerChoice {

    private static final System.Logger LOG = System.getLogger(SplicerChoice.class.getName());

    /** The splicer, or null when the component keeps its stock path. */
    final Splicer splicer;
    /** Why {@link #splicer} is null; null when it is not. */
    final String notSplicing;

    private SplicerChoice(Splicer splicer, String notSplicing) {
        this.splicer = splicer;
        this.notSplicing = notSplicing;
    }

    /**
     * @param given the splicer the user set, or null for the default
     * @param who   the component, for the one log line said when splicing is on but impossible
     * @throws IllegalArgumentException if a {@code splice4j.*} property is malformed: it fails the component's start
     * @throws IllegalStateException    if {@code splice4j.provider} names a provider that is not available here
     */
    static SplicerChoice resolve(Splicer given, Object who) {
        if (given != null) {
            return new SplicerChoice(given, null);
        }
        if (!Splice.enabled()) {
            return new SplicerChoice(null, "splicing is off (splice4j.enabled is not true)");
        }
        try {
            return new SplicerChoice(Splice.splicer(), null);
        } catch (IllegalStateException noProvider) {
            if (System.getProperty(SpliceConfig.PROVIDER) != null) {
                throw noProvider; // a provider was named and is not there: fail the start, as DESIGN.md says
            }
            LOG.log(Level.INFO, "splice4j: {0} keeps its stock path: {1}", who, noProvider.getMessage());
            return new SplicerChoice(null, noProvider.getMessage());
        }
    }
}
