package org.splice4j.spi.copy;

/** The copy provider's fault seam, reached from this module's tests (same package, on the class path). */
public final class CopyFaults {

    private CopyFaults() {
    }

    /** Makes every copy buffer allocation throw OutOfMemoryError, as a full direct memory does. */
    public static void failBufferAllocation(boolean fail) {
        FaultInjection.failBufferAllocation = fail;
    }
}
