package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.contract.Tunnel;

/**
 * A relay loop under faults the kernel cannot produce on demand, injected through the loop's own task queue (the seam
 * is {@code LinuxSplicer.loops()}): an Error thrown on the loop thread must not stop it, and a loop that stopped all
 * the same is replaced, so later sessions are relayed instead of ending as cancelled.
 */
class LoopFaultTest {

    private LinuxSplicer splicer;
    private ServerSocketChannel listener;

    @BeforeEach
    void start() throws IOException {
        Assumptions.assumeTrue(LinuxContractBase.IS_LINUX, "the linux provider exists only on Linux");
        splicer = (LinuxSplicer) new LinuxProvider().newSplicer(SpliceConfig.defaults().withThreads(1));
        listener = Tunnel.listen();
    }

    @AfterEach
    void stop() throws IOException {
        if (splicer != null) {
            splicer.close();
            listener.close();
        }
    }

    private SpliceResult relayOnce(long seed) throws Exception {
        return BothWays.relay(splicer, listener, 4 << 20, seed);
    }

    @Test
    void anErrorThrownOnTheLoopThreadDoesNotStopIt() throws Exception {
        for (Error e : new Error[] {new OutOfMemoryError("injected"), new StackOverflowError("injected")}) {
            CompletableFuture<Void> thrown = new CompletableFuture<>();
            splicer.loops().get(0).execute(() -> {
                thrown.complete(null);
                throw e;
            });
            thrown.get(10, TimeUnit.SECONDS);
            assertEquals(SpliceResult.Outcome.COMPLETED, relayOnce(1).outcome(), "after " + e);
        }
    }

    @Test
    void aLoopThatStoppedIsReplacedForLaterSessions() throws Exception {
        splicer.loops().get(0).stop(); // as if its thread had ended
        assertEquals(SpliceResult.Outcome.COMPLETED, relayOnce(3).outcome());
    }
}
