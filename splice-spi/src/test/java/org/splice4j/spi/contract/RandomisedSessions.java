package org.splice4j.spi.contract;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * A seeded random mix of what peers and adapters do to sessions, many tunnels at once: writes of 1 B to a few MiB,
 * half-closes in either order, resets (SO_LINGER 0, then close) by either peer mid-stream or after a half-close, a
 * plain close while the other peer streams, {@code cancel()} at a random moment (from two threads at once, too), idle
 * timeouts, and sessions left running for {@link Splicer#close()}. Each tunnel draws one {@link Kind} and its sizes,
 * sides and timing from the seed; the outcome the SPI documents for what was done is then certain, and checked:
 *
 * <ul>
 *   <li>COMPLETED, with every byte both ways intact (SHA-256), when both peers half-closed and nothing else happened;</li>
 *   <li>RESET when a peer reset, or closed with bytes unread, while the provider still read from it or wrote to it;
 *       the other peer then sees its connection fail once the adapter closes the proxy side;</li>
 *   <li>CANCELLED after {@code cancel()} or {@code close()}, the counters frozen when {@code cancel()} returned and
 *       each peer reading exactly that many bytes, a prefix of what was sent, then a clean end of stream (or, for
 *       a peer that was still sending and so got a reset from its shut socket, a shorter prefix and the reset);</li>
 *   <li>IDLE_TIMEOUT no sooner than the timeout after the last byte moved.</li>
 * </ul>
 * Every session's completion comes exactly once (its listener too), the caller's sockets stay open, and bytes that
 * arrive before an abortive end are a prefix of what was sent.
 */
final class RandomisedSessions {

    enum Kind { COMPLETE, HALF_CLOSE_THEN_RESET, MID_STREAM_RESET, CLOSE_WHILE_STREAMING, CANCEL, IDLE, SPLICER_CLOSE }

    /** Relative frequencies of the kinds. */
    private static final Map<Kind, Integer> WEIGHTS = new EnumMap<>(Map.of(Kind.COMPLETE, 6,
            Kind.HALF_CLOSE_THEN_RESET, 2, Kind.MID_STREAM_RESET, 3, Kind.CLOSE_WHILE_STREAMING, 2, Kind.CANCEL, 4,
            Kind.IDLE, 2, Kind.SPLICER_CLOSE, 1));
    /** Streams that run until their connection fails stop here at the latest (a failure to fail). */
    private static final long UNTIL_FAILURE_CAP = 1L << 30;
    private static final long RESULT_TIMEOUT_S = 30;

    private final SpliceProviderContractTest test;
    private final Splicer splicer;
    private final long seed;
    private final int tunnels;
    private final int concurrency;
    private final long maxSize;
    private final SessionLedger ledger = new SessionLedger();
    private final List<SpliceSession> sessions = new CopyOnWriteArrayList<>();
    private final AtomicInteger stalledIdleExchanges = new AtomicInteger();

    RandomisedSessions(SpliceProviderContractTest test, Splicer splicer, long seed, int tunnels, int concurrency,
                       long maxSize) {
        this.test = test;
        this.splicer = splicer;
        this.seed = seed;
        this.tunnels = tunnels;
        this.concurrency = concurrency;
        this.maxSize = maxSize;
        splicer.addListener(ledger);
    }

    /** What one tunnel did, for failure messages. */
    private static final class Ctx {
        final int index;
        final Kind kind;
        final StringBuilder log = new StringBuilder();

        Ctx(int index, Kind kind) {
            this.index = index;
            this.kind = kind;
        }

        void log(String format, Object... args) {
            log.append(String.format(format, args)).append("; ");
        }

        void check(boolean ok, String what) {
            if (!ok) {
                throw new AssertionError(this + ": " + what);
            }
        }

        @Override
        public String toString() {
            return "tunnel #" + index + " " + kind + " [" + log + "]";
        }
    }

    /** Work left for after {@link Splicer#close()}. */
    private interface AfterClose {
        void check() throws Exception;
    }

    /** Runs every tunnel, closes the splicer, checks what is left; returns a summary line. Throws on any failure. */
    String run() throws Exception {
        SplittableRandom master = new SplittableRandom(seed);
        List<Kind> bag = new ArrayList<>();
        WEIGHTS.forEach((k, w) -> {
            for (int i = 0; i < w; i++) {
                bag.add(k);
            }
        });
        Map<Kind, Integer> counts = new EnumMap<>(Kind.class);
        ExecutorService runners = Executors.newFixedThreadPool(concurrency, r -> {
            Thread t = new Thread(r, "randomised-runner");
            t.setDaemon(true);
            return t;
        });
        List<Ctx> ctxs = new ArrayList<>();
        List<Future<AfterClose>> futures = new ArrayList<>();
        long started = System.nanoTime();
        List<String> failures = new ArrayList<>();
        Throwable firstFailure = null;
        try {
            for (int i = 0; i < tunnels; i++) {
                Ctx c = new Ctx(i, bag.get(master.nextInt(bag.size())));
                long tunnelSeed = master.nextLong();
                counts.merge(c.kind, 1, Integer::sum);
                ctxs.add(c);
                futures.add(runners.submit(() -> runOne(c, new SplittableRandom(tunnelSeed))));
            }
            List<AfterClose> afterClose = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            for (int i = 0; i < futures.size(); i++) {
                try {
                    AfterClose a = futures.get(i).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    if (a != null) {
                        afterClose.add(a);
                    }
                } catch (ExecutionException e) {
                    failures.add(ctxs.get(i) + ": " + e.getCause());
                    firstFailure = firstFailure == null ? e.getCause() : firstFailure;
                } catch (TimeoutException e) {
                    failures.add(ctxs.get(i) + ": not done after 120 s");
                }
            }
            splicer.close(); // ends the SPLICER_CLOSE sessions, which are still running
            for (AfterClose a : afterClose) {
                try {
                    a.check();
                } catch (Exception | AssertionError e) {
                    failures.add(e.toString());
                    firstFailure = firstFailure == null ? e : firstFailure;
                }
            }
            if (failures.isEmpty()) {
                ledger.assertEachStartedAndEndedOnce(sessions);
            }
        } finally {
            runners.shutdownNow();
            runners.awaitTermination(30, TimeUnit.SECONDS);
        }
        if (!failures.isEmpty()) {
            throw new AssertionError("seed " + seed + ": " + failures.size() + " of " + tunnels + " tunnels failed: "
                    + String.join("\n  ", failures.subList(0, Math.min(8, failures.size()))), firstFailure);
        }
        return String.format("%d tunnels %s in %d ms%s", tunnels, counts,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), stalledIdleExchanges.get() == 0 ? ""
                        : "; " + stalledIdleExchanges.get() + " idle sessions timed out mid-exchange (machine stalled)");
    }

    private AfterClose runOne(Ctx c, SplittableRandom rnd) throws Exception {
        Tunnel t = Tunnel.open(test.listener);
        boolean keepOpen = false;
        try {
            switch (c.kind) {
                case COMPLETE -> complete(c, rnd, t);
                case HALF_CLOSE_THEN_RESET -> halfCloseThenReset(c, rnd, t);
                case MID_STREAM_RESET -> midStreamReset(c, rnd, t);
                case CLOSE_WHILE_STREAMING -> closeWhileStreaming(c, rnd, t);
                case CANCEL -> cancel(c, rnd, t);
                case IDLE -> idle(c, rnd, t);
                case SPLICER_CLOSE -> {
                    AfterClose a = leftForClose(c, rnd, t);
                    keepOpen = true;
                    return a;
                }
            }
            return null;
        } finally {
            if (!keepOpen) {
                t.close();
            }
        }
    }

    // ---- the kinds -----------------------------------------------------------------------------------------------

    /** Both peers write and half-close (at once, or one after the other saw the first's end): COMPLETED. */
    private void complete(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        long up = size(rnd);
        long down = size(rnd);
        int order = rnd.nextInt(3);
        boolean withIdleTimeout = rnd.nextBoolean();
        boolean closeAtEnd = rnd.nextBoolean();
        boolean cancelAfter = rnd.nextBoolean();
        long su = rnd.nextLong();
        long sd = rnd.nextLong();
        c.log("up %d B, down %d B, %s, idle timeout %s, peers close at their end %s, cancel() after completion %s",
                up, down, new String[] {"both at once", "client first", "server first"}[order],
                withIdleTimeout ? "30 s" : "none", closeAtEnd, cancelAfter);
        SpliceSession s = splice(t, withIdleTimeout
                ? SpliceOptions.defaults().withIdleTimeout(Duration.ofSeconds(30)) : SpliceOptions.defaults());
        Future<Streams.Received> atServer = async(() -> Streams.readToEnd(t.server));
        Future<Streams.Received> atClient = async(() -> Streams.readToEnd(t.client));
        Future<String> upSent;
        Future<String> downSent;
        if (order == 0) {
            upSent = async(() -> Streams.writeAndShutdown(t.client, su, up));
            downSent = async(() -> Streams.writeAndShutdown(t.server, sd, down));
        } else if (order == 1) {
            upSent = async(() -> Streams.writeAndShutdown(t.client, su, up));
            c.check(await(atServer).equals(new Streams.Received(up, await(upSent))), "upload differs");
            downSent = async(() -> Streams.writeAndShutdown(t.server, sd, down));
        } else {
            downSent = async(() -> Streams.writeAndShutdown(t.server, sd, down));
            c.check(await(atClient).equals(new Streams.Received(down, await(downSent))), "download differs");
            upSent = async(() -> Streams.writeAndShutdown(t.client, su, up));
        }
        c.check(await(atServer).equals(new Streams.Received(up, await(upSent))), "upload differs");
        if (closeAtEnd) {
            await(downSent);
            t.server.close(); // read to its end and wrote all: a close now is a clean one
        }
        c.check(await(atClient).equals(new Streams.Received(down, await(downSent))), "download differs");
        if (closeAtEnd) {
            t.client.close();
        }
        SpliceResult r = expect(c, s, Outcome.COMPLETED);
        c.check(r.bytesAToB() == up && r.bytesBToA() == down, "counted " + r);
        if (cancelAfter) {
            s.cancel();
            c.check(s.completion().toCompletableFuture().getNow(null) == r, "cancel() after the end changed it");
            c.check(s.bytesAToB() == up && s.bytesBToA() == down, "counters moved after the end");
        }
        SpliceProviderContractTest.assertCallerOwnsSockets(t);
    }

    /**
     * X writes and half-closes, Y reads it all; then Y resets, or X resets while Y streams to it: RESET. (X resetting
     * while Y stays silent is left to {@code resetAfterHalfCloseEndsTheSessionWhileTheOtherPeerIsSilent}, which the
     * providers failed when it was written: the session then waits for Y to send.)
     */
    private void halfCloseThenReset(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        boolean xIsClient = rnd.nextBoolean();
        boolean xResets = rnd.nextBoolean();
        long n = size(rnd);
        long sx = rnd.nextLong();
        long sy = rnd.nextLong();
        SocketChannel x = xIsClient ? t.client : t.server;
        SocketChannel y = xIsClient ? t.server : t.client;
        c.log("%s writes %d B and half-closes, then %s resets", xIsClient ? "client" : "server", n,
                xResets ? "it, while the other streams to it," : "the other");
        SpliceSession s = splice(t, SpliceOptions.defaults());
        Future<String> sent = async(() -> Streams.writeAndShutdown(x, sx, n));
        c.check(Streams.readToEnd(y).equals(new Streams.Received(n, await(sent))), "half-closed stream differs");
        if (!xResets) {
            // Y's read side is at its end, but the provider still reads Y (its direction is open): it sees the reset.
            Future<Streams.Partial> atX = async(() -> Streams.readUntilEndOrFailure(x));
            reset(y);
            expect(c, s, Outcome.RESET);
            SpliceProviderContractTest.assertCallerOwnsSockets(t);
            t.closeProxySide();
            Streams.Partial p = await(atX);
            c.check(p.bytes() == 0, "bytes arrived that nobody sent: " + p);
        } else {
            Future<IOException> yStream = async(() -> Streams.writeUntilFailure(y, sy, UNTIL_FAILURE_CAP));
            long k = 1 + rnd.nextLong(64 * 1024);
            c.check(Streams.readExactlyDigest(x, k).sha256().equals(Streams.expected(sy, k, new byte[0])),
                    "the stream to the half-closed peer differs");
            reset(x);
            expect(c, s, Outcome.RESET);
            SpliceProviderContractTest.assertCallerOwnsSockets(t);
            t.closeProxySide();
            c.check(await(yStream) != null, "the streaming peer's connection must fail after the reset");
        }
    }

    /** Mid-stream, the reader resets, or the writer resets after its last write: RESET. */
    private void midStreamReset(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        boolean writerIsClient = rnd.nextBoolean();
        boolean readerResets = rnd.nextBoolean();
        boolean waitForDelivery = rnd.nextBoolean();
        long k = size(rnd);
        long sw = rnd.nextLong();
        SocketChannel w = writerIsClient ? t.client : t.server;
        SocketChannel r = writerIsClient ? t.server : t.client;
        SpliceSession s = splice(t, SpliceOptions.defaults());
        if (readerResets) {
            c.log("%s streams, the other reads %d B and resets", writerIsClient ? "client" : "server", k);
            Future<IOException> stream = async(() -> Streams.writeUntilFailure(w, sw, UNTIL_FAILURE_CAP));
            c.check(Streams.readExactlyDigest(r, k).sha256().equals(Streams.expected(sw, k, new byte[0])),
                    "stream differs");
            reset(r);
            expect(c, s, Outcome.RESET);
            SpliceProviderContractTest.assertCallerOwnsSockets(t);
            t.closeProxySide();
            c.check(await(stream) != null, "the writer's connection must fail after the reader's reset");
        } else {
            c.log("%s writes %d B and resets %s", writerIsClient ? "client" : "server", k,
                    waitForDelivery ? "once all arrived" : "at once");
            Future<Streams.Received> first = waitForDelivery ? async(() -> Streams.readExactlyDigest(r, k)) : null;
            Future<Streams.Partial> rest = waitForDelivery ? null : async(() -> Streams.readUntilEndOrFailure(r));
            await(async(() -> Streams.write(w, sw, k)));
            if (waitForDelivery) {
                c.check(await(first).sha256().equals(Streams.expected(sw, k, new byte[0])), "stream differs");
                rest = async(() -> Streams.readUntilEndOrFailure(r));
            }
            reset(w);
            expect(c, s, Outcome.RESET);
            SpliceProviderContractTest.assertCallerOwnsSockets(t);
            t.closeProxySide();
            Streams.Partial p = await(rest);
            if (waitForDelivery) {
                c.check(p.bytes() == 0, "bytes after the end of what was sent: " + p);
            } else {
                c.check(p.bytes() <= k && p.isPrefixOf(sw), "not a prefix of what was sent: " + p);
            }
        }
    }

    /** Y streams; X reads some, then closes (not a reset by itself, but unread bytes make it one): RESET. */
    private void closeWhileStreaming(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        boolean xIsClient = rnd.nextBoolean();
        long k = size(rnd);
        long sy = rnd.nextLong();
        SocketChannel x = xIsClient ? t.client : t.server;
        SocketChannel y = xIsClient ? t.server : t.client;
        c.log("%s streams, the other reads %d B and closes", xIsClient ? "server" : "client", k);
        SpliceSession s = splice(t, SpliceOptions.defaults());
        Future<IOException> stream = async(() -> Streams.writeUntilFailure(y, sy, UNTIL_FAILURE_CAP));
        c.check(Streams.readExactlyDigest(x, k).sha256().equals(Streams.expected(sy, k, new byte[0])),
                "stream differs");
        x.close();
        expect(c, s, Outcome.RESET);
        SpliceProviderContractTest.assertCallerOwnsSockets(t);
        t.closeProxySide();
        c.check(await(stream) != null, "the writer's connection must fail after the other peer closed");
    }

    /** Both peers write (no half-close); cancel() at once, after some bytes, or after a pause: CANCELLED. */
    private void cancel(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        long up = size(rnd);
        long down = size(rnd);
        int when = rnd.nextInt(3);
        long threshold = rnd.nextLong(up + down + 1);
        int pauseMs = rnd.nextInt(50);
        boolean twice = rnd.nextBoolean();
        long su = rnd.nextLong();
        long sd = rnd.nextLong();
        c.log("up %d B, down %d B, cancel() %s%s", up, down,
                new String[] {"at once", "after " + threshold + " B moved", "after " + pauseMs + " ms"}[when],
                twice ? ", from two threads at once" : "");
        SpliceSession s = splice(t, SpliceOptions.defaults());
        Future<Streams.Partial> atServer = async(() -> Streams.readUntilEndOrFailure(t.server));
        Future<Streams.Partial> atClient = async(() -> Streams.readUntilEndOrFailure(t.client));
        Future<IOException> upSent = async(() -> Streams.writeUntilFailure(t.client, su, up));
        Future<IOException> downSent = async(() -> Streams.writeUntilFailure(t.server, sd, down));
        if (when == 1) {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(RESULT_TIMEOUT_S);
            while (s.bytesAToB() + s.bytesBToA() < threshold) {
                c.check(System.nanoTime() < until, "only " + s + " moved in " + RESULT_TIMEOUT_S + " s");
                Thread.sleep(1);
            }
        } else if (when == 2) {
            Thread.sleep(pauseMs);
        }
        if (twice) {
            Future<?> other = async(() -> {
                s.cancel();
                return null;
            });
            s.cancel();
            await(other);
        } else {
            s.cancel();
        }
        long a = s.bytesAToB();
        long b = s.bytesBToA();
        SpliceResult r = expect(c, s, Outcome.CANCELLED);
        c.check(r.bytesAToB() == a && r.bytesBToA() == b,
                "bytes moved after cancel() returned: a->b " + a + ", b->a " + b + " then " + r);
        // The provider shut both sockets down: each peer reads what was delivered to its socket, then the end. But a
        // peer still sending after that gets a reset from its socket's kernel (data for a socket shut for reading
        // aborts the connection), which discards what that socket had not sent yet: cancel() is abortive. So: all
        // that was delivered and a clean end, or a prefix of it and a reset, seen by the peer's reader or its writer
        // (the kernel reports a reset once, to whichever call comes first; later reads see an end).
        checkCancelled(c, await(atServer), downSent, su, a, "at the server", r);
        checkCancelled(c, await(atClient), upSent, sd, b, "at the client", r);
        SpliceProviderContractTest.assertCallerOwnsSockets(t);
        t.closeProxySide();
        await(upSent); // done, or failed at the close: either way it ends
        await(downSent);
    }

    private static void checkCancelled(Ctx c, Streams.Partial p, Future<IOException> sameSideWriter, long seed,
                                       long delivered, String where, SpliceResult r) throws Exception {
        c.check(p.isPrefixOf(seed), where + " not a prefix of what was sent: " + p + ", " + r);
        c.check(p.bytes() <= delivered, where + " more than was delivered: " + p + ", " + r);
        if (p.bytes() < delivered && p.failure() == null) {
            IOException w;
            try {
                w = sameSideWriter.get(5, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                w = null;
            }
            c.check(w != null, where + " a clean end short of what was delivered, and no reset: " + p + ", " + r);
        }
    }

    /**
     * A short idle timeout; maybe a small exchange first; then nothing: IDLE_TIMEOUT, no sooner than due. On a machine
     * so loaded that the relay stalls for the whole timeout in the middle of the exchange, the session rightly ends
     * early; that is counted (and printed), and what arrived must still be a prefix of what was sent.
     */
    private void idle(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        Duration timeout = Duration.ofMillis(250 + rnd.nextInt(250));
        boolean exchange = rnd.nextBoolean();
        long up = exchange ? 1 + rnd.nextLong(64 * 1024) : 0;
        long down = exchange ? 1 + rnd.nextLong(64 * 1024) : 0;
        long su = rnd.nextLong();
        long sd = rnd.nextLong();
        c.log("idle timeout %d ms, exchange first: up %d B, down %d B", timeout.toMillis(), up, down);
        long start = System.nanoTime();
        SpliceSession s = splice(t, SpliceOptions.defaults().withIdleTimeout(timeout));
        long lastMove = start; // no byte moves before this; the exchange's last one after it
        Future<Streams.Partial> atServer = async(() -> Streams.readUpTo(t.server, up));
        Future<Streams.Partial> atClient = async(() -> Streams.readUpTo(t.client, down));
        if (exchange) {
            lastMove = System.nanoTime();
            await(async(() -> Streams.write(t.client, su, up)));
            await(async(() -> Streams.write(t.server, sd, down)));
        }
        SpliceResult r = expect(c, s, Outcome.IDLE_TIMEOUT);
        long elapsed = System.nanoTime() - lastMove;
        c.check(elapsed >= timeout.toNanos(), "ended after " + elapsed / 1_000_000 + " ms: " + r);
        SpliceProviderContractTest.assertCallerOwnsSockets(t);
        boolean whole = r.bytesAToB() == up && r.bytesBToA() == down;
        if (whole) {
            Streams.Partial ps = await(atServer);
            Streams.Partial pc = await(atClient);
            c.check(ps.failure() == null && ps.bytes() == up && ps.isPrefixOf(su), "upload " + ps + ", " + r);
            c.check(pc.failure() == null && pc.bytes() == down && pc.isPrefixOf(sd), "download " + pc + ", " + r);
        }
        t.closeProxySide();
        if (!whole) {
            stalledIdleExchanges.incrementAndGet();
            c.log("timed out mid-exchange after %d ms (a stall for the whole timeout): %s", elapsed / 1_000_000, r);
            Streams.Partial ps = await(atServer);
            Streams.Partial pc = await(atClient);
            c.check(ps.bytes() <= r.bytesAToB() && ps.isPrefixOf(su), "upload " + ps + ", " + r);
            c.check(pc.bytes() <= r.bytesBToA() && pc.isPrefixOf(sd), "download " + pc + ", " + r);
            return;
        }
        Streams.Partial pc = Streams.readUntilEndOrFailure(t.client);
        Streams.Partial ps = Streams.readUntilEndOrFailure(t.server);
        c.check(pc.bytes() == 0 && ps.bytes() == 0, "bytes after the timeout: " + pc + " " + ps);
    }

    /** A small exchange, then the session is left running until the splicer is closed: CANCELLED by close(). */
    private AfterClose leftForClose(Ctx c, SplittableRandom rnd, Tunnel t) throws Exception {
        long up = 1 + rnd.nextLong(64 * 1024);
        long down = 1 + rnd.nextLong(64 * 1024);
        long su = rnd.nextLong();
        long sd = rnd.nextLong();
        c.log("up %d B, down %d B, then left running for close()", up, down);
        SpliceSession s = splice(t, SpliceOptions.defaults());
        Future<Streams.Received> atServer = async(() -> Streams.readExactlyDigest(t.server, up));
        Future<Streams.Received> atClient = async(() -> Streams.readExactlyDigest(t.client, down));
        String upSha = await(async(() -> Streams.write(t.client, su, up)));
        String downSha = await(async(() -> Streams.write(t.server, sd, down)));
        c.check(await(atServer).sha256().equals(upSha), "upload differs");
        c.check(await(atClient).sha256().equals(downSha), "download differs");
        return () -> {
            try {
                SpliceResult r = s.completion().toCompletableFuture().getNow(null);
                c.check(r != null, "not complete when close() returned");
                c.check(r.outcome() == Outcome.CANCELLED && r.bytesAToB() == up && r.bytesBToA() == down,
                        "expected CANCELLED with the exchange counted, got " + r);
                SpliceProviderContractTest.assertCallerOwnsSockets(t);
                Streams.Partial pc = Streams.readUntilEndOrFailure(t.client);
                Streams.Partial ps = Streams.readUntilEndOrFailure(t.server);
                c.check(pc.failure() == null && pc.bytes() == 0 && ps.failure() == null && ps.bytes() == 0,
                        "after close() the peers must see a clean end: " + pc + " " + ps);
            } finally {
                t.close();
            }
        };
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private SpliceSession splice(Tunnel t, SpliceOptions options) {
        SpliceSession s = splicer.splice(test.endpoint(t.proxyA, null), test.endpoint(t.proxyB, null), options);
        sessions.add(s);
        return s;
    }

    /** 1 B to {@code maxSize}, uniform in the logarithm: as many tiny writes as large ones. */
    private long size(SplittableRandom rnd) {
        return Math.min(maxSize, (long) Math.exp(rnd.nextDouble() * Math.log(maxSize)));
    }

    private <T> Future<T> async(Callable<T> task) {
        return test.pool.submit(task);
    }

    private static <T> T await(Future<T> f) throws Exception {
        return SpliceProviderContractTest.await(f);
    }

    private static SpliceResult expect(Ctx c, SpliceSession s, Outcome outcome) throws Exception {
        SpliceResult r;
        try {
            r = s.completion().toCompletableFuture().get(RESULT_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(c + ": no completion after " + RESULT_TIMEOUT_S + " s, expected " + outcome
                    + "; session " + s);
        }
        c.check(r.outcome() == outcome, "expected " + outcome + ", got " + r);
        return r;
    }

    /** A reset: SO_LINGER 0, then close. */
    private static void reset(SocketChannel ch) throws IOException {
        ch.setOption(StandardSocketOptions.SO_LINGER, 0);
        ch.close();
    }
}
