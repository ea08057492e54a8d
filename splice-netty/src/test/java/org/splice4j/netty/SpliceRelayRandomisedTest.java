package org.splice4j.netty;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import io.netty.channel.Channel;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.SpliceProviderContractTest;
import org.splice4j.spi.contract.Streams;
import org.splice4j.spi.contract.TestScale;

/**
 * A seeded random mix of what peers and users do to tunnels through a real Netty forwarder ({@link TestForwarder}),
 * for each transport (NIO, epoll), spliced (the linux provider) and copied (splicing off). Each tunnel draws one
 * {@link Kind} with its sizes (1 B to 4 MiB each way, uniform in the logarithm), sides and timing from the seed:
 *
 * <ul>
 *   <li>{@code COMPLETE}: both peers write and half-close, at once or one after the other saw the first's end;</li>
 *   <li>{@code HALF_CLOSE_THEN_SEND}: one peer writes and half-closes, the other then keeps sending in bursts;</li>
 *   <li>{@code EARLY_BYTES}: the client writes (and maybe half-closes) right after its connect, before the server side
 *       is accepted, so the bytes wait in the inbound socket when the relay starts; then both ways complete;</li>
 *   <li>{@code RESET}: the reader resets (SO_LINGER 0, close) while the other streams, or the writer resets after its
 *       last write, at once or once it all arrived;</li>
 *   <li>{@code CLOSE_WHILE_STREAMING}: a peer reads some, then closes plainly while the other streams;</li>
 *   <li>{@code USER_CLOSE}: both peers stream and the user closes the inbound Netty channel mid-transfer.</li>
 * </ul>
 * For each: the relay's future completes exactly once, with an outcome the adapter gives for what was done (COMPLETED
 * for the clean ones, with every byte counted); what arrived is intact (SHA-256), or for a cut stream a prefix of what
 * was sent; both peers see their end (end of stream or a reset) within {@value #BOUND_S} s; and once the forwarder and
 * the splicer are closed the process holds no more descriptors than before. CI: 40 tunnels per mode, 8 at a time;
 * {@code -Dsplice4j.test.scale=full}: 400, 16 at a time. The seed is printed; {@code -Dsplice4j.test.seed=N} replays
 * the same plan (every mode runs the plan of the one seed).
 */
class SpliceRelayRandomisedTest {

    private static final long MiB = 1L << 20;
    private static final long MAX_SIZE = 4 * MiB;
    /** Streams that run until their connection fails stop here at the latest (a failure to fail). */
    private static final long UNTIL_FAILURE_CAP = 1L << 30;
    /** The bound for every wait: a result, a peer's end, a relay's start. */
    private static final long BOUND_S = 30;

    enum Kind { COMPLETE, HALF_CLOSE_THEN_SEND, EARLY_BYTES, RESET, CLOSE_WHILE_STREAMING, USER_CLOSE }

    /** Relative frequencies of the kinds. */
    private static final Map<Kind, Integer> WEIGHTS = new EnumMap<>(Map.of(Kind.COMPLETE, 5,
            Kind.HALF_CLOSE_THEN_SEND, 3, Kind.EARLY_BYTES, 3, Kind.RESET, 4, Kind.CLOSE_WHILE_STREAMING, 2,
            Kind.USER_CLOSE, 3));

    /**
     * What a peer's reset or close may end a tunnel with: RESET when the relay saw it, FAILED when it came during the
     * hand-over (a reset reported while flushing, or the channel closed before the splice), CANCELLED when the copying
     * relay saw a channel close without an error (its peer's close followed a read of the end).
     */
    private static final Set<Outcome> ABORTIVE = EnumSet.of(Outcome.RESET, Outcome.FAILED, Outcome.CANCELLED);
    /**
     * What a user's close of the inbound channel may end a tunnel with: CANCELLED, or COMPLETED if the tunnel ended
     * anyway (as {@code SpliceRelayTest} accepts); the copying relay also reports RESET when a write to the closed
     * channel failed first (a ClosedChannelException is an IOException); and a close during the spliced path's
     * hand-over ends the tunnel before it began, FAILED with a ClosedChannelException (seen at full scale, NIO).
     */
    private static final Set<Outcome> USER_CLOSED = EnumSet.of(Outcome.CANCELLED, Outcome.COMPLETED, Outcome.RESET,
            Outcome.FAILED);

