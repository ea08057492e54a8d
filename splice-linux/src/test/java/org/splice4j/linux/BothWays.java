package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/** One new session relaying {@code size} seeded bytes each way at once, every byte checked by SHA-256. */
final class BothWays {

    private BothWays() {
    }

    /** Relays and checks; returns the session's result. */
    static SpliceResult relay(Splicer splicer, ServerSocketChannel listener, long size, long seed) throws Exception {
        // Threads of its own: the common pool has a single thread on 2 cores, and these four block on each other.
        ExecutorService peers = Executors.newFixedThreadPool(4);
        try (Tunnel t = Tunnel.open(listener)) {
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            CompletableFuture<String> up = CompletableFuture.supplyAsync(() -> write(t.client, seed, size), peers);
            CompletableFuture<String> down = CompletableFuture.supplyAsync(() -> write(t.server, seed + 1, size),
                    peers);
            CompletableFuture<Streams.Received> atServer = CompletableFuture.supplyAsync(() -> read(t.server), peers);
            CompletableFuture<Streams.Received> atClient = CompletableFuture.supplyAsync(() -> read(t.client), peers);
            try {
                assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)),
                        atServer.get(60, TimeUnit.SECONDS));
                assertEquals(new Streams.Received(size, down.get(60, TimeUnit.SECONDS)),
                        atClient.get(60, TimeUnit.SECONDS));
                return s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("stalled: " + s, e);
            }
        } finally {
            peers.shutdownNow();
        }
    }

    private static String write(SocketChannel ch, long seed, long size) {
        try {
            return Streams.writeAndShutdown(ch, seed, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Streams.Received read(SocketChannel ch) {
        try {
            return Streams.readToEnd(ch);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
