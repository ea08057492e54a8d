package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
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
 * No garbage on the hot path: the heap the loop thread allocates while it relays 1 GiB each way, counted by the JVM
 * per thread ({@code ThreadMXBean}). Not a timing: a count, with a bound far above what a
 * garbage-free loop makes and far below one object per system call.
 */
class HotPathAllocationTest {

    @Test
    void relayingTwoGiBAllocatesAlmostNothingOnTheLoop() throws Exception {
        measure(SpliceConfig.defaults().withProvider("linux"), "spliced");
    }

    @Test
    void copyingTwoGiBWithoutPipesAllocatesAlmostNothingToo() throws Exception {
        measure(SpliceConfig.defaults().withProvider("linux").withMaxPipes(0), "copied (maxPipes=0)");
    }

    private static void measure(SpliceConfig config, String how) throws Exception {
        ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        long size = 1L << 30;
        ExecutorService pool = Peers.newPool("alloc-peer");
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(config);
             ServerSocketChannel listener = Tunnel.listen();
             Tunnel warm = Tunnel.open(listener); Tunnel t = Tunnel.open(listener)) {
            relay(splicer, warm, 64L << 20, pool); // the loop thread exists and its code is compiled
            long[] loops = loopThreadIds();
            long before = allocated(threads, loops);
            SpliceResult r = relay(splicer, t, size, pool);
            long allocated = allocated(threads, loops) - before;
            double perGiB = allocated / (2.0 * size / (1L << 30));
            System.out.printf("HotPathAllocationTest: %s: %d bytes allocated by the loop thread for 2 GiB relayed"
                    + " (%.0f bytes per GiB; %d spliced, %d copied)%n", how, allocated, perGiB, r.splicedBytes(),
                    r.copiedBytes());
            // One object per splice call would be over 1 MiB per GiB (64 KiB to 1 MiB per call, 32 bytes or more each).
            assertTrue(perGiB < 64 * 1024, "loop allocated " + perGiB + " bytes per GiB");
        } finally {
            pool.shutdownNow();
        }
    }

    private static SpliceResult relay(LinuxSplicer splicer, Tunnel t, long size, ExecutorService pool) throws Exception {
        SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
        Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, 1, size));
        Future<String> down = pool.submit(() -> Streams.writeAndShutdown(t.server, 2, size));
        Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
        Streams.Received atClient = Streams.readToEnd(t.client);
        assertEquals(new Streams.Received(size, up.get(120, TimeUnit.SECONDS)), atServer.get(120, TimeUnit.SECONDS));
        assertEquals(new Streams.Received(size, down.get(120, TimeUnit.SECONDS)), atClient);
        return s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    /** Every linux loop thread in this JVM (other test classes' splicers may be alive too: their share only adds). */
    private static long[] loopThreadIds() {
        long[] ids = Thread.getAllStackTraces().keySet().stream()
                .filter(th -> th.getName().startsWith("splice4j-linux-") && !th.getName().endsWith("-notifier"))
                .mapToLong(Thread::getId).toArray();
        assertTrue(ids.length > 0, "no loop thread");
        return ids;
    }

    private static long allocated(ThreadMXBean threads, long[] ids) {
        long sum = 0;
        for (long a : threads.getThreadAllocatedBytes(ids)) {
            sum += Math.max(0, a); // -1 for a thread that ended
        }
        return sum;
    }
}