    private static long seed;

    @BeforeAll
    static void drawSeed() {
        seed = TestScale.seed(SpliceRelayRandomisedTest.class.getSimpleName());
    }

    static Stream<Arguments> modes() {
        List<Arguments> list = new ArrayList<>();
        for (TestForwarder.Transport t : TestForwarder.Transport.values()) {
            list.add(Arguments.of(t, true));
            list.add(Arguments.of(t, false));
        }
        return list.stream();
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void randomTunnelsDeliverIntactEndOnceAndLeaveNoDescriptor(TestForwarder.Transport t, boolean splice)
            throws Exception {
        String mode = t + (splice ? " spliced" : " copied");
        // A warm-up tunnel first: what the JDK and Netty open once per process (the JDK's pre-close socket, say)
        // belongs to the baseline, not to the run.
        try (LinuxTestbed bed = LinuxTestbed.open(); TestForwarder f = forwarder(bed, t, splice)) {
            Run warm = new Run(bed, f, t, splice, 0, 1, 1);
            warm.complete(new Ctx(-1, Kind.COMPLETE), new SplittableRandom(seed));
        }
        awaitDescriptorsAtMost(Long.MAX_VALUE);
        long baseline = SpliceProviderContractTest.openFdsForTests();
        String summary = null;
        AssertionError failed = null;
        try (LinuxTestbed bed = LinuxTestbed.open()) {
            try (TestForwarder f = forwarder(bed, t, splice)) {
                Run run = new Run(bed, f, t, splice, seed, TestScale.pick(40, 400), TestScale.pick(8, 16));
                summary = run.run();
            } catch (AssertionError e) {
                failed = e; // the descriptors are still checked: a failed tunnel may have leaked some too
            } // shutdownGracefully: the forwarder's loops and their selectors or epoll descriptors are gone
        } // the splicer's loops and pooled pipes, the target listener
        long open = awaitDescriptorsAtMost(baseline);
        String fds = mode + ", seed " + seed + ": " + open + " descriptors open after every tunnel, the forwarder "
                + "and the splicer closed; " + baseline + " before";
        if (failed != null) {
            throw new AssertionError(mode + ": " + failed.getMessage() + "\n  " + fds, failed.getCause());
        }
        assertTrue(open <= baseline, fds);
        System.out.println("SpliceRelayRandomisedTest " + mode + ", seed " + seed + ": " + summary);
    }

    private static TestForwarder forwarder(LinuxTestbed bed, TestForwarder.Transport t, boolean splice)
            throws Exception {
        SpliceRelay relay = splice ? new SpliceRelay(bed.splicer) : new SpliceRelay();
        TestForwarder f = new TestForwarder(t, bed.targetAddress(),
                relay.withPassiveHandlers(TestForwarder.InactiveCounter.class), ch -> { });
        // Cached now, while the channel is surely open: the test finds each tunnel's inbound channel by it.
        f.beforeRelay = Channel::remoteAddress;
        bed.target.socket().setSoTimeout((int) TimeUnit.SECONDS.toMillis(BOUND_S));
        return f;
    }

    /**
     * Waits, bounded, for the descriptor count to be at most {@code max}: the JDK closes a channel registered with a
     * selector only when that selector next runs, and a closed socket's descriptor may go a moment after its close.
     */
    private static long awaitDescriptorsAtMost(long max) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long open = SpliceProviderContractTest.openFdsForTests();
        long stableSince = System.nanoTime();
        while (System.nanoTime() < deadline) {
            Thread.sleep(20);
            long now = SpliceProviderContractTest.openFdsForTests();
            if (now != open) {
                open = now;
                stableSince = System.nanoTime();
            } else if (open <= max && System.nanoTime() - stableSince > TimeUnit.MILLISECONDS.toNanos(100)) {
                break;
            }
        }
        return open;
    }

