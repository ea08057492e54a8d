package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/**
 * Splice-auto: small interactive messages are copied (a read and a write, no pipe), bulk streams spliced, and a
 * direction goes back to copying when its traffic turns small again.
 */
class SpliceAutoTest {

    private static final int MiB = 1 << 20;

    @Test
    void smallMessagesAreCopiedBulkIsSplicedAndSmallIsCopiedAgain() throws Exception {
        ExecutorService pool = Peers.newPool("auto-peer");
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             ServerSocketChannel listener = Tunnel.listen(); Tunnel t = Tunnel.open(listener)) {
            SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
            pingPong(t, 100, 1);
            // Bulk one way: 16 MiB client to server.
            Future<Streams.Received> got = pool.submit(() -> Streams.readExactlyDigest(t.server, 16 * MiB));
            String sent = Streams.write(t.client, 7, 16 * MiB);
            assertEquals(new Streams.Received(16 * MiB, sent), got.get(60, TimeUnit.SECONDS));
            pingPong(t, 100, 2);
            t.client.shutdownOutput();
            t.server.shutdownOutput();
            SpliceResult r = s.completion().toCompletableFuture().get(30, TimeUnit.SECONDS);
            long small = 2 * 100 * 64 * 2; // two rounds of 100 ping-pongs, 64 bytes each way
            assertEquals(16L * MiB + small, r.splicedBytes() + r.copiedBytes(), r.toString());
            assertTrue(r.splicedBytes() >= 15L * MiB, "the bulk stream was spliced: " + r);
            // Copied: every small message but, at most, the two small splices it takes to switch back.
            assertTrue(r.copiedBytes() >= small - 2 * 64, "small messages were copied: " + r);
            assertTrue(splicer.pipePool().total() <= 2, "pipes only for the bulk stream: " + splicer.pipePool().total());
        } finally {
            pool.shutdownNow();
        }
    }

    /** {@code n} round trips of 64 bytes: client to server, then back. */
    private static void pingPong(Tunnel t, int n, long seed) throws Exception {
        for (int i = 0; i < n; i++) {
            byte[] ping = Streams.randomBytes(seed * 1000 + i, 64);
            t.client.write(ByteBuffer.wrap(ping));
            assertArrayEquals(ping, Streams.readExactly(t.server, 64));
            t.server.write(ByteBuffer.wrap(ping));
            assertArrayEquals(ping, Streams.readExactly(t.client, 64));
        }
    }
}
