package org.splice4j.spi.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/**
 * A JDK Flight Recorder recording taken while sessions run holds one {@code org.splice4j.Session} event per session,
 * with the bytes its result says, and one {@code org.splice4j.Fallback} event per fallback.
 */
class FlightRecorderEventsTest {

    @Test
    void oneSessionEventPerSessionWithItsBytes(@TempDir Path dir) throws Exception {
        ExecutorService pool = Peers.newPool("jfr-peer");
        Map<String, SpliceResult> results = new HashMap<>();
        Path file = dir.resolve("splice4j.jfr");
        try (Recording recording = new Recording();
             AbstractSplicer<?> splicer = (AbstractSplicer<?>) Splice.newSplicer(
                     SpliceConfig.defaults().withProvider(Splice.COPY));
             ServerSocketChannel listener = Tunnel.listen()) {
            recording.enable("org.splice4j.Session");
            recording.enable("org.splice4j.Fallback");
            recording.start();
            long[] sizes = {1, 70_000, 2L << 20};
            for (int i = 0; i < sizes.length; i++) {
                try (Tunnel t = Tunnel.open(listener)) {
                    String label = "jfr-" + i;
                    SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB),
                            SpliceOptions.defaults().withLabel(label));
                    long size = sizes[i];
                    long seed = i;
                    Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, seed, size));
                    Future<String> down = pool.submit(() -> Streams.writeAndShutdown(t.server, seed + 9, size / 3));
                    Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
                    Future<Streams.Received> atClient = pool.submit(() -> Streams.readToEnd(t.client));
                    assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)),
                            atServer.get(60, TimeUnit.SECONDS));
                    assertEquals(new Streams.Received(size / 3, down.get(60, TimeUnit.SECONDS)),
                            atClient.get(60, TimeUnit.SECONDS));
                    results.put(label, s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS));
                }
            }
            splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, "jfr-tls", "io.netty.handler.ssl.SslHandler");
            recording.stop();
            recording.dump(file);
        } finally {
            pool.shutdownNow();
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        Map<String, RecordedEvent> sessions = events.stream()
                .filter(e -> e.getEventType().getName().equals("org.splice4j.Session"))
                .filter(e -> e.getString("label").startsWith("jfr-"))
                .collect(Collectors.toMap(e -> e.getString("label"), e -> e));
        assertEquals(results.keySet(), sessions.keySet(), "one event per session");
        for (Map.Entry<String, SpliceResult> r : results.entrySet()) {
            RecordedEvent e = sessions.get(r.getKey());
            SpliceResult result = r.getValue();
            assertEquals(result.bytesAToB(), e.getLong("bytesAToB"), r.getKey());
            assertEquals(result.bytesBToA(), e.getLong("bytesBToA"), r.getKey());
            assertEquals(result.copiedBytes(), e.getLong("copiedBytes"), r.getKey());
            assertEquals(result.splicedBytes(), e.getLong("splicedBytes"), r.getKey());
            assertEquals("COMPLETED", e.getString("outcome"));
            assertTrue(e.getDuration("sessionDuration").toNanos() > 0, "a duration");
            assertNotNull(e.getString("endpointA"));
            assertTrue(e.getString("endpointB").startsWith("127.0.0.1:"), e.getString("endpointB"));
            assertTrue(e.getString("splicer").startsWith("copy-"), e.getString("splicer"));
        }
        List<RecordedEvent> fallbacks = events.stream()
                .filter(e -> e.getEventType().getName().equals("org.splice4j.Fallback"))
                .filter(e -> "jfr-tls".equals(e.getString("label")))
                .collect(Collectors.toList());
        assertEquals(1, fallbacks.size(), "one fallback event");
        assertEquals("NOT_ELIGIBLE", fallbacks.get(0).getString("reason"));
        assertEquals("io.netty.handler.ssl.SslHandler", fallbacks.get(0).getString("detail"));
    }
}
