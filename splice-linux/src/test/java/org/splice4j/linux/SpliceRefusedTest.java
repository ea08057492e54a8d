package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.contract.Tunnel;

/**
 * The kernel refusing splice for a socket (EINVAL, ENOSYS: never the case for TCP on this kernel, so injected through
 * {@link FaultInjection}): the session copies for the rest of its life, every byte intact, none spliced.
 */
class SpliceRefusedTest {

    private LinuxSplicer splicer;
    private ServerSocketChannel listener;

    @BeforeEach
    void start() throws IOException {
        Assumptions.assumeTrue(LinuxContractBase.IS_LINUX, "the linux provider exists only on Linux");
        splicer = (LinuxSplicer) new LinuxProvider().newSplicer(SpliceConfig.defaults());
        listener = Tunnel.listen();
    }

    @AfterEach
    void stop() throws IOException {
        FaultInjection.spliceFromSocketErrno = 0;
        if (splicer != null) {
            splicer.close();
            listener.close();
        }
    }

    @ParameterizedTest(name = "errno {0}")
    @ValueSource(ints = {Errno.EINVAL, Errno.ENOSYS})
    void aRefusedSpliceFallsBackToCopyingWithEveryByteIntact(int errno) throws Exception {
        FaultInjection.spliceFromSocketErrno = errno;
        long size = 16L << 20;
        SpliceResult r = BothWays.relay(splicer, listener, size, 5);
        assertEquals(SpliceResult.Outcome.COMPLETED, r.outcome(), r.toString());
        assertEquals(0, r.splicedBytes(), "the kernel refused every splice: " + r);
        assertTrue(r.copiedBytes() == 2 * size, r.toString());
        assertEquals(2, splicer.statistics().orElseThrow().getFallbacksSpliceRefused(), "once per direction");
    }
}
