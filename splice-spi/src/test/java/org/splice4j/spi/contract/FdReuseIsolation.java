package org.splice4j.spi.contract;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * Isolation under descriptor reuse: long sessions carry {@link Records} both ways through the splicer while "churn"
 * threads open, splice and end short tunnels around them (completed, cancelled mid-burst, reset mid-burst), so the
 * numbers of the caller's sockets, of the provider's dups and of its pipes are freed and taken again all the time.
 * Every receiver checks that each record is its own stream's next one, byte for byte, up to a clean end of stream.
 *
 * <p>The long sessions' peers are non-blocking channels driven by a few selector threads, so a thousand sessions
 * need no thousands of threads. Their records are released in step with the churn (record k of each stream only once
 * k/records of the churn is done), so every stream is in flight while descriptors turn over; the sessions themselves
 * are opened during the first quarter of the churn, on freshly freed numbers.
 */
final class FdReuseIsolation {

    /** Churn streams' ids start here; long sessions' ids are below. */
    private static final long CHURN_IDS = 1L << 40;
    /** Bits 42 to 61 of every id: from the seed, so record sizes and contents differ from run to run. */
    private final long salt;

    private final SpliceProviderContractTest test;
    private final Splicer splicer;
    private final long seed;
    private final int sessions;
    private final int records;
    private final int churnTarget;
    private final int churnThreads;
    private final int driverCount;
    private final long deadlineSeconds;

    private final SessionLedger ledger = new SessionLedger();
    private final Queue<SpliceSession> allSessions = new ConcurrentLinkedQueue<>();
    private final AtomicInteger churnCycles = new AtomicInteger();
    private final AtomicInteger churnDone = new AtomicInteger();
    private final AtomicInteger[] churnOutcomes = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
    private volatile boolean stop;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** Numbers of the proxy-side sockets of churn tunnels already closed. */
    private final Set<Integer> freedFds = ConcurrentHashMap.newKeySet();
    private final AtomicInteger churnReused = new AtomicInteger();
    private final AtomicInteger sessionsReused = new AtomicInteger();

    FdReuseIsolation(SpliceProviderContractTest test, Splicer splicer, long seed, int sessions, int records,
                     int churnTarget, int churnThreads, int driverCount, long deadlineSeconds) {
        this.test = test;
        this.splicer = splicer;
        this.seed = seed;
        this.salt = (seed & 0xFFFFFL) << 42;
        this.sessions = sessions;
        this.records = records;
        this.churnTarget = churnTarget;
        this.churnThreads = churnThreads;
        this.driverCount = driverCount;
        this.deadlineSeconds = deadlineSeconds;
        splicer.addListener(ledger);
    }

