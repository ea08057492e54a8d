package org.splice4j.spi.copy;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.SpliceProviderContractTest;

/** The contract for the copy provider, at its default 1 MiB buffers. */
class CopyProviderContractTest extends SpliceProviderContractTest {

    @Override
    protected Splicer newSplicer() {
        return Splice.newSplicer(SpliceConfig.defaults().withProvider("copy"));
    }

    @Override
    protected boolean seesResetAfterEndOfStreamAtOnce() {
        return false; // see the javadoc: a JDK selector cannot watch a half-closed channel for errors only
    }
}
