package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
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
import org.splice4j.spi.contract.TestScale;
import org.splice4j.spi.contract.Tunnel;

/**
 * Many tunnels at once: idle sessions hold no pipes and four descriptors each (the heap each one takes is printed),
 * 1,000 active sessions relay correctly with fewer pipes than sessions (the rest copy through bounded buffers).
 *
 * <p>The idle tunnels' peers, clients and targets, run in a child JVM ({@link TunnelPeersChild}), so this JVM holds
 * what a proxy holds: per tunnel its two sockets and the provider's two dups. The test first tries to raise the
 * descriptor limit with prlimit (the child inherits it); where it may not (a container whose root lacks
 * CAP_SYS_RESOURCE, as on the project's CI machine with its hard limit of 20,000), it runs as many tunnels as the limit
 * allows, 4,500 there, and says so when that is fewer than asked. {@code -Dsplice4j.test.idleTunnels=N} asks for N,
 * {@code -Dsplice4j.test.scale=full} for 10,000.
 */
class ScaleTest {

    static final String IDLE_TUNNELS_PROPERTY = "splice4j.test.idleTunnels";
    /** What a hard limit of 20,000 holds at 4 descriptors a tunnel, with 2,000 left for the JVM's own. */
    private static final int IDLE = 4_500;
    private static final int IDLE_FULL = 10_000;
    private static final int ACTIVE = 1_000;

    @Test
    void idleSessionsHoldNoPipeAndFourDescriptorsEach() throws Exception {
        int wanted = Integer.getInteger(IDLE_TUNNELS_PROPERTY, TestScale.pick(IDLE, IDLE_FULL));
        long limit = raiseDescriptorLimit(wanted * 4 + 5_000); // before the child starts, so it inherits the limit
        List<SocketChannel> proxySide = new ArrayList<>();
        List<SpliceSession> sessions = new ArrayList<>();
        try (ServerSocketChannel clients = Tunnel.listen(); TunnelPeersChild peers = TunnelPeersChild.start()) {
            // This JVM: 4 descriptors a tunnel and 2,000 for its own; the peers' JVM: 2 a tunnel.
            int n = (int) Math.min(wanted, Math.min((limit - 2_000) / 4, (peers.openFilesLimit - 1_000) / 2));
            if (n < wanted) {
                System.out.printf("ScaleTest: the descriptor limit is %d here and %d in the peers' JVM and cannot be"
                        + " raised (4 descriptors a tunnel here, 2 there): %d idle tunnels instead of %d%n",
                        limit, peers.openFilesLimit, n, wanted);
            }
            assertTrue(n >= 2_000, "too few descriptors for a scale test: " + limit);
            OpenDescriptors start = OpenDescriptors.now();
            LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
            try {
                OpenDescriptors base = OpenDescriptors.now();
                clients.socket().setSoTimeout(30_000); // a child that died leaves no accept waiting forever
                peers.send("open " + clients.socket().getLocalPort() + " " + n);
                for (int i = 0; i < n; i++) {
                    // Lockstep with the child (TunnelPeersMain.open): client i, then our connection to target i.
                    SocketChannel a = clients.socket().accept().getChannel(); // ours: closed in the finally
                    proxySide.add(a);
                    SocketChannel b = SocketChannel.open(peers.targets); // ours: closed in the finally
                    proxySide.add(b);
                    for (SocketChannel c : new SocketChannel[] {a, b}) {
                        c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                        c.configureBlocking(false);
                    }
                }
                peers.expect("opened", 60);
                long before = heapAfterGc();
                for (int i = 0; i < n; i++) {
                    sessions.add(splicer.splice(SpliceEndpoint.of(proxySide.get(2 * i)),
                            SpliceEndpoint.of(proxySide.get(2 * i + 1))));
                }
                // One byte through every tunnel each way, checked by the child, so each session has relayed
                // before it idles.
                peers.command("ping", "ok", 120);
                long after = heapAfterGc(); // first: its collections give the loop time to return the last pipe
                OpenDescriptors idle = OpenDescriptors.now();
                PipePool pipes = splicer.pipePool();
                int inUse = pipes.total() - pipes.pooled();
                double perTunnel = (idle.total() - base.total()) / (double) n;
                System.out.printf("ScaleTest: %d idle sessions, %d bytes of heap each, %.3f descriptors per tunnel"
                        + " in this JVM (%.3f sockets; %d pipe descriptors, pipes open %d, in use %d)%n", n,
                        (after - before) / n, perTunnel, (idle.sockets() - base.sockets()) / (double) n,
                        idle.pipes() - base.pipes(), pipes.total(), inUse);
                assertEquals(0, inUse, "an idle session holds no pipe");
                assertTrue(perTunnel <= 4.05, "two sockets and two dups per tunnel, not " + perTunnel);
                peers.command("close", "closed", 120);
                for (SpliceSession s : sessions) {
                    SpliceResult r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
                    assertEquals(SpliceResult.Outcome.COMPLETED, r.outcome(), r.toString());
                    assertTrue(r.bytesAToB() == 1 && r.bytesBToA() == 1, "each session relayed its bytes: " + r);
                }
            } finally {
                for (SocketChannel c : proxySide) {
                    c.close();
                }
                splicer.close();
            }
            OpenDescriptors end = OpenDescriptors.now();
            assertEquals(start.sockets(), end.sockets(), "no socket left: " + start + " then " + end);
            assertEquals(start.pipes(), end.pipes(), "no pipe left: " + start + " then " + end);
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