    /** Runs it all; returns a one-line summary for the log. */
    String run() throws Exception {
        ExecutorService threads = Peers.newPool("isolation");
        List<Conn> conns = new ArrayList<>();
        List<Driver> drivers = new ArrayList<>();
        List<Future<?>> churns = new ArrayList<>();
        List<Future<?>> driving = new ArrayList<>();
        long started = System.nanoTime();
        try {
            for (int k = 0; k < churnThreads; k++) {
                int id = k;
                churns.add(threads.submit(() -> churn(id)));
            }
            for (int d = 0; d < driverCount; d++) {
                Driver driver = new Driver();
                drivers.add(driver);
                driving.add(threads.submit(driver));
            }
            for (int i = 0; i < sessions && failure.get() == null; i++) {
                // Spread the openings over the first quarter of the churn.
                while (churnDone.get() < (long) i * churnTarget / (4L * sessions) && failure.get() == null) {
                    LockSupport.parkNanos(100_000);
                }
                Tunnel t = Tunnel.open(test.listener);
                if (freedFds.contains(FdNumbers.of(t.proxyA)) || freedFds.contains(FdNumbers.of(t.proxyB))) {
                    sessionsReused.incrementAndGet();
                }
                SpliceSession s = splicer.splice(test.endpoint(t.proxyA, null), test.endpoint(t.proxyB, null),
                        SpliceOptions.defaults().withLabel("isolation " + i));
                allSessions.add(s);
                Conn c = new Conn(i, t, s);
                conns.add(c);
                t.client.configureBlocking(false);
                t.server.configureBlocking(false);
                drivers.get(i % driverCount).inbox.add(c.client);
                drivers.get((i + 1) % driverCount).inbox.add(c.server);
            }
            for (Driver d : drivers) {
                d.handedOut = true;
            }
            long deadline = started + TimeUnit.SECONDS.toNanos(deadlineSeconds);
            for (Future<?> f : driving) {
                try {
                    f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    failure.compareAndSet(null, new AssertionError("streams not done after " + deadlineSeconds
                            + " s: " + stuck(conns)));
                    break;
                } catch (ExecutionException e) {
                    failure.compareAndSet(null, e.getCause());
                    break;
                }
            }
            stop = true;
            for (Future<?> f : churns) {
                try {
                    f.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    failure.compareAndSet(null, e.getCause());
                } catch (TimeoutException e) {
                    failure.compareAndSet(null, new AssertionError("a churn thread did not stop within 60 s"));
                }
            }
            rethrow();
            if (churnDone.get() < churnTarget) {
                throw new AssertionError("churn did " + churnDone.get() + " of " + churnTarget + " tunnels");
            }
            for (Conn c : conns) {
                SpliceResult r = SpliceProviderContractTest.result(c.session);
                String what = "session " + c.index + " " + r;
                if (r.outcome() != Outcome.COMPLETED || r.bytesAToB() != c.client.out.bytes
                        || r.bytesBToA() != c.server.out.bytes) {
                    throw new AssertionError(what + ": expected COMPLETED with a->b=" + c.client.out.bytes
                            + ", b->a=" + c.server.out.bytes);
                }
            }
            ledger.assertEachStartedAndEndedOnce(List.copyOf(allSessions));
            if (FdNumbers.available() && churnReused.get() == 0) {
                throw new AssertionError("no churn tunnel got a descriptor number freed by an earlier one");
            }
            long bytes = 0;
            for (Conn c : conns) {
                bytes += c.client.out.bytes + c.server.out.bytes;
            }
            return String.format("%d sessions x %d records each way (%.1f MiB) beside %d churn tunnels "
                            + "(%d completed, %d cancelled, %d reset) in %d ms; descriptor numbers reused by %d churn "
                            + "tunnels and %d sessions%s",
                    sessions, records, bytes / 1048576.0, churnDone.get(), churnOutcomes[0].get(),
                    churnOutcomes[1].get(), churnOutcomes[2].get(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), churnReused.get(),
                    sessionsReused.get(), FdNumbers.available() ? "" : " (numbers not readable here)");
        } finally {
            stop = true;
            failure.compareAndSet(null, new AssertionError("ended")); // stops drivers and churn that still run
            threads.shutdownNow();
            for (Conn c : conns) {
                c.tunnel.close();
            }
            threads.awaitTermination(30, TimeUnit.SECONDS);
        }
    }

