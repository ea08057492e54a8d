package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

import org.junit.jupiter.api.Test;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/** The linux splicer's MBean: what the kernel spliced, and its pipes, as JMX shows them. */
class LinuxSplicerMXBeanTest {

    @Test
    void splicedBytesAndPipesShowInJmx() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ExecutorService pool = Peers.newPool("linux-mxbean-peer");
        Path file = Files.createTempFile("splice4j-linux", ".jfr");
        SpliceResult r;
        try (Recording recording = new Recording();
             LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
            recording.enable("org.splice4j.Session");
            recording.start();
            ObjectName name = splicer.objectName();
            assertTrue(name.toString().startsWith("org.splice4j:type=Splicer,name=linux-"), name.toString());
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            long size = 32L << 20;
            Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, 7, size));
            Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
            t.server.shutdownOutput();
            assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)), atServer.get(60, TimeUnit.SECONDS));
            assertEquals(0, pool.submit(() -> Streams.readToEnd(t.client)).get(60, TimeUnit.SECONDS).bytes());
            r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
            recording.stop();
            recording.dump(file);
            assertTrue(r.splicedBytes() > 0, "a bulk stream is spliced: " + r);
            assertEquals(r.splicedBytes(), server.getAttribute(name, "SplicedBytes"));
            assertEquals(r.copiedBytes(), server.getAttribute(name, "CopiedBytes"));
            assertEquals(size, server.getAttribute(name, "BytesAToB"));
            long open = (Long) server.getAttribute(name, "PipesOpen");
            assertTrue(open >= 1 && open == (Long) server.getAttribute(name, "PipesPooled"),
                    "the bulk stream's pipe, back in the pool: " + open);
            assertTrue((Long) server.getAttribute(name, "SmallestPipeGranted") >= 4096);
            assertTrue((Long) server.getAttribute(name, "PipeGrowRefusals") >= 0);
            assertEquals(splicer.pipePool().budget(), server.getAttribute(name, "PipeBudget"),
                    "-1 where the per-user pipe limit spares this process (root with CAP_SYS_ADMIN), else the budget");
        } finally {
            pool.shutdownNow();
        }
        try {
            List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().equals("org.splice4j.Session")).toList();
            assertEquals(1, events.size(), "one session event: " + events);
            RecordedEvent e = events.get(0);
            assertEquals(r.splicedBytes(), e.getLong("splicedBytes"));
            assertEquals(r.copiedBytes(), e.getLong("copiedBytes"));
            assertEquals(r.bytesAToB(), e.getLong("bytesAToB"));
            assertEquals("COMPLETED", e.getString("outcome"));
        } finally {
            Files.delete(file);
        }
    }

    /** With no pipe to be had every direction copies, and says so once; a failed session counts by its error. */
    @Test
    void fallbacksAndErrorsByKind() throws Exception {
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(
                SpliceConfig.defaults().withProvider("linux").withMaxPipes(0));
             ServerSocketChannel listener = Tunnel.listen()) {
            SpliceResult r = BothWays.relay(splicer, listener, 8L << 20, 3);
            assertEquals(0, r.splicedBytes(), r.toString());
            assertEquals(2, splicer.statistics().orElseThrow().getFallbacksNoPipe(), "once per direction");
        }
        ExecutorService pool = Peers.newPool("linux-mxbean-fail");
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
            FaultInjection.spliceFromSocketErrno = Errno.ENOMEM;
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            pool.submit(() -> Streams.writeAndShutdown(t.client, 1, 8L << 20)); // bulk: splice is tried, and fails
            SpliceResult r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertEquals(SpliceResult.Outcome.FAILED, r.outcome(), r.toString());
            Map<String, Long> errors = splicer.statistics().orElseThrow().getErrorsByKind();
            assertEquals(1, errors.size(), errors.toString());
            assertTrue(errors.keySet().iterator().next().startsWith("splice: "), errors.toString());
            assertEquals(1L, ManagementFactory.getPlatformMBeanServer().getAttribute(splicer.objectName(),
                    "SessionsFailed"));
        } finally {
            FaultInjection.spliceFromSocketErrno = 0;
            pool.shutdownNow();
        }
    }
}
