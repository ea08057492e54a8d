package org.splice4j.spi;

/**
 * Why bytes that could have been spliced went through user space, or a tunnel went its framework's stock way. Every
 * fallback is counted by the splicer's {@link SplicerMXBean}, recorded as a JDK Flight Recorder event
 * ({@code org.splice4j.Fallback}) and logged at INFO, at most once a minute per reason.
 */
public enum SpliceFallback {

    /**
     * An adapter kept its stock path for a tunnel that splicing cannot serve: TLS or another codec in the pipeline,
     * a channel that is not a plain TCP socket, a transport the provider does not serve. Reported by the adapters.
     */
    NOT_ELIGIBLE,

    /**
     * The splicer was handed a tunnel's sockets and refused them ({@link Splicer#splice} threw: no descriptor left
     * for its duplicates, a socket closed meanwhile, an endpoint kind it does not serve); the adapter relayed the
     * stock way. A closed splicer's refusals are not counted: its figures are gone with it.
     */
    PROVIDER_REFUSED,

    /**
     * A direction of a session copied through user space because no pipe was to be had: the pool's cap was reached,
     * or the kernel refused a pipe (no descriptor left, a user's pipe limit). Counted once per direction.
     */
    NO_PIPE,

    /**
     * The kernel refused {@code splice(2)} for a socket ({@code EINVAL}, {@code ENOSYS}): that direction copies for
     * the rest of its session. Counted once per direction.
     */
    SPLICE_REFUSED
}