    private void rethrow() throws Exception {
        Throwable t = failure.get();
        if (t instanceof Exception e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
    }

    private String stuck(List<Conn> conns) {
        List<String> out = new ArrayList<>();
        for (Conn c : conns) {
            if (!c.client.done() || !c.server.done()) {
                out.add(c.index + ": " + c.client + " " + c.server + " " + c.session);
            }
        }
        return out.size() + " of " + conns.size() + " sessions unfinished, churn at " + churnDone.get() + ": "
                + out.subList(0, Math.min(5, out.size()));
    }

    /** How many records each stream may have sent so far: in step with the churn. */
    private long allowedRecords() {
        int done = churnDone.get();
        if (stop || done >= churnTarget) {
            return records;
        }
        return Math.min(records, 1 + (long) done * records / churnTarget);
    }

    // ---- churn ---------------------------------------------------------------------------------------------------

    private Void churn(int thread) throws Exception {
        SplittableRandom random = new SplittableRandom(seed + 7919L * (thread + 1));
        try {
            while (!stop && failure.get() == null) {
                churnOnce(churnCycles.getAndIncrement(), random.nextInt(4));
                churnDone.incrementAndGet();
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            throw t;
        }
        return null;
    }

    /** One short tunnel: mode 0 and 1 a whole exchange, 2 cancelled mid-burst, 3 reset by its client mid-burst. */
    private void churnOnce(int cycle, int mode) throws Exception {
        long up = salt | (CHURN_IDS + cycle) << 1;
        long down = up | 1;
        String name = "churn tunnel " + cycle;
        List<Future<?>> writers = new ArrayList<>();
        Tunnel t = Tunnel.open(test.listener);
        int[] fds = {FdNumbers.of(t.proxyA), FdNumbers.of(t.proxyB)};
        if (freedFds.contains(fds[0]) || freedFds.contains(fds[1])) {
            churnReused.incrementAndGet();
        }
        try {
            SpliceSession s = splicer.splice(test.endpoint(t.proxyA, null), test.endpoint(t.proxyB, null),
                    SpliceOptions.defaults().withLabel(name));
            allSessions.add(s);
            if (mode < 2) {
                Records.Reader atServer = new Records.Reader(up, name + " upstream");
                Records.Reader atClient = new Records.Reader(down, name + " downstream");
                writers.add(test.pool.submit(() -> writeRecordAndShutdown(t.client, up)));
                writers.add(test.pool.submit(() -> writeRecordAndShutdown(t.server, down)));
                Future<IOException> serverRead = test.pool.submit(() -> readRecords(t.server, atServer));
                expectNoFailure(readRecords(t.client, atClient), atClient);
                expectNoFailure(SpliceProviderContractTest.await(serverRead), atServer);
                atServer.assertComplete(1);
                atClient.assertComplete(1);
                for (Future<?> w : writers) {
                    SpliceProviderContractTest.await(w);
                }
                expect(s, Outcome.COMPLETED, name);
                churnOutcomes[0].incrementAndGet();
                return;
            }
            long bulk = up | Records.BULK;
            Records.Reader atServer = new Records.Reader(bulk, name + " upstream");
            writers.add(test.pool.submit(() -> {
                try {
                    // No half-close after it: the provider keeps reading the client, and so sees its reset.
                    writeRecord(t.client, bulk);
                } catch (IOException expected) {
                    // cancelled or reset while writing
                }
                return null;
            }));
            readAtLeast(t.server, atServer, Records.HEADER + 1000);
            if (mode == 2) {
                s.cancel();
                SpliceResult r = expect(s, Outcome.CANCELLED, name);
                // The provider shut the sockets down: the server reads to a clean end what was delivered.
                expectNoFailure(readRecords(t.server, atServer), atServer);
                if (atServer.bytes != r.bytesAToB()) {
                    throw new AssertionError(name + ": server read " + atServer.bytes + " bytes, session " + r);
                }
                churnOutcomes[1].incrementAndGet();
            } else {
                Future<IOException> rest = test.pool.submit(() -> readRecords(t.server, atServer));
                t.client.setOption(StandardSocketOptions.SO_LINGER, 0);
                t.client.close();
                expect(s, Outcome.RESET, name);
                t.closeProxySide();
                SpliceProviderContractTest.await(rest); // a reset or an end, after a prefix of the record
                churnOutcomes[2].incrementAndGet();
            }
        } finally {
            t.close();
            for (Future<?> w : writers) {
                try {
                    w.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException ignored) {
                    // its failure, if it matters, was reported by the reader
                }
            }
            for (int fd : fds) {
                if (fd >= 0) {
                    freedFds.add(fd);
                }
            }
        }
    }

    private static SpliceResult expect(SpliceSession s, Outcome outcome, String name) throws Exception {
        SpliceResult r = SpliceProviderContractTest.result(s);
        if (r.outcome() != outcome) {
            throw new AssertionError(name + ": expected " + outcome + ", got " + r);
        }
        return r;
    }

    private static void expectNoFailure(IOException e, Records.Reader r) {
        if (e != null) {
            throw new AssertionError(r + ": read failed", e);
        }
    }

    private static void writeRecord(SocketChannel ch, long id) throws IOException {
        ByteBuffer b = Records.record(id, 0);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static Void writeRecordAndShutdown(SocketChannel ch, long id) throws IOException {
        writeRecord(ch, id);
        ch.shutdownOutput();
        return null;
    }

    /** Reads a blocking channel into the reader until end of stream; returns the read's failure, if any. */
    private static IOException readRecords(SocketChannel ch, Records.Reader r) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (true) {
                buf.clear();
                if (ch.read(buf) < 0) {
                    return null;
                }
                r.feed(buf.flip());
            }
        } catch (IOException e) {
            return e;
        }
    }

    private static void readAtLeast(SocketChannel ch, Records.Reader r, long n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(4096);
        while (r.bytes < n) {
            buf.clear();
            if (ch.read(buf) < 0) {
                throw new AssertionError(r + ": end of stream before " + n + " bytes");
            }
            r.feed(buf.flip());
        }
    }

    // ---- long sessions -------------------------------------------------------------------------------------------

    private final class Conn {
        final int index;
        final Tunnel tunnel;
        final SpliceSession session;
        final End client;
        final End server;

        Conn(int index, Tunnel tunnel, SpliceSession session) {
            this.index = index;
            this.tunnel = tunnel;
            this.session = session;
            long up = salt | (long) index << 1;
            long down = up | 1;
            client = new End(tunnel.client, new Records.Writer(up),
                    new Records.Reader(down, "session " + index + " downstream (at the client)"));
            server = new End(tunnel.server, new Records.Writer(down),
                    new Records.Reader(up, "session " + index + " upstream (at the server)"));
        }
    }

    /** One peer of a long session: writes one stream, reads the other. */
    private static final class End {
        final SocketChannel channel;
        final Records.Writer out;
        final Records.Reader in;
        SelectionKey key;
        volatile boolean outShut;
        volatile boolean inEof;

        End(SocketChannel channel, Records.Writer out, Records.Reader in) {
            this.channel = channel;
            this.out = out;
            this.in = in;
        }

        boolean done() {
            return outShut && inEof;
        }

        @Override
        public String toString() {
            return "[sent " + out.nextSeq + (outShut ? " and shut" : "") + ", " + in + (inEof ? " at EOF" : "") + "]";
        }
    }

    /** A selector thread driving some long sessions' peers. */
    private final class Driver implements Callable<Void> {
        final Queue<End> inbox = new ConcurrentLinkedQueue<>();
        volatile boolean handedOut;

        @Override
        public Void call() throws Exception {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            List<End> active = new ArrayList<>();
            try (Selector selector = Selector.open()) {
                while (failure.get() == null) {
                    boolean last = handedOut;
                    for (End e; (e = inbox.poll()) != null; ) {
                        e.key = e.channel.register(selector, 0, e);
                        active.add(e);
                    }
                    if (last && active.isEmpty() && inbox.isEmpty()) {
                        return null;
                    }
                    long allowed = allowedRecords();
                    for (Iterator<End> it = active.iterator(); it.hasNext(); ) {
                        End e = it.next();
                        write(e, allowed);
                        if (e.done()) {
                            e.key.cancel();
                            it.remove();
                        } else {
                            e.key.interestOps((e.inEof ? 0 : SelectionKey.OP_READ)
                                    | (e.out.midRecord() ? SelectionKey.OP_WRITE : 0));
                        }
                    }
                    selector.select(2);
                    for (SelectionKey k : selector.selectedKeys()) {
                        End e = (End) k.attachment();
                        if (k.isReadable()) {
                            read(e, buf);
                        }
                    }
                    selector.selectedKeys().clear(); // writable ones are written at the top of the loop
                }
                return null;
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                throw t;
            }
        }

        private void write(End e, long allowed) throws IOException {
            while (!e.outShut) {
                if (!e.out.midRecord()) {
                    if (e.out.nextSeq >= records) {
                        if (!stop && churnDone.get() < churnTarget) {
                            return; // streams end only once the churn is complete
                        }
                        e.channel.shutdownOutput();
                        e.outShut = true;
                        return;
                    }
                    if (e.out.nextSeq >= allowed) {
                        return;
                    }
                }
                ByteBuffer b = e.out.current();
                e.channel.write(b);
                if (b.hasRemaining()) {
                    return;
                }
            }
        }

        private void read(End e, ByteBuffer buf) throws IOException {
            for (int i = 0; i < 4 && !e.inEof; i++) {
                buf.clear();
                int n = e.channel.read(buf);
                if (n < 0) {
                    e.in.assertComplete(records);
                    e.inEof = true;
                } else if (n == 0) {
                    return;
                } else {
                    e.in.feed(buf.flip());
                }
            }
        }
    }
}