    /** What one tunnel did, for failure messages. */
    private static final class Ctx {
        final int index;
        final Kind kind;
        final StringBuilder log = new StringBuilder();
        int clientPort;
        /** The port the forwarder connected to the target from, as the target's accepted socket sees it. */
        int serverPeerPort;
        Channel inbound;
        SpliceResult result;

        Ctx(int index, Kind kind) {
            this.index = index;
            this.kind = kind;
        }

        void log(String format, Object... args) {
            log.append(String.format(format, args)).append("; ");
        }

        void check(boolean ok, String what) {
            if (!ok) {
                // The relay's own failure, if it had one, as the cause: its stack says where the relay ended.
                throw new AssertionError(this + ": " + what, result == null ? null : result.cause().orElse(null));
            }
        }

        /** What a reader got must be what was sent. */
        void same(Streams.Received sent, Streams.Received got, String what) {
            check(sent.equals(got), what + ": sent " + sent + ", received " + got);
        }

        @Override
        public String toString() {
            return "tunnel #" + index + " " + kind + " [" + log + "]" + (result == null ? "" : " ended " + result);
        }
    }

    /** One mode's run over its tunnels. */
    private static final class Run {
        final LinuxTestbed bed;
        final TestForwarder f;
        final boolean splice;
        final TestForwarder.Transport transport;
        final long seed;
        final int tunnels;
        final int concurrency;
        /** Inbound channels whose relay started, drained from {@link TestForwarder#inbound}; guarded by itself. */
        final Set<Channel> started = new HashSet<>();
        final AtomicLong splicedBytes = new AtomicLong();

        Run(LinuxTestbed bed, TestForwarder f, TestForwarder.Transport transport, boolean splice, long seed,
            int tunnels, int concurrency) {
            this.transport = transport;
            this.bed = bed;
            this.f = f;
            this.splice = splice;
            this.seed = seed;
            this.tunnels = tunnels;
            this.concurrency = concurrency;
        }

