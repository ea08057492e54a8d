package org.splice4j.spi;

import java.util.Map;

/**
 * What one splicer has relayed, as JMX shows it: {@code org.splice4j:type=Splicer,name=PROVIDER-N}, registered in
 * the platform MBean server when the splicer is made and unregistered when it is closed, so JConsole, VisualVM and
 * any JMX exporter see it. Spliced sessions are invisible to a framework's own byte counters: these are the figures
 * to watch.
 *
 * <p>Byte figures count sessions that ended; {@link #getActiveSessions()} those running now. Figures a provider does
 * not have are -1 (the copy provider has no pipes).
 */
public interface SplicerMXBean {

    /** This splicer's name, {@code PROVIDER-N}: the {@code name} key of its MBean, and of its events and log lines. */
    String getSplicerName();

    /** The provider, {@code linux} or {@code copy}. */
    String getProviderName();

    /** Sessions running now. */
    long getActiveSessions();

    /** Sessions started since the splicer was made. */
    long getSessionsStarted();

    /** Sessions that ended with both directions at end of stream. */
    long getSessionsCompleted();

    /** Bounded sessions that relayed exactly their bounds and gave both sockets back. */
    long getSessionsBoundsReached();

    /** Sessions a peer reset. */
    long getSessionsReset();

    /** Sessions ended by their idle timeout. */
    long getSessionsIdleTimedOut();

    /** Sessions cancelled (their owner closed a socket, or the splicer was closed). */
    long getSessionsCancelled();

    /** Sessions that failed (a system call's error, a provider's fault). */
    long getSessionsFailed();

    /** Bytes from A to B, of the sessions that ended. */
    long getBytesAToB();

    /** Bytes from B to A, of the sessions that ended. */
    long getBytesBToA();

    /** Of those, bytes the kernel moved with splice(2). */
    long getSplicedBytes();

    /** Of those, bytes copied through user space (small messages, fallbacks, the copy provider). */
    long getCopiedBytes();

    /** Tunnels an adapter kept on its stock path because splicing cannot serve them ({@link SpliceFallback#NOT_ELIGIBLE}). */
    long getFallbacksNotEligible();

    /** Tunnels this splicer refused when handed them, relayed the stock way ({@link SpliceFallback#PROVIDER_REFUSED}). */
    long getFallbacksProviderRefused();

    /** Directions that copied for want of a pipe ({@link SpliceFallback#NO_PIPE}). */
    long getFallbacksNoPipe();

    /** Directions that copied because the kernel refused splice for a socket ({@link SpliceFallback#SPLICE_REFUSED}). */
    long getFallbacksSpliceRefused();

    /**
     * Failed sessions by the kind of their error: the failing system call and its error ({@code "splice: Broken
     * pipe"}) for the linux provider, the exception's simple class name otherwise ({@code "OutOfMemoryError"}). At
     * most 64 kinds; later ones count under {@code "other"}.
     */
    Map<String, Long> getErrorsByKind();

    /** Pipes open now, pooled or in use; -1 without pipes. */
    long getPipesOpen();

    /** Pipes pooled, empty, ready for the next burst; -1 without pipes. */
    long getPipesPooled();

    /** The smallest size the kernel granted a new pipe, in bytes (two pages past a user's pipe limit); -1 if none. */
    long getSmallestPipeGranted();

    /** Times the kernel refused to grow a pipe (a user's pipe limit); -1 without pipes. */
    long getPipeGrowRefusals();

    /**
     * The bytes all pipes together are kept within, where the kernel's per-user pipe limit applies to this process
     * (3/4 of {@code pipe-user-pages-soft}); -1 where it does not, and without pipes.
     */
    long getPipeBudget();
}
