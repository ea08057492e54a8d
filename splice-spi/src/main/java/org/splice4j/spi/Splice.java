package org.splice4j.spi;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

import org.splice4j.spi.support.AbstractSplicer;

/**
 * Entry point: the process-wide default {@link Splicer}, the master switch, and provider lookup.
 *
 * <p>A provider is chosen as follows:
 * <ol>
 *   <li>If {@code splice4j.provider} names one, it is used; if it is unknown or not available here, creating the
 *       splicer fails with an {@link IllegalStateException} that names the property and the provider's reason.</li>
 *   <li>Otherwise the available {@link ServiceLoader} provider with the highest {@link SpliceProvider#priority()},
 *       never {@code copy} (a portable relay and benchmark baseline, used only when named).</li>
 *   <li>Otherwise there is none: {@link #unavailabilityCause()} says why, and adapters keep their stock path.</li>
 * </ol>
 * The choice is logged once at INFO, with the reason each other provider was not taken. All methods are thread-safe.
 */
public final class Splice {

    /**
     * {@code splice4j.shutdownHook}: {@code false} keeps the default splicer from installing its JVM shutdown hook
     * (the server closes it itself, after its own grace period); default {@code true}.
     */
    public static final String SHUTDOWN_HOOK = "splice4j.shutdownHook";

    /** The name of the portable provider in this module. */
    public static final String COPY = "copy";

    private static final System.Logger LOG = System.getLogger(Splice.class.getName());

    private static Splicer defaultSplicer;
    private static RuntimeException defaultFailure;
    private static String defaultUnavailability;
    private static boolean defaultResolved;
    private static Thread defaultShutdownHook;
    private static boolean shutdownHookRemoved;

    private Splice() {
    }

    /** The master switch, {@code splice4j.enabled}; false unless set to {@code true}. */
    public static boolean enabled() {
        return SpliceConfig.parseBoolean(SpliceConfig.ENABLED, System.getProperty(SpliceConfig.ENABLED), false);
    }