        String run() throws Exception {
            SplittableRandom master = new SplittableRandom(seed);
            List<Kind> bag = new ArrayList<>();
            WEIGHTS.forEach((k, w) -> {
                for (int i = 0; i < w; i++) {
                    bag.add(k);
                }
            });
            ExecutorService runners = Executors.newFixedThreadPool(concurrency, r -> {
                Thread th = new Thread(r, "randomised-relay-runner");
                th.setDaemon(true);
                return th;
            });
            List<Ctx> ctxs = new ArrayList<>();
            List<Future<?>> futures = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            Throwable firstFailure = null;
            long started = System.nanoTime();
            try {
                for (int i = 0; i < tunnels; i++) {
                    Ctx c = new Ctx(i, bag.get(master.nextInt(bag.size())));
                    long tunnelSeed = master.nextLong();
                    ctxs.add(c);
                    futures.add(runners.submit(() -> {
                        runOne(c, new SplittableRandom(tunnelSeed));
                        return null;
                    }));
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
                for (int i = 0; i < futures.size(); i++) {
                    try {
                        futures.get(i).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    } catch (ExecutionException e) {
                        // With the relay's own result, which says how the tunnel ended (and why) on the proxy's side.
                        Channel inbound = ctxs.get(i).inbound;
                        failures.add(ctxs.get(i) + ": " + e.getCause() + "; the relay's result: "
                                + (inbound == null ? "unknown" : f.resultsByInbound.get(inbound)));
                        firstFailure = firstFailure == null ? e.getCause() : firstFailure;
                    } catch (TimeoutException e) {
                        failures.add(ctxs.get(i) + ": not done after 180 s");
                    }
                }
            } finally {
                runners.shutdownNow();
                runners.awaitTermination(30, TimeUnit.SECONDS);
            }
            long elapsed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            if (failures.isEmpty()) {
                // Exactly once: one result per relay, each tunnel's own, and no other. A second completion would be
                // a second listener call, so give it a moment to show.
                Thread.sleep(100);
                for (Ctx c : ctxs) {
                    List<SpliceResult> rs = f.resultsByInbound.get(c.inbound);
                    if (rs == null || rs.size() != 1) {
                        failures.add(c + ": the relay's future completed " + (rs == null ? 0 : rs.size()) + " times: "
                                + rs);
                    }
                }
                if (f.results.size() != tunnels) {
                    failures.add(f.results.size() + " results for " + tunnels + " tunnels");
                }
                if (splice && splicedBytes.get() == 0) {
                    failures.add("nothing was spliced in " + tunnels + " tunnels");
                } else if (!splice && splicedBytes.get() != 0) {
                    failures.add(splicedBytes.get() + " bytes spliced with splicing off");
                }
            }
            if (!failures.isEmpty()) {
                throw new AssertionError("seed " + seed + ": " + failures.size() + " of " + tunnels
                        + " tunnels failed:\n  " + String.join("\n  ", failures.subList(0, Math.min(8, failures.size()))),
                        firstFailure);
            }
            Map<String, Integer> tally = new TreeMap<>();
            for (Ctx c : ctxs) {
                tally.merge(c.kind + "->" + c.result.outcome(), 1, Integer::sum);
            }
            return String.format("%d tunnels, %d at a time, in %d ms, %d B spliced: %s", tunnels, concurrency,
                    elapsed, splicedBytes.get(), tally);
        }

        private void runOne(Ctx c, SplittableRandom rnd) throws Exception {
            switch (c.kind) {
                case COMPLETE -> complete(c, rnd);
                case HALF_CLOSE_THEN_SEND -> halfCloseThenSend(c, rnd);
                case EARLY_BYTES -> earlyBytes(c, rnd);
                case RESET -> reset(c, rnd);
                case CLOSE_WHILE_STREAMING -> closeWhileStreaming(c, rnd);
                case USER_CLOSE -> userClose(c, rnd);
            }
        }

        // ---- the kinds -------------------------------------------------------------------------------------------

        /** Both peers write and half-close, at once or one after the other read the first's end: COMPLETED. */
        void complete(Ctx c, SplittableRandom rnd) throws Exception {
            long up = size(rnd);
            long down = size(rnd);
            int order = rnd.nextInt(3);
            boolean closeAtEnd = rnd.nextBoolean();
            long su = rnd.nextLong();
            long sd = rnd.nextLong();
            c.log("up %d B, down %d B, %s, peers close at their end %s", up, down,
                    new String[] {"both at once", "client first", "server first"}[order], closeAtEnd);
            SocketChannel[] p = connect(c, null, false);
            try (SocketChannel client = p[0]; SocketChannel server = p[1]) {
                Future<Streams.Received> atServer = async(() -> Streams.readToEnd(server));
                Future<Streams.Received> atClient = async(() -> Streams.readToEnd(client));
                Future<String> upSent;
                Future<String> downSent;
                if (order == 0) {
                    upSent = async(() -> Streams.writeAndShutdown(client, su, up));
                    downSent = async(() -> Streams.writeAndShutdown(server, sd, down));
                } else if (order == 1) {
                    upSent = async(() -> Streams.writeAndShutdown(client, su, up));
                    c.same(new Streams.Received(up, await(c, upSent)), await(c, atServer), "upload differs");
                    downSent = async(() -> Streams.writeAndShutdown(server, sd, down));
                } else {
                    downSent = async(() -> Streams.writeAndShutdown(server, sd, down));
                    c.same(new Streams.Received(down, await(c, downSent)), await(c, atClient), "download differs");
                    upSent = async(() -> Streams.writeAndShutdown(client, su, up));
                }
                c.same(new Streams.Received(up, await(c, upSent)), await(c, atServer), "upload differs");
                if (closeAtEnd) {
                    await(c, downSent);
                    server.close(); // read to its end and wrote all: a close now is a clean one
                }
                c.same(new Streams.Received(down, await(c, downSent)), await(c, atClient), "download differs");
                SpliceResult r = result(c, EnumSet.of(Outcome.COMPLETED));
                c.check(r.bytesAToB() == up && r.bytesBToA() == down, "counted " + r);
            }
        }

        /** X writes and half-closes; Y reads it all, then keeps sending in bursts and half-closes: COMPLETED. */
        void halfCloseThenSend(Ctx c, SplittableRandom rnd) throws Exception {
            boolean xIsClient = rnd.nextBoolean();
            long n = size(rnd);
            int bursts = 1 + rnd.nextInt(4);
            long[] burst = new long[bursts];
            long[] burstSeed = new long[bursts];
            int[] pauseMs = new int[bursts];
            long m = 0;
            for (int i = 0; i < bursts; i++) {
                burst[i] = size(rnd);
                burstSeed[i] = rnd.nextLong();
                pauseMs[i] = rnd.nextInt(20);
                m += burst[i];
            }
            long sx = rnd.nextLong();
            c.log("%s writes %d B and half-closes, then the other sends %d B in %d bursts", xIsClient ? "client"
                    : "server", n, m, bursts);
            SocketChannel[] p = connect(c, null, false);
            try (SocketChannel client = p[0]; SocketChannel server = p[1]) {
                SocketChannel x = xIsClient ? client : server;
                SocketChannel y = xIsClient ? server : client;
                Future<Streams.Received> atY = async(() -> Streams.readToEnd(y));
                Future<String> sent = async(() -> Streams.writeAndShutdown(x, sx, n));
                c.same(new Streams.Received(n, await(c, sent)), await(c, atY), "half-closed stream differs");
                Future<Streams.Received> atX = async(() -> Streams.readToEnd(x));
                // The bursts as one stream: each burst is its own seeded stream, so the digest is over their bytes.
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                for (int i = 0; i < bursts; i++) {
                    Thread.sleep(pauseMs[i]);
                    long bs = burstSeed[i];
                    long bn = burst[i];
                    await(c, async(() -> Streams.write(y, bs, bn)));
                    digest(md, bs, bn);
                }
                y.shutdownOutput();
                String expected = HexFormat.of().formatHex(md.digest());
                c.same(new Streams.Received(m, expected), await(c, atX), "the late stream differs");
                SpliceResult r = result(c, EnumSet.of(Outcome.COMPLETED));
                long toServer = xIsClient ? n : m;
                long toClient = xIsClient ? m : n;
                c.check(r.bytesAToB() == toServer && r.bytesBToA() == toClient, "counted " + r);
            }
        }

        /**
         * The client writes (and maybe half-closes) before the server side is accepted, so its bytes wait in the
         * proxy's socket when the relay starts; then both ways complete: COMPLETED, the early bytes first.
         */
        void earlyBytes(Ctx c, SplittableRandom rnd) throws Exception {
            int e = 1 + rnd.nextInt(64 * 1024);
            boolean earlyShutdown = rnd.nextBoolean();
            long up = earlyShutdown ? 0 : size(rnd);
            long down = size(rnd);
            long se = rnd.nextLong();
            long su = rnd.nextLong();
            long sd = rnd.nextLong();
            byte[] early = Streams.randomBytes(se, e);
            c.log("%d B early%s, then up %d B, down %d B", e, earlyShutdown ? " and a half-close" : "", up, down);
            SocketChannel[] p = connect(c, early, earlyShutdown);
            try (SocketChannel client = p[0]; SocketChannel server = p[1]) {
                Future<Streams.Received> atServer = async(() -> Streams.readToEnd(server));
                Future<Streams.Received> atClient = async(() -> Streams.readToEnd(client));
                Future<String> upSent = earlyShutdown ? null : async(() -> Streams.writeAndShutdown(client, su, up));
                Future<String> downSent = async(() -> Streams.writeAndShutdown(server, sd, down));
                Streams.Received gotUp = await(c, atServer);
                Streams.Received gotDown = await(c, atClient);
                // The result first: if a stream differs, the failure says how the relay ended.
                SpliceResult r = result(c, EnumSet.allOf(Outcome.class));
                c.same(new Streams.Received(e + up, Streams.expected(su, up, early)), gotUp,
                        "upload (early bytes first) differs");
                c.same(new Streams.Received(down, await(c, downSent)), gotDown, "download differs");
                if (upSent != null) {
                    await(c, upSent);
                }
                c.check(r.outcome() == Outcome.COMPLETED, "expected COMPLETED");
                c.check(r.bytesAToB() == e + up && r.bytesBToA() == down, "counted " + r);
            }
        }

        /** Mid-stream, the reader resets while the other streams, or the writer resets after its last write. */
        void reset(Ctx c, SplittableRandom rnd) throws Exception {
            boolean writerIsClient = rnd.nextBoolean();
            boolean readerResets = rnd.nextBoolean();
            boolean waitForDelivery = rnd.nextBoolean();
            long k = size(rnd);
            long sw = rnd.nextLong();
            SocketChannel[] p = connect(c, null, false);
            try (SocketChannel client = p[0]; SocketChannel server = p[1]) {
                SocketChannel w = writerIsClient ? client : server;
                SocketChannel r = writerIsClient ? server : client;
                if (readerResets) {
                    c.log("%s streams, the other reads %d B and resets", writerIsClient ? "client" : "server", k);
                    Future<IOException> stream = async(() -> Streams.writeUntilFailure(w, sw, UNTIL_FAILURE_CAP));
                    c.check(Streams.readExactlyDigest(r, k).sha256().equals(Streams.expected(sw, k, new byte[0])),
                            "stream differs");
                    abort(r);
                    result(c, ABORTIVE);
                    c.check(await(c, stream) != null, "the writer's connection must fail after the reader's reset");
                    endSeen(c, w, "the writer");
                } else {
                    c.log("%s writes %d B and resets %s", writerIsClient ? "client" : "server", k,
                            waitForDelivery ? "once all arrived" : "at once");
                    Future<Streams.Received> first = waitForDelivery ? async(() -> Streams.readExactlyDigest(r, k))
                            : null;
                    Future<Streams.Partial> rest = waitForDelivery ? null
                            : async(() -> Streams.readUntilEndOrFailure(r));
                    await(c, async(() -> Streams.write(w, sw, k)));
                    if (waitForDelivery) {
                        c.check(await(c, first).sha256().equals(Streams.expected(sw, k, new byte[0])),
                                "stream differs");
                        rest = async(() -> Streams.readUntilEndOrFailure(r));
                    }
                    abort(w);
                    result(c, ABORTIVE);
                    Streams.Partial part = await(c, rest);
                    if (waitForDelivery) {
                        c.check(part.bytes() == 0, "bytes after the end of what was sent: " + part);
                    } else {
                        c.check(part.bytes() <= k && part.isPrefixOf(sw), "not a prefix of what was sent: " + part);
                    }
                }
            }
        }

        /** Y streams; X reads some, then closes plainly (unread bytes make it a reset). */
        void closeWhileStreaming(Ctx c, SplittableRandom rnd) throws Exception {
            boolean xIsClient = rnd.nextBoolean();
            long k = size(rnd);
            long sy = rnd.nextLong();
            c.log("%s streams, the other reads %d B and closes", xIsClient ? "server" : "client", k);
            SocketChannel[] p = connect(c, null, false);
            try (SocketChannel client = p[0]; SocketChannel server = p[1]) {
                SocketChannel x = xIsClient ? client : server;
                SocketChannel y = xIsClient ? server : client;
                Future<IOException> stream = async(() -> Streams.writeUntilFailure(y, sy, UNTIL_FAILURE_CAP));
                c.check(Streams.readExactlyDigest(x, k).sha256().equals(Streams.expected(sy, k, new byte[0])),
                        "stream differs");
                x.close();
                result(c, ABORTIVE);
                c.check(await(c, stream) != null, "the writer's connection must fail after the other peer closed");
                endSeen(c, y, "the writer");
            }
        }

        /** Both peers stream; the user closes the inbound Netty channel mid-transfer. */
        void userClose(Ctx c, SplittableRandom rnd) throws Exception {
            long up = size(rnd);
            long down = size(rnd);
            int pauseMs = rnd.nextInt(50);
            long su = rnd.nextLong();
            long sd = rnd.nextLong();
            c.log("up %d B, down %d B, the inbound channel closed after %d ms", up, down, pauseMs);
            SocketChannel[] p = connect(c, null, false);
            try (SocketChannel client = p[0]; SocketChannel server = p[1]) {
                Future<Streams.Partial> atServer = async(() -> Streams.readUntilEndOrFailure(server));
                Future<Streams.Partial> atClient = async(() -> Streams.readUntilEndOrFailure(client));
                Future<IOException> upSent = async(() -> Streams.writeUntilFailure(client, su, up));
                Future<IOException> downSent = async(() -> Streams.writeUntilFailure(server, sd, down));
                Channel in = inbound(c);
                Thread.sleep(pauseMs);
                in.close();
                SpliceResult r = result(c, USER_CLOSED);
                c.check(r.outcome() != Outcome.FAILED
                        || r.cause().orElse(null) instanceof ClosedChannelException,
                        "FAILED, but not for the channel the user closed");
                Streams.Partial ps = await(c, atServer);
                Streams.Partial pc = await(c, atClient);
                c.check(ps.bytes() <= up && ps.isPrefixOf(su), "at the server not a prefix of what was sent: " + ps);
                c.check(pc.bytes() <= down && pc.isPrefixOf(sd), "at the client not a prefix of what was sent: " + pc);
                c.check(ps.bytes() <= r.bytesAToB(), "the server read more than was relayed: " + ps);
                c.check(pc.bytes() <= r.bytesBToA(), "the client read more than was relayed: " + pc);
                await(c, upSent); // done, or failed at the close: either way it ends
                await(c, downSent);
            }
        }

        // ---- helpers ---------------------------------------------------------------------------------------------

        /**
         * client -> forwarder -> server; {@code early} (may be null) written by the client right after its connect,
         * before the server side is accepted, then its output shut if {@code shutdown}. Without early bytes it returns
         * once the relay started, so that what the peers do next happens to a running relay (a reset while the
         * forwarder still connects would fail its connect, and no relay would start).
         */
        private SocketChannel[] connect(Ctx c, byte[] early, boolean shutdown) throws Exception {
            SocketChannel[] pair = accept(c, early, shutdown);
            if (early == null) {
                try {
                    inbound(c);
                } catch (Exception | AssertionError e) {
                    pair[0].close();
                    pair[1].close();
                    throw e;
                }
            }
            return pair;
        }

        private SocketChannel[] accept(Ctx c, byte[] early, boolean shutdown) throws IOException {
            synchronized (bed.target) {
                SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", f.port()));
                try {
                    c.clientPort = ((InetSocketAddress) client.getLocalAddress()).getPort();
                    if (early != null) {
                        ByteBuffer b = ByteBuffer.wrap(early);
                        while (b.hasRemaining()) {
                            client.write(b);
                        }
                        if (shutdown) {
                            client.shutdownOutput();
                        }
                    }
                    // Bounded (SO_TIMEOUT): a forwarder that never connects fails this tunnel, not the whole run.
                    SocketChannel server = bed.target.socket().accept().getChannel();
                    c.serverPeerPort = ((InetSocketAddress) server.getRemoteAddress()).getPort();
                    return new SocketChannel[] {client, server};
                } catch (IOException | RuntimeException e) {
                    client.close();
                    throw e;
                }
            }
        }

        /**
         * The tunnel's inbound channel, once its relay started: the one whose outbound channel connected from the port
         * the target saw ({@link Ctx#serverPeerPort}) and whose client is this tunnel's ({@link Ctx#clientPort}).
         * Both ports, since the kernel reuses a port once its connection is gone: matching the client's port alone
         * took an earlier tunnel's channel whose client had had the same port.
         */
        private Channel inbound(Ctx c) throws Exception {
            if (c.inbound != null) {
                return c.inbound;
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
            while (true) {
                synchronized (started) {
                    for (Channel ch; (ch = f.inbound.poll()) != null; ) {
                        started.add(ch);
                    }
                    Channel ch = f.inboundByOutboundPort.get(c.serverPeerPort);
                    if (ch != null && started.contains(ch)
                            && ((InetSocketAddress) ch.remoteAddress()).getPort() == c.clientPort) {
                        started.remove(ch);
                        c.inbound = ch;
                        return ch;
                    }
                }
                c.check(System.nanoTime() < deadline, "the relay did not start in " + BOUND_S + " s");
                Thread.sleep(5);
            }
        }

        /** The relay's result, within the bound, with one of these outcomes. */
        private SpliceResult result(Ctx c, Set<Outcome> accepted) throws Exception {
            Channel in = inbound(c);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
            List<SpliceResult> rs;
            while ((rs = f.resultsByInbound.get(in)) == null) {
                c.check(System.nanoTime() < deadline, "the relay's future did not complete in " + BOUND_S + " s; "
                        + "inbound " + in + (in.isOpen() ? " open" : " closed"));
                Thread.sleep(5);
            }
            SpliceResult r = rs.get(0);
            c.result = r;
            splicedBytes.addAndGet(r.splicedBytes());
            c.check(accepted.contains(r.outcome()), "expected one of " + accepted + ", got " + r);
            return r;
        }

        /** A peer whose other side is gone reads its end (a clean one or a reset) within the bound. */
        private void endSeen(Ctx c, SocketChannel peer, String who) throws Exception {
            Streams.Partial p = await(c, async(() -> Streams.readUntilEndOrFailure(peer)));
            c.check(p.bytes() == 0, who + " read bytes nobody sent: " + p);
        }

        /** 1 B to {@link #MAX_SIZE}, uniform in the logarithm: as many tiny writes as large ones. */
        private static long size(SplittableRandom rnd) {
            return Math.min(MAX_SIZE, (long) Math.exp(rnd.nextDouble() * Math.log(MAX_SIZE)));
        }

        private <T> Future<T> async(Callable<T> task) {
            return bed.pool.submit(task);
        }

        private static <T> T await(Ctx c, Future<T> f) throws Exception {
            try {
                return f.get(BOUND_S, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                throw new AssertionError(c + ": a peer not done in " + BOUND_S + " s");
            }
        }

        /** Adds {@code n} bytes of the seeded stream (what {@link Streams#write} sends) to {@code md}. */
        private static void digest(MessageDigest md, long seed, long n) throws IOException {
            byte[] buf = new byte[64 * 1024];
            try (InputStream in = Streams.inputStream(seed, n)) {
                for (int r; (r = in.read(buf)) >= 0; ) {
                    md.update(buf, 0, r);
                }
            }
        }

        /** A reset: SO_LINGER 0, then close. */
        private static void abort(SocketChannel ch) throws IOException {
            ch.setOption(StandardSocketOptions.SO_LINGER, 0);
            ch.close();
        }
    }
}
