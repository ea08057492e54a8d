package org.splice4j.linux;

import org.splice4j.spi.SpliceConfig;

/** {@code maxPipes=0}: no pipe is ever free, so every byte takes the copy fallback. */
class LinuxNoPipesContractTest extends LinuxContractBase {
    @Override
    protected SpliceConfig config() {
        return SpliceConfig.defaults().withMaxPipes(0);
    }
}
