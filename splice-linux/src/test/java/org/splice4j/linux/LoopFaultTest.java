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
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.contract.Streams;
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

    /** 4 MiB each way through a new session, checked by SHA-256; returns its result. */
    private SpliceResult relayOnce(long seed) throws Exception {
        try (Tunnel t = Tunnel.open(listener)) {
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            CompletableFuture<String> up = CompletableFuture.supplyAsync(() -> write(t.client, seed));
            CompletableFuture<String> down = CompletableFuture.supplyAsync(() -> write(t.server, seed + 1));
            CompletableFuture<Streams.Received> atServer = CompletableFuture.supplyAsync(() -> read(t.server));
            assertEquals(new Streams.Received(4 << 20, up.get(60, TimeUnit.SECONDS)), atServer.get(60, TimeUnit.SECONDS));
            assertEquals(new Streams.Received(4 << 20, down.get(60, TimeUnit.SECONDS)), read(t.client));
            return s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
        }
    }

    private static String write(java.nio.channels.SocketChannel ch, long seed) {
        try {
            return Streams.writeAndShutdown(ch, seed, 4 << 20);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Streams.Received read(java.nio.channels.SocketChannel ch) {
        try {
            return Streams.readToEnd(ch);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
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
