package org.splice4j.spi.copy;

/**
 * The copy provider's one test seam: a fault the JVM does not produce on demand, direct memory running out when a
 * direction takes a buffer. Never set outside tests.
 */
final class FaultInjection {

    /** When true, taking a copy buffer throws {@link OutOfMemoryError} as {@code allocateDirect} does. */
    static volatile boolean failBufferAllocation;

    private FaultInjection() {
    }
}
