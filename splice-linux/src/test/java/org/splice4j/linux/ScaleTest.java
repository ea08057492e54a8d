package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
 * Many tunnels at once: 10,000 idle sessions hold no pipes (and the heap each one takes is printed), 1,000 active
 * sessions relay correctly with fewer pipes than sessions (the rest copy through bounded buffers). Each tunnel is four
 * sockets in this JVM plus the provider's two dups, so the test first tries to raise its descriptor limit with
 * prlimit. Where it may not (a container whose root lacks CAP_SYS_RESOURCE, as on the project's CI machine with its
 * hard limit of 20,000), it runs as many tunnels as the limit allows and says so.
 */
class ScaleTest {

    private static final int IDLE = 10_000;
    private static final int ACTIVE = 1_000;

    @Test
    void tenThousandIdleSessionsHoldNoPipes() throws Exception {
        int idle = (int) Math.min(IDLE, (raiseDescriptorLimit(IDLE * 6 + 5_000) - 2_000) / 6);
        if (idle < IDLE) {
            System.out.printf("ScaleTest: the descriptor limit is %d and cannot be raised here: %d idle sessions"
                    + " instead of %d%n", openFilesLimit(), idle, IDLE);
        }
        assertTrue(idle >= 2_000, "too few descriptors for a scale test: " + openFilesLimit());
        List<Tunnel> tunnels = new ArrayList<>(idle);
        List<SpliceSession> sessions = new ArrayList<>(idle);
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             ServerSocketChannel listener = Tunnel.listen()) {
            for (int i = 0; i < idle; i++) {
                tunnels.add(Tunnel.open(listener));
            }
            long before = heapAfterGc();
            for (Tunnel t : tunnels) {
                sessions.add(splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB)));
            }
            // One byte through every tunnel, so each session has relayed before it idles.
            ByteBuffer one = ByteBuffer.allocate(1);
            for (Tunnel t : tunnels) {
                t.client.write(one.clear().put((byte) 7).flip());
                one.clear();
                while (one.hasRemaining()) {
                    if (t.server.read(one) < 0) {
                        throw new IOException("tunnel closed");
                    }
                }
                assertEquals(7, one.get(0));
            }
            long after = heapAfterGc();
            PipePool pipes = splicer.pipePool();
            int inUse = pipes.total() - pipes.pooled();
            System.out.printf("ScaleTest: %d idle sessions, %d bytes of heap each, pipes in use %d, open %d%n",
                    idle, (after - before) / idle, inUse, pipes.total());
            assertEquals(0, inUse, "an idle session holds no pipe");
            for (SpliceSession s : sessions) {
                assertTrue(s.bytesAToB() == 1 && s.bytesBToA() == 0, "each session relayed its byte");
            }
            for (SpliceSession s : sessions) {
                s.cancel();
            }
        } finally {
            for (Tunnel t : tunnels) {
                t.close();
            }
        }
    }

    @Test
    void aThousandActiveSessionsWithFewPipes() throws Exception {
        assertTrue(raiseDescriptorLimit(ACTIVE * 6 + 5_000) >= ACTIVE * 6 + 2_000, "too few descriptors");
        long size = 1 << 20;
        // Pipes are held only while bytes are in flight, so a few serve many sessions; a burst that finds none
        // copies through a bounded buffer (the PipeShortage contract variant mixes both on purpose).
        int maxPipes = ACTIVE / 40;
        ExecutorService pool = Peers.newPool("scale-peer");
        List<Tunnel> tunnels = new ArrayList<>(ACTIVE);
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux")
                .withMaxPipes(maxPipes));
             ServerSocketChannel listener = Tunnel.listen()) {
            List<SpliceSession> sessions = new ArrayList<>();
            for (int i = 0; i < ACTIVE; i++) {
                Tunnel t = Tunnel.open(listener);
                tunnels.add(t);
                sessions.add(splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB)));
            }
            List<Future<String>> sent = new ArrayList<>();
            List<Future<Streams.Received>> received = new ArrayList<>();
            for (int i = 0; i < ACTIVE; i++) {
                Tunnel t = tunnels.get(i);
                int seed = i;
                received.add(pool.submit(() -> Streams.readToEnd(t.server)));
                sent.add(pool.submit(() -> Streams.writeAndShutdown(t.client, seed, size)));
            }
            long spliced = 0;
            long copied = 0;
            for (int i = 0; i < ACTIVE; i++) {
                assertEquals(new Streams.Received(size, sent.get(i).get(120, TimeUnit.SECONDS)),
                        received.get(i).get(120, TimeUnit.SECONDS), "session " + i);
                tunnels.get(i).server.shutdownOutput();
            }
            for (SpliceSession s : sessions) {
                SpliceResult r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
                assertEquals(SpliceResult.Outcome.COMPLETED, r.outcome(), r.toString());
                spliced += r.splicedBytes();
                copied += r.copiedBytes();
            }
            System.out.printf("ScaleTest: %d active sessions, %d pipes at most: %d MiB spliced, %d MiB copied%n",
                    ACTIVE, maxPipes, spliced >> 20, copied >> 20);
            assertTrue(splicer.pipePool().total() <= maxPipes, "never more pipes than the cap");
            assertEquals(ACTIVE * size, spliced + copied);
        } finally {
            for (Tunnel t : tunnels) {
                t.close();
            }
            pool.shutdownNow();
        }
    }

    private static long heapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Raises this JVM's descriptor limit towards {@code needed} with prlimit where allowed; returns the limit. */
    static long raiseDescriptorLimit(int needed) throws Exception {
        if (openFilesLimit() < needed) {
            try {
                Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(ProcessHandle.current().pid()),
                        "--nofile=" + needed + ":" + needed).redirectErrorStream(true).start();
                p.getInputStream().readAllBytes(); // "Operation not permitted" without CAP_SYS_RESOURCE
                p.waitFor(30, TimeUnit.SECONDS);
            } catch (IOException noPrlimit) {
                // util-linux missing: keep the limit there is
            }
        }
        return openFilesLimit();
    }

    private static long openFilesLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
            }
        }
        return 0;
    }
}
