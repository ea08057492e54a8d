package org.splice4j.linux;

import org.splice4j.spi.SpliceConfig;

/** Two epoll loop threads, sessions spread over both. */
class LinuxTwoLoopsContractTest extends LinuxContractBase {
    @Override
    protected SpliceConfig config() {
        return SpliceConfig.defaults().withThreads(2);
    }
}
