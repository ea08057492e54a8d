package org.splice4j.spi.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/**
 * Direct memory running out when a session starts (injected through {@link FaultInjection}): the session, already
 * registered with its loop, ends as FAILED instead of staying registered and never completing; the loop goes on.
 */
class CopyFaultTest {

    private Splicer splicer;
    private ServerSocketChannel listener;

    @BeforeEach
    void start() throws IOException {
        splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider("copy"));
        listener = Tunnel.listen();
    }

    @AfterEach
    void stop() throws IOException {
        FaultInjection.failBufferAllocation = false;
        splicer.close();
        listener.close();
    }

    @Test
    void anOutOfMemoryErrorWhileRegisteringEndsTheSessionAsFailed() throws Exception {
        try (Tunnel t = Tunnel.open(listener)) {
            FaultInjection.failBufferAllocation = true;
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            SpliceResult r = s.completion().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(SpliceResult.Outcome.FAILED, r.outcome(), r.toString());
            assertEquals(OutOfMemoryError.class, r.cause().orElseThrow().getClass());
        }
        FaultInjection.failBufferAllocation = false;
        try (Tunnel t = Tunnel.open(listener)) {
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            String sent = Streams.writeAndShutdown(t.client, 3, 1 << 20);
            assertEquals(new Streams.Received(1 << 20, sent), Streams.readToEnd(t.server));
            t.server.shutdownOutput();
            assertEquals(0, Streams.readToEnd(t.client).bytes());
            assertEquals(SpliceResult.Outcome.COMPLETED,
                    s.completion().toCompletableFuture().get(30, TimeUnit.SECONDS).outcome());
        }
    }
}
