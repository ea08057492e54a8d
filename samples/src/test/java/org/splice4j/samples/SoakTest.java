package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.RawHttp;
import org.splice4j.spi.contract.SpliceProviderContractTest;
import org.splice4j.spi.contract.Streams;

/**
 * A bounded soak: for {@code splice4j.soak.seconds} (5 in the normal build, 600 with {@code -Psoak}) short tunnels
 * churn through socks5 (NIO and epoll) and jetty-proxy (CONNECT) while one bulk stream runs through each, every byte
 * checked by SHA-256. Descriptors, pipes and heap are reported at the start and the end; descriptors must be back at
 * their baseline once the proxies are closed.
 */
class SoakTest {

    private static final long SECONDS = Long.getLong("splice4j.soak.seconds", 5);

    private static String snapshot() throws IOException {
        System.gc();
        Runtime rt = Runtime.getRuntime();
        Map<String, Long> kinds = SpliceProviderContractTest.fdKinds();
        return "descriptors " + SpliceProviderContractTest.openFdsForTests() + " (pipes "
                + kinds.getOrDefault("pipe", 0L) + ", sockets " + kinds.getOrDefault("socket", 0L) + "), heap used " + (rt.totalMemory() - rt.freeMemory()) / 1024
                + " KiB";
    }

    @Test
    void churnAndBulkThroughSocks5AndJettyProxy() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        ExecutorService pool = Executors.newCachedThreadPool();
        try (ServerSocket echo = new ServerSocket(0, 200, InetAddress.getLoopbackAddress())) {
            pool.execute(() -> {
                while (!echo.isClosed()) {
                    try {
                        Socket s = echo.accept();
                        pool.execute(() -> {
                            try (s) {
                                s.getInputStream().transferTo(s.getOutputStream());
                                s.shutdownOutput();
                            } catch (IOException ignored) {
                                // the client went away
                            }
                        });
                    } catch (IOException | RejectedExecutionException e) {
                        return;
                    }
                }
            });
            InetSocketAddress target = (InetSocketAddress) echo.getLocalSocketAddress();
            round(pool, target, 1); // warm-up: class loading, JIT, JDK caches
            long baseline = SpliceProviderContractTest.openFdsForTests();
            System.out.println("soak start (" + SECONDS + " s): " + snapshot());
            long[] totals = round(pool, target, SECONDS);
            System.out.println("soak end: " + totals[0] + " short tunnels, " + (totals[1] >> 20) + " MiB bulk; "
                    + snapshot());
            assertTrue(totals[0] > 0 && totals[1] > 0, "the soak must have relayed something");
            assertEquals(baseline, SpliceProviderContractTest.openFdsForTests(),
                    "descriptors left after the soak and close()");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Runs the proxies for {@code seconds}; returns {short tunnels, bulk bytes}. */
    private long[] round(ExecutorService pool, InetSocketAddress target, long seconds) throws Exception {
        AtomicLong tunnels = new AtomicLong();
        AtomicLong bulk = new AtomicLong();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        try (Splicer splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             TunnelServer nio = new TunnelServer("nio", new SpliceRelay(splicer));
             TunnelServer epoll = new TunnelServer("epoll", new SpliceRelay(splicer))) {
            Server jetty = JettyProxySample.build(new InetSocketAddress("127.0.0.1", 0), AllowList.loopbackOnly(),
                    splicer, 4096);
            jetty.start();
            try {
                InetSocketAddress jettyAt = new InetSocketAddress("127.0.0.1",
                        ((ServerConnector) jetty.getConnectors()[0]).getLocalPort());
                List<InetSocketAddress> socks = List.of(
                        Socks5Sample.start(nio, new InetSocketAddress("127.0.0.1", 0), AllowList.loopbackOnly(), null),
                        Socks5Sample.start(epoll, new InetSocketAddress("127.0.0.1", 0), AllowList.loopbackOnly(),
                                null));
                List<Future<?>> work = new ArrayList<>();
                for (int w = 0; w < 6; w++) {
                    int worker = w;
                    work.add(pool.submit(() -> {
                        long seed = worker * 1_000_003L;
                        boolean bulkWorker = worker < 3;
                        do {
                            seed++;
                            int size = bulkWorker ? 16 << 20 : (int) (1 + Math.floorMod(seed * 7919, 256 * 1024));
                            try (Socket s = open(worker % 3 == 2 ? null : socks.get(worker % 3), jettyAt, target)) {
                                echoOnce(s, seed, size);
                            }
                            (bulkWorker ? bulk : tunnels).addAndGet(bulkWorker ? size : 1);
                        } while (System.nanoTime() < deadline);
                        return null;
                    }));
                }
                for (Future<?> f : work) {
                    f.get(seconds + 120, TimeUnit.SECONDS);
                }
            } finally {
                jetty.stop();
            }
        }
        return new long[] {tunnels.get(), bulk.get()};
    }

    /** A socket through socks5 ({@code socks} not null) or through jetty-proxy's CONNECT to {@code target}. */
    private static Socket open(InetSocketAddress socks, InetSocketAddress jetty, InetSocketAddress target)
            throws IOException {
        if (socks != null) {
            Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, socks));
            s.connect(target, 10_000);
            return s;
        }
        Socket s = new Socket(jetty.getAddress(), jetty.getPort());
        String authority = "127.0.0.1:" + target.getPort();
        s.getOutputStream().write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        String head = RawHttp.readHead(s.getInputStream());
        if (!head.startsWith("HTTP/1.1 200")) {
            s.close();
            throw new IOException("CONNECT refused: " + head);
        }
        return s;
    }

    /** Sends {@code size} seeded bytes, half-closes, and checks the echo by SHA-256. */
    private static void echoOnce(Socket s, long seed, int size) throws Exception {
        s.setSoTimeout(60_000);
        Future<Streams.Received> back;
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            InputStream in = s.getInputStream();
            back = reader.submit(() -> Streams.readToEnd(in));
            OutputStream out = s.getOutputStream();
            String sent;
            try (InputStream src = Streams.inputStream(seed, size)) {
                src.transferTo(out);
            }
            sent = Streams.expected(seed, size, new byte[0]);
            s.shutdownOutput();
            assertEquals(new Streams.Received(size, sent), back.get(60, TimeUnit.SECONDS));
        } finally {
            reader.shutdownNow();
        }
    }
}
