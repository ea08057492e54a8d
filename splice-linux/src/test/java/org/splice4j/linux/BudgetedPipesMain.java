package org.splice4j.linux;

import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
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
 * Run as an unprivileged user by {@link BudgetedPipesTest}, with the user's whole pipe allowance
 * ({@code pipe-user-pages-soft}) free: for each count given, a new splicer (pipeSize 1 MiB) relays that many bulk
 * sessions at once, one way, all connected before the first byte flows, to a destination with small socket buffers,
 * and checks what arrived. Prints one line per
 * count, starting with {@code OK} and the pool's figures, or fails with a non-zero status.
 */
public final class BudgetedPipesMain {

    /** Small enough that a pipe fills faster than the destination takes it (16 KiB: 64 to ~120 pipes at once). */
    private static final int SMALL_BUFFER = 16 * 1024;

    private BudgetedPipesMain() {
    }

    /** Arguments: the bytes each session relays, then the session counts. */
    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        for (int i = 1; i < args.length; i++) {
            run(Integer.parseInt(args[i]), size);
        }
    }

    private static void run(int sessions, long size) throws Exception {
        ExecutorService pool = Peers.newPool("budgeted");
        try (LinuxSplicer splicer = (LinuxSplicer) Splice.newSplicer(SpliceConfig.defaults().withProvider("linux")
                .withPipeSize(1 << 20));
             ServerSocketChannel listener = Tunnel.listen()) {
            CountDownLatch connected = new CountDownLatch(sessions);
            List<Future<Long>> checks = new ArrayList<>();
            for (int i = 0; i < sessions; i++) {
                int seed = i;
                checks.add(pool.submit(() -> {
                    try (Tunnel t = Tunnel.open(listener)) {
                        // A slow destination, as a proxy's clients are: its small buffers fill, so the proxy's pipe
                        // holds the bytes and stays borrowed, and the sessions' pipes are in use all at once.
                        t.proxyB.setOption(StandardSocketOptions.SO_SNDBUF, SMALL_BUFFER);
                        t.server.setOption(StandardSocketOptions.SO_RCVBUF, SMALL_BUFFER);
                        SpliceSession s = splicer.splice(SpliceEndpoint.of(t.proxyA), SpliceEndpoint.of(t.proxyB));
                        t.server.shutdownOutput(); // one way: the server sends nothing
                        Future<Streams.Received> atServer = pool.submit(() -> Streams.readToEnd(t.server));
                        connected.countDown();
                        if (!connected.await(60, TimeUnit.SECONDS)) {
                            throw new AssertionError("the sessions did not all connect");
                        }
                        String sent = Streams.writeAndShutdown(t.client, seed, size);
                        if (!atServer.get(60, TimeUnit.SECONDS).equals(new Streams.Received(size, sent))) {
                            throw new AssertionError("session " + seed + ": bytes differ");
                        }
                        if (Streams.readToEnd(t.client).bytes() != 0) {
                            throw new AssertionError("session " + seed + ": bytes from a silent server");
                        }
                        SpliceResult r = s.completion().toCompletableFuture().get(60, TimeUnit.SECONDS);
                        if (r.outcome() != SpliceResult.Outcome.COMPLETED) {
                            throw new AssertionError("session " + seed + ": " + r);
                        }
                        return r.splicedBytes();
                    }
                }));
            }
            long spliced = 0;
            for (Future<Long> f : checks) {
                spliced += f.get(120, TimeUnit.SECONDS);
            }
            PipePool p = splicer.pipePool();
            System.out.println("OK sessions=" + sessions + " budget=" + p.budget() + " peakCapacity="
                    + p.peakCapacity() + " capacity=" + p.capacity() + " pipes=" + p.total()
                    + " smallestGranted=" + p.smallestGranted() + " growRefusals=" + p.growRefusals()
                    + " spliced=" + spliced + " settings=[" + splicer.summary() + "]");
        } finally {
            pool.shutdownNow();
        }
    }
}