    /** Every provider on the class path, available or not, best first. */
    public static List<SpliceProvider> providers() {
        List<SpliceProvider> list = new ArrayList<>();
        ServiceLoader<SpliceProvider> loader = ServiceLoader.load(SpliceProvider.class, Splice.class.getClassLoader());
        for (var it = loader.iterator(); ; ) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                list.add(it.next());
            } catch (ServiceConfigurationError e) {
                LOG.log(Level.WARNING, "splice4j: skipping a provider that cannot be loaded: " + e.getMessage());
            }
        }
        list.sort(Comparator.comparingInt(SpliceProvider::priority).reversed());
        return list;
    }

    /**
     * The provider {@code config} selects: the named one, or the best available one other than {@code copy}.
     *
     * @return empty if nothing is named and no provider is available
     * @throws IllegalStateException if a provider is named but unknown or unavailable, naming the property and reason
     */
    public static Optional<SpliceProvider> chooseProvider(SpliceConfig config) {
        return chooseProvider(config, providers());
    }

    private static Optional<SpliceProvider> chooseProvider(SpliceConfig config, List<SpliceProvider> all) {
        String named = config.provider();
        if (named != null) {
            for (SpliceProvider p : all) {
                if (p.name().equals(named)) {
                    Optional<String> cause = p.unavailabilityCause();
                    if (cause.isPresent()) {
                        throw new IllegalStateException(SpliceConfig.PROVIDER + "=" + named
                                + " names a provider that is not available here: " + cause.get());
                    }
                    return Optional.of(p);
                }
            }
            throw new IllegalStateException(SpliceConfig.PROVIDER + "=" + named + " names no known provider; known: "
                    + names(all));
        }
        for (SpliceProvider p : all) {
            if (!p.name().equals(COPY) && p.isAvailable()) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Why {@code config} selects no provider, or empty if it selects one. Never throws for a named provider. */
    public static Optional<String> unavailabilityCause(SpliceConfig config) {
        try {
            List<SpliceProvider> all = providers();
            return chooseProvider(config, all).isPresent() ? Optional.empty() : Optional.of(noProviderReason(all));
        } catch (IllegalStateException e) {
            return Optional.of(e.getMessage());
        }
    }

    /**
     * A new, independent splicer (tests, or two servers in one JVM). The caller closes it.
     *
     * @throws IllegalStateException if no provider can serve this config (the message says why)
     */
    public static Splicer newSplicer(SpliceConfig config) {
        List<SpliceProvider> all = providers();
        SpliceProvider p = chooseProvider(config, all)
                .orElseThrow(() -> new IllegalStateException(noProviderReason(all)));
        Splicer s = p.newSplicer(config);
        logStarted(s, config, all, p);
        return s;
    }

    /**
     * The process-wide default splicer, made on first use from the system properties and closed by a JVM shutdown
     * hook. Adapters that did not create it never close it.
     *
     * @throws IllegalStateException    if no provider is available (see {@link #unavailabilityCause()})
     * @throws IllegalArgumentException if a {@code splice4j.*} property is malformed
     */
    public static synchronized Splicer splicer() {
        resolveDefault();
        if (defaultFailure != null) {
            throw defaultFailure;
        }
        return defaultSplicer;
    }

    /**
     * Takes the default splicer's JVM shutdown hook away (or keeps it from being installed, if the default splicer is
     * not made yet), so that a server can give spliced tunnels the same grace period as its other connections: the
     * hook runs concurrently with the server's own shutdown hooks and would cancel every spliced session at once.
     * The caller then closes the default splicer itself, after its grace: {@link #closeDefaultSplicer()}.
     * {@code -Dsplice4j.shutdownHook=false} does the same without code.
     *
     * @return false if the JVM is already shutting down (the hook stays and may have run)
     */
    public static synchronized boolean removeDefaultShutdownHook() {
        shutdownHookRemoved = true;
        if (defaultShutdownHook == null) {
            return true;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(defaultShutdownHook);
            defaultShutdownHook = null;
            return true;
        } catch (IllegalStateException shuttingDown) {
            return false;
        }
    }

    /**
     * Closes the default splicer if it was made (ending its sessions as cancelled); for a server that removed the
     * shutdown hook, once its own grace period is over. Later calls to {@link #splicer()} return the closed splicer,
     * which refuses new sessions. Idempotent.
     */
    public static void closeDefaultSplicer() {
        Splicer s;
        synchronized (Splice.class) {
            s = defaultSplicer;
        }
        if (s != null) {
            s.close();
        }
    }

    /** Why {@link #splicer()} cannot give a splicer here, or empty if it can. Never throws. */
    public static synchronized Optional<String> unavailabilityCause() {
        resolveDefault();
        return Optional.ofNullable(defaultUnavailability);
    }

    private static void resolveDefault() {
        if (defaultResolved) {
            return;
        }
        defaultResolved = true;
        try {
            SpliceConfig config = SpliceConfig.fromSystemProperties();
            List<SpliceProvider> all = providers();
            Optional<SpliceProvider> chosen = chooseProvider(config, all);
            if (chosen.isEmpty()) {
                defaultUnavailability = noProviderReason(all);
                defaultFailure = new IllegalStateException(defaultUnavailability);
                LOG.log(Level.INFO, "splice4j: no splice provider, stock relaying stays in use: "
                        + defaultUnavailability);
                return;
            }
            SpliceProvider p = chosen.get();
            boolean hook = SpliceConfig.parseBoolean(SHUTDOWN_HOOK, System.getProperty(SHUTDOWN_HOOK), true);
            Splicer s = p.newSplicer(config);
            logStarted(s, config, all, p);
            defaultSplicer = s;
            if (hook && !shutdownHookRemoved) {
                defaultShutdownHook = new Thread(s::close, "splice4j-shutdown");
                Runtime.getRuntime().addShutdownHook(defaultShutdownHook);
            }
        } catch (RuntimeException e) {
            defaultUnavailability = e.getMessage();
            defaultFailure = e;
        }
    }

    /** The one INFO line a splicer gets when it starts: which provider, why not the others, its settings, its MBean. */
    private static void logStarted(Splicer s, SpliceConfig config, List<SpliceProvider> all, SpliceProvider p) {
        String settings = s instanceof AbstractSplicer<?> a ? a.summary() : config.toString();
        // A provider the config names was not chosen over the others: saying why they were not taken would mislead.
        LOG.log(Level.INFO, "splice4j: using provider " + p.name() + ": " + settings
                + (config.provider() == null ? othersNotTaken(all, p) : " (named by the configuration)"));
    }

    private static String othersNotTaken(List<SpliceProvider> all, SpliceProvider chosen) {
        StringBuilder sb = new StringBuilder();
        for (SpliceProvider p : all) {
            if (p.name().equals(chosen.name())) {
                continue;
            }
            String why = p.name().equals(COPY) ? "used only when named"
                    : p.unavailabilityCause().orElse("lower priority");
            sb.append("; ").append(p.name()).append(" not taken: ").append(why);
        }
        return sb.toString();
    }

    private static String noProviderReason(List<SpliceProvider> all) {
        StringBuilder sb = new StringBuilder("no splice provider is available (" + SpliceConfig.PROVIDER
                + " unset; copy is used only when named)");
        for (SpliceProvider p : all) {
            if (!p.name().equals(COPY)) {
                sb.append("; ").append(p.name()).append(": ").append(p.unavailabilityCause().orElse("available"));
            }
        }
        if (all.stream().allMatch(p -> p.name().equals(COPY))) {
            sb.append("; no provider other than copy is on the class path (add splice-linux)");
        }
        return sb.toString();
    }

    private static String names(List<SpliceProvider> all) {
        List<String> n = new ArrayList<>();
        for (SpliceProvider p : all) {
            n.add(p.name());
        }
        return n.toString();
    }
}
