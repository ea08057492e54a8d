package org.splice4j.spi.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.junit.jupiter.api.Test;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/**
 * A splicer's MBean, read through the platform MBean server as JConsole would: registered when the splicer is made,
 * its figures the sum of the results its sessions ended with, gone when the splicer is closed.
 */
class SplicerMXBeanTest {

    @Test
    void theFiguresAreTheSumOfTheResults() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ExecutorService pool = Peers.newPool("mxbean-peer");
        ObjectName name;
        try (AbstractSplicer<?> splicer = (AbstractSplicer<?>) Splice.newSplicer(
                SpliceConfig.defaults().withProvider(Splice.COPY));
             ServerSocketChannel listener = Tunnel.listen()) {
            name = splicer.objectName();
            assertNotNull(name, "registered");
            assertTrue(server.isRegistered(name));
            assertTrue(name.toString().startsWith("org.splice4j:type=Splicer,name=copy-"), name.toString());
            List<SpliceResult> results = new ArrayList<>();
            long[] sizes = {1, 70_000, 3L << 20};
            for (int i = 0; i < sizes.length; i++) {
                try (Tunnel t = Tunnel.open(listener)) {
                    SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
                    long size = sizes[i];
                    long seed = i;
                    Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, seed, size));
                    Future<String> down = pool.submit(() -> Streams.writeAndShutdown(t.server, seed + 100, size / 2));
                    Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
                    Future<Streams.Received> atClient = pool.submit(() -> Streams.readToEnd(t.client));
                    assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)),
                            atServer.get(60, TimeUnit.SECONDS));
                    assertEquals(new Streams.Received(size / 2, down.get(60, TimeUnit.SECONDS)),
                            atClient.get(60, TimeUnit.SECONDS));
                    results.add(s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS));
                }
            }
            try (Tunnel t = Tunnel.open(listener)) {
                SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
                assertEquals(1L, server.getAttribute(name, "ActiveSessions"));
                s.cancel();
                results.add(s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS));
            }
            assertEquals(4L, server.getAttribute(name, "SessionsStarted"));
            assertEquals(0L, server.getAttribute(name, "ActiveSessions"));
            assertEquals(count(results, Outcome.COMPLETED), server.getAttribute(name, "SessionsCompleted"));
            assertEquals(count(results, Outcome.CANCELLED), server.getAttribute(name, "SessionsCancelled"));
            assertEquals(0L, server.getAttribute(name, "SessionsReset"));
            assertEquals(0L, server.getAttribute(name, "SessionsFailed"));
            assertEquals(0L, server.getAttribute(name, "SessionsIdleTimedOut"));
            assertEquals(results.stream().mapToLong(SpliceResult::bytesAToB).sum(),
                    server.getAttribute(name, "BytesAToB"));
            assertEquals(results.stream().mapToLong(SpliceResult::bytesBToA).sum(),
                    server.getAttribute(name, "BytesBToA"));
            assertEquals(results.stream().mapToLong(SpliceResult::copiedBytes).sum(),
                    server.getAttribute(name, "CopiedBytes"));
            assertEquals(0L, server.getAttribute(name, "SplicedBytes"));
            assertEquals(-1L, server.getAttribute(name, "PipesOpen"), "the copy provider has no pipes");
            assertEquals("copy", server.getAttribute(name, "ProviderName"));
        } finally {
            pool.shutdownNow();
        }
        assertFalse(server.isRegistered(name), "unregistered on close");
    }

    @Test
    void fallbacksAreCountedByReason() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try (AbstractSplicer<?> splicer = (AbstractSplicer<?>) Splice.newSplicer(
                SpliceConfig.defaults().withProvider(Splice.COPY))) {
            ObjectName name = splicer.objectName();
            splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, "t1", "TLS");
            splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, "t2", null);
            splicer.recordFallback(SpliceFallback.NO_PIPE, "t3", "no pipe");
            assertEquals(2L, server.getAttribute(name, "FallbacksNotEligible"));
            assertEquals(1L, server.getAttribute(name, "FallbacksNoPipe"));
            assertEquals(0L, server.getAttribute(name, "FallbacksSpliceRefused"));
            assertEquals(0L, server.getAttribute(name, "FallbacksProviderRefused"));
            assertEquals(splicer.statistics().orElseThrow().getFallbacksNotEligible(), 2L);
        }
    }

    /** The adapters take a refusal as their cue to relay the stock way: it is counted as a fallback. */
    @Test
    void aRefusedTunnelIsAFallback() throws Exception {
        try (AbstractSplicer<?> splicer = (AbstractSplicer<?>) Splice.newSplicer(
                SpliceConfig.defaults().withProvider(Splice.COPY));
             ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
            // The copy provider relays SocketChannels only, never a raw descriptor.
            assertThrows(IllegalArgumentException.class,
                    () -> splicer.splice(SpliceEndpoint.ofDescriptor(0, null), SpliceEndpoint.of(t.proxyB)));
            assertEquals(1L, splicer.statistics().orElseThrow().getFallbacksProviderRefused());
            assertEquals(0L, splicer.statistics().orElseThrow().getSessionsStarted());
        }
    }

    private static long count(List<SpliceResult> results, Outcome o) {
        return results.stream().filter(r -> r.outcome() == o).count();
    }
}
