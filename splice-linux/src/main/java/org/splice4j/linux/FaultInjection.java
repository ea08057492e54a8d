package org.splice4j.linux;

/**
 * The one seam through which tests inject a fault the kernel does not produce on demand with real TCP sockets:
 * splice(2) from a socket refused with an errno (EINVAL or ENOSYS, which some socket types and old kernels return).
 * Never set outside tests; reading it costs one volatile read per splice call.
 */
final class FaultInjection {

    /** When not 0, every splice from a socket into a pipe fails with this errno instead of being made. */
    static volatile int spliceFromSocketErrno;

    private FaultInjection() {
    }
}
