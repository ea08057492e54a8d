package org.splice4j.spi.copy;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.SpliceProviderContractTest;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The contract for the copy provider with 4 KiB buffers and two loops: many partial reads and writes. */
class CopyProviderSmallBufferContractTest extends SpliceProviderContractTest {

    @Override
    protected Splicer newSplicer() {
        return Splice.newSplicer(SpliceConfig.defaults().withProvider("copy").withCopyBufferSize(4096).withThreads(2));
    }

    @Override
    protected void checkBulkResult(SpliceResult result, long bytes) {
        assertEquals(0, result.splicedBytes(), "the copy provider never splices");
    }

    @Override
    protected boolean seesResetAfterEndOfStreamAtOnce() {
        return false; // see the javadoc: a JDK selector cannot watch a half-closed channel for errors only
    }
}
