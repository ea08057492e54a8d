package org.splice4j.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerMXBean;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;
import org.splice4j.spi.copy.CopyFaults;

/** The binder's meters read exactly what the splicer's MBean says, for the linux and the copy provider. */
class SplicerMetricsTest {

    @Test
    void theLinuxSplicersMetersMatchItsMBean() throws Exception {
        try (Splicer splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"))) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new SplicerMetrics(splicer).bindTo(registry);
            relay(splicer, 8L << 20);
            relay(splicer, 1000);
            splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, "tls", "SslHandler");
            SplicerMXBean m = splicer.statistics().orElseThrow();
            assertTrue(m.getSplicedBytes() > 0, "a bulk stream is spliced");
            assertMatches(registry, m);
            String name = m.getSplicerName();
            assertEquals(m.getPipesOpen(), gauge(registry, "splice4j.pipes.open", name));
            assertEquals(m.getSmallestPipeGranted(), gauge(registry, "splice4j.pipes.smallest.granted", name));
            assertEquals(m.getPipeBudget(), gauge(registry, "splice4j.pipes.budget", name));
            assertEquals(1.0, counter(registry, "splice4j.fallbacks", name, "reason", "not_eligible"));
        }
    }

    @Test
    void theCopySplicersMetersMatchItsMBeanErrorsIncluded() throws Exception {
        try (Splicer splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider(Splice.COPY))) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new SplicerMetrics(splicer).bindTo(registry);
            // Listeners run in the order they were added, after the session's future completed: this one, added
            // after the binder's, tells when the binder has seen the failed session.
            CountDownLatch failedSeen = new CountDownLatch(1);
            splicer.addListener(new SpliceListener() {
                @Override
                public void sessionEnded(SpliceSession session, SpliceResult result) {
                    if (result.outcome() == SpliceResult.Outcome.FAILED) {
                        failedSeen.countDown();
                    }
                }
            });
            relay(splicer, 3L << 20);
            SplicerMXBean m = splicer.statistics().orElseThrow();
            assertNull(registry.find("splice4j.pipes.open").gauge(), "the copy provider has no pipes");
            assertNull(registry.find("splice4j.pipes.budget").gauge(), "nor a budget for them");
            assertEquals(-1, m.getPipeBudget());
            // A failed session: its error's kind gets a counter of its own.
            SpliceResult failed;
            try (ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
                CopyFaults.failBufferAllocation(true);
                SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
                t.client.write(ByteBuffer.wrap(new byte[1000]));
                failed = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
            } finally {
                CopyFaults.failBufferAllocation(false);
            }
            assertEquals(SpliceResult.Outcome.FAILED, failed.outcome(), failed.toString());
            Map<String, Long> errors = m.getErrorsByKind();
            assertEquals(Map.of("OutOfMemoryError", 1L), errors);
            assertMatches(registry, m);
            assertTrue(failedSeen.await(60, TimeUnit.SECONDS));
            assertEquals(1.0, counter(registry, "splice4j.errors", m.getSplicerName(), "kind", "OutOfMemoryError"));
        }
    }

    private static void assertMatches(SimpleMeterRegistry registry, SplicerMXBean m) {
        String n = m.getSplicerName();
        assertEquals(m.getActiveSessions(), gauge(registry, "splice4j.sessions.active", n));
        assertEquals(m.getSessionsStarted(), counter(registry, "splice4j.sessions.started", n, null, null));
        assertEquals(m.getSessionsCompleted(), counter(registry, "splice4j.sessions.ended", n, "outcome", "completed"));
        assertEquals(m.getSessionsFailed(), counter(registry, "splice4j.sessions.ended", n, "outcome", "failed"));
        assertEquals(m.getSessionsCancelled(), counter(registry, "splice4j.sessions.ended", n, "outcome", "cancelled"));
        assertEquals(m.getBytesAToB(), counter(registry, "splice4j.bytes", n, "direction", "a_to_b"));
        assertEquals(m.getBytesBToA(), counter(registry, "splice4j.bytes", n, "direction", "b_to_a"));
        assertEquals(m.getSplicedBytes(), counter(registry, "splice4j.bytes.moved", n, "by", "kernel"));
        assertEquals(m.getCopiedBytes(), counter(registry, "splice4j.bytes.moved", n, "by", "copy"));
        assertEquals(m.getFallbacksNoPipe(), counter(registry, "splice4j.fallbacks", n, "reason", "no_pipe"));
    }

    private static double gauge(SimpleMeterRegistry registry, String meter, String splicer) {
        Gauge g = registry.find(meter).tag("splicer", splicer).gauge();
        assertNotNull(g, meter);
        return g.value();
    }

    private static double counter(SimpleMeterRegistry registry, String meter, String splicer, String tag,
                                  String value) {
        var search = registry.find(meter).tag("splicer", splicer);
        FunctionCounter c = (tag == null ? search : search.tag(tag, value)).functionCounter();
        assertNotNull(c, meter + " " + tag + "=" + value);
        return c.count();
    }

    /** One session, {@code size} bytes up and half as many down, checked by SHA-256. */
    private static void relay(Splicer splicer, long size) throws Exception {
        ExecutorService pool = Peers.newPool("metrics-peer");
        try (ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, 1, size));
            Future<String> down = pool.submit(() -> Streams.writeAndShutdown(t.server, 2, size / 2));
            Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
            Future<Streams.Received> atClient = pool.submit(() -> Streams.readToEnd(t.client));
            assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)), atServer.get(60, TimeUnit.SECONDS));
            assertEquals(new Streams.Received(size / 2, down.get(60, TimeUnit.SECONDS)),
                    atClient.get(60, TimeUnit.SECONDS));
            assertEquals(SpliceResult.Outcome.COMPLETED,
                    s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS).outcome());
        } finally {
            pool.shutdownNow();
        }
    }
}
