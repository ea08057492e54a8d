package org.splice4j.spi;

import java.util.Optional;

/**
 * Relays bytes between pairs of connected sockets until both directions end.
 *
 * <p>All methods are safe to call from any thread. {@link #splice} never blocks on I/O: it checks and takes over the
 * endpoints and returns a running session. Completion stages and listeners never run on the splicer's own loop
 * threads, so they may block briefly or call {@link SpliceSession#cancel()}.
 *
 * <p>The splicer never closes the caller's sockets: when a session ends, the caller (the adapter) closes them through
 * its framework.
 */
public interface Splicer extends AutoCloseable {

    /** The name of the provider that made this splicer. */
    String providerName();

    /** Starts relaying between {@code a} and {@code b} with {@link SpliceOptions#defaults()}. */
    default SpliceSession splice(SpliceEndpoint a, SpliceEndpoint b) {
        return splice(a, b, SpliceOptions.defaults());
    }

    /**
     * Starts relaying between {@code a} and {@code b}.
     *
     * <p>First, each endpoint's already-read bytes are written to the other endpoint, in order; then the sockets are
     * relayed both ways until each direction reached end of stream (forwarded as a half-close), one side reset, the
     * idle timeout passed, or the session was cancelled.
     *
     * @throws IllegalArgumentException if an endpoint is of a kind this provider cannot serve (the caller then takes
     *                                  its stock path); nothing has been touched in that case
     * @throws IllegalStateException    if this splicer is closed
     */
    SpliceSession splice(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options);

    /**
     * Whether this splicer serves endpoints made with {@link SpliceEndpoint#ofDescriptor}: raw descriptors, as
     * Netty's epoll channels hand them over. The copy provider relays through {@code SocketChannel}s only.
     */
    default boolean servesDescriptors() {
        return false;
    }

    /**
     * Whether a session relays on the splicer's own duplicates of the sockets ({@code dup(2)}), never on the caller's
     * descriptors: the caller may then close its channel objects while the session runs (the connection stays open
     * through the duplicate until the session ends), and a descriptor number the caller frees and the kernel reuses
     * can never be spliced into. The copy provider relays through the caller's channels themselves.
     */
    default boolean relaysOnOwnDuplicates() {
        return false;
    }

    /** Whether this splicer can serve this endpoint kind at all: a raw descriptor only if it {@link #servesDescriptors}. */
    default boolean supports(SpliceEndpoint endpoint) {
        return !endpoint.isDescriptor() || servesDescriptors();
    }

    /**
     * Tells this splicer that a tunnel it could have relayed went another way, so that its figures, its Flight Recorder
     * events and its log show why: adapters call it when they keep their stock path ({@link SpliceFallback#NOT_ELIGIBLE})
     * or when {@link #splice} refused a tunnel ({@link SpliceFallback#PROVIDER_REFUSED}); providers call it for their
     * own fallbacks. Cheap, any thread, never throws.
     *
     * @param reason why
     * @param label  the tunnel's label, as {@link SpliceOptions#label()}
     * @param detail what an operator reads: the handler in the way, the exception; may be null
     */
    default void recordFallback(SpliceFallback reason, String label, String detail) {
    }

    /**
     * This splicer's figures, as JMX shows them ({@code org.splice4j:type=Splicer,name=...}), for a metrics binding
     * such as splice-micrometer's; empty for a splicer that keeps none (a test double).
     */
    default Optional<SplicerMXBean> statistics() {
        return Optional.empty();
    }

    void addListener(SpliceListener listener);

    void removeListener(SpliceListener listener);

    /**
     * Ends every session (outcome {@link SpliceResult.Outcome#CANCELLED}) and releases every pipe, buffer and thread.
     * Returns once that is done. Idempotent.
     */
    @Override
    void close();
}
