package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import javax.management.MBeanServer;
import javax.management.ObjectName;

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
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
            ObjectName name = splicer.objectName();
            assertTrue(name.toString().startsWith("org.splice4j:type=Splicer,name=linux-"), name.toString());
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            long size = 32L << 20;
            Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, 7, size));
            Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
            t.server.shutdownOutput();
            assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)), atServer.get(60, TimeUnit.SECONDS));
            assertEquals(0, pool.submit(() -> Streams.readToEnd(t.client)).get(60, TimeUnit.SECONDS).bytes());
            SpliceResult r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
            assertTrue(r.splicedBytes() > 0, "a bulk stream is spliced: " + r);
            assertEquals(r.splicedBytes(), server.getAttribute(name, "SplicedBytes"));
            assertEquals(r.copiedBytes(), server.getAttribute(name, "CopiedBytes"));
            assertEquals(size, server.getAttribute(name, "BytesAToB"));
            long open = (Long) server.getAttribute(name, "PipesOpen");
            assertTrue(open >= 1 && open == (Long) server.getAttribute(name, "PipesPooled"),
                    "the bulk stream's pipe, back in the pool: " + open);
            assertTrue((Long) server.getAttribute(name, "SmallestPipeGranted") >= 4096);
            assertTrue((Long) server.getAttribute(name, "PipeGrowRefusals") >= 0);
        } finally {
            pool.shutdownNow();
        }
    }
}
