package org.splice4j.linux;

import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.Tunnel;

/**
 * Run as an unprivileged user by {@link ShrunkPipesTest}: first uses up the user's pipe allowance
 * ({@code /proc/sys/fs/pipe-user-pages-soft}) with pipes of its own, so that every pipe the provider then makes gets
 * two pages and may not grow; then relays bulk sessions both ways and checks what arrived. Prints one line starting
 * with {@code OK} and the figures, or fails with a non-zero status.
 */
public final class ShrunkPipesMain {

    private static final int F_SETPIPE_SZ = 1031;
    private static final int F_GETPIPE_SZ = 1032;
    private static final long SIZE = 16L << 20;
    private static final int SESSIONS = 8;

    private ShrunkPipesMain() {
    }

    public static void main(String[] args) throws Exception {
        // Hog the allowance: 1 MiB pipes until the kernel refuses to grow one (bounded).
        int hogs = 0;
        for (int i = 0; i < 10_000; i++) {
            int[] fds = new int[2];
            if (LibC.pipe2(fds, 0x80000) < 0) {
                throw new IllegalStateException("pipe2 failed while hogging, errno " + Errno.last());
            }
            hogs++;
            if (LibC.fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) < 0) {
                break; // past pipe-user-pages-soft: EPERM
            }
        }
        int[] probe = new int[2];
        LibC.pipe2(probe, 0x80000);
        int fresh = LibC.fcntl(probe[1], F_GETPIPE_SZ, 0);

        ExecutorService pool = Peers.newPool("shrunk");
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux")
                .withMaxPipes(SESSIONS * 2).withPipeSize(1 << 20));
             ServerSocketChannel listener = Tunnel.listen()) {
            List<Future<String>> checks = new ArrayList<>();
            for (int i = 0; i < SESSIONS; i++) {
                int seed = i;
                checks.add(pool.submit(() -> {
                    try (Tunnel t = Tunnel.open(listener)) {
                        SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
                        Future<String> up = pool.submit(() -> Streams.writeAndShutdown(t.client, seed, SIZE));
                        Future<String> down = pool.submit(() -> Streams.writeAndShutdown(t.server, seed + 100, SIZE));
                        Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
                        Streams.Received atClient = Streams.readToEnd(t.client);
                        if (!atServer.get(60, TimeUnit.SECONDS).equals(new Streams.Received(SIZE, up.get()))
                                || !atClient.equals(new Streams.Received(SIZE, down.get()))) {
                            throw new AssertionError("session " + seed + ": bytes differ");
                        }
                        SpliceResult r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
                        if (r.outcome() != SpliceResult.Outcome.COMPLETED) {
                            throw new AssertionError("session " + seed + ": " + r);
                        }
                        return r.splicedBytes() + " " + r.copiedBytes();
                    }
                }));
            }
            long spliced = 0;
            for (Future<String> f : checks) {
                spliced += Long.parseLong(f.get(120, TimeUnit.SECONDS).split(" ")[0]);
            }
            System.out.println("OK hogs=" + hogs + " fresh=" + fresh
                    + " smallestGranted=" + splicer.pipePool().smallestGranted()
                    + " growRefusals=" + splicer.pipePool().growRefusals() + " spliced=" + spliced);
        } finally {
            pool.shutdownNow();
        }
    }
}
