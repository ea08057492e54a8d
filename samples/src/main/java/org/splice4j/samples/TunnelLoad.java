package org.splice4j.samples;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * One run's load for {@link BenchTunnels}, in the bench's own process: the target it hosts (a listening socket on
 * loopback), N bulk tunnels opened through the relay (or straight to the target for the direct row), driven by two
 * {@link TunnelLoop}s (the client ends and the target ends, a thread each), and a {@link PingPongTunnel}.
 *
 * <p>Each tunnel starts with an 8-byte header, client to target: {@link #MAGIC} and the tunnel's id (-1 for the
 * ping-pong one), which tells the target which end it accepted. Tunnels open {@value #OPENERS} at a time, each
 * connect bounded by {@value #CONNECT_TIMEOUT_MILLIS} ms and the whole opening by the caller's deadline.
 *
 * <p>Owner of every socket of the run: the listening one, each tunnel's client end (opened here) and target end
 * (accepted here); {@link #close} closes them all, so no descriptor outlives the run.
 */
final class TunnelLoad implements AutoCloseable {

    static final int MAGIC = 0x53504C54; // "SPLT"
    private static final int OPENERS = 32;
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
    private static final int HEADER_TIMEOUT_MILLIS = 10_000;

    /** Bytes received so far by every end, and when: client ends (down) and target ends (up), by tunnel id. */
    record Snapshot(long nanos, long[] down, long[] up) {

        long total() {
            long t = 0;
            for (long r : down) {
                t += r;
            }
            for (long r : up) {
                t += r;
            }
            return t;
        }
    }

    private final int tunnels;
    private final TunnelFailures failures = new TunnelFailures();
    private final ServerSocketChannel server;
    private final TunnelLoop clients;
    private final TunnelLoop targets;
    private final List<SocketChannel> sockets = new ArrayList<>();
    private final CountDownLatch opened;
    private final CountDownLatch accepted;
    private final Thread acceptor;
    private ExecutorService openers;
    private volatile SocketChannel pingClient;
    private volatile SocketChannel pingTarget;
    private PingPongTunnel ping;

    TunnelLoad(int tunnels) throws IOException {
        this.tunnels = tunnels;
        this.opened = new CountDownLatch(tunnels + 1);
        this.accepted = new CountDownLatch(tunnels + 1);
        this.server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 1024);
        this.clients = new TunnelLoop(tunnels, true, failures);
        this.targets = new TunnelLoop(tunnels, false, failures);
        this.acceptor = new Thread(this::accept, "bench-tunnels-target");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Where the relay must forward to. */
    InetSocketAddress target() throws IOException {
        return (InetSocketAddress) server.getLocalAddress();
    }

    TunnelFailures failures() {
        return failures;
    }

    /**
     * Opens the tunnels through {@code via}, at most {@value #OPENERS} at a time, and waits until the target has
     * accepted every one; fails when a tunnel could not be opened or when not all were by {@code deadlineNanos}.
     */
    void open(Bench.Via via, long deadlineNanos) throws IOException, InterruptedException {
        openers = Executors.newFixedThreadPool(OPENERS, r -> {
            Thread t = new Thread(r, "bench-tunnels-open");
            t.setDaemon(true);
            return t;
        });
        for (int i = -1; i < tunnels; i++) {
            int id = i;
            openers.execute(() -> openOne(via, id));
        }
        openers.shutdown();
        while (opened.getCount() > 0 || accepted.getCount() > 0) {
            if (failures.any()) {
                throw new IOException("opening the tunnels failed: " + failures.summary());
            }
            if (System.nanoTime() - deadlineNanos > 0) {
                throw new IOException(String.format("only %d tunnels opened and %d accepted of %d in time",
                        tunnels + 1 - opened.getCount(), tunnels + 1 - accepted.getCount(), tunnels + 1));
            }
            accepted.await(50, TimeUnit.MILLISECONDS);
        }
        ping = new PingPongTunnel(pingClient, pingTarget, failures);
    }

    private void openOne(Bench.Via via, int id) {
        try {
            SocketChannel c = track(SocketChannel.open());
            c.setOption(StandardSocketOptions.TCP_NODELAY, true); // whole ticks are written at once: no Nagle wait
            c.socket().connect(via.address(), CONNECT_TIMEOUT_MILLIS);
            if (via.connectTo() != null) {
                Bench.connect(c, via.connectTo()); // bounded by open's deadline: close() ends a blocked read
            }
            ByteBuffer header = ByteBuffer.allocate(8).putInt(MAGIC).putInt(id).flip();
            while (header.hasRemaining()) {
                c.write(header);
            }
            if (id < 0) {
                pingClient = c;
            } else {
                c.configureBlocking(false);
                clients.add(id, c);
            }
            opened.countDown();
        } catch (IOException | RuntimeException e) {
            failures.broken("opening tunnel " + id, e);
        }
    }

    private void accept() {
        while (true) {
            SocketChannel c;
            try {
                c = track(server.accept());
            } catch (ClosedChannelException e) {
                return; // closed by close(): the run is over
            } catch (IOException e) {
                failures.broken("accepting a tunnel", e);
                return;
            }
            try {
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                c.socket().setSoTimeout(HEADER_TIMEOUT_MILLIS);
                // Not closed: closing the adaptor's stream would close the channel, which this load owns.
                DataInputStream in = new DataInputStream(c.socket().getInputStream());
                int magic = in.readInt();
                int id = in.readInt();
                if (magic != MAGIC || id < -1 || id >= tunnels) {
                    throw new IOException("bad tunnel header " + Integer.toHexString(magic) + " " + id);
                }
                if (id < 0) {
                    pingTarget = c;
                } else {
                    c.configureBlocking(false);
                    targets.add(id, c);
                }
                accepted.countDown();
            } catch (IOException | RuntimeException e) {
                failures.broken("the target accepting a tunnel", e);
            }
        }
    }

    private SocketChannel track(SocketChannel c) throws IOException {
        synchronized (sockets) {
            if (!server.isOpen()) {
                c.close(); // owner: this load, already closed: this late one goes at once
                throw new ClosedChannelException();
            }
            sockets.add(c);
        }
        return c;
    }

    /**
     * Starts the load: both loops at {@code rate} bytes per second per tunnel and direction (the target's ticks half
     * a tick after the client's, so the two threads take turns), and the ping-pong.
     */
    void start(long rate) {
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(10);
        clients.start(rate, start);
        targets.start(rate, start + TunnelSchedule.TICK_NANOS / 2);
        ping.start();
    }

    LatencyHistogram pingTimes() {
        return ping.histogram();
    }

    Snapshot snapshot() {
        return new Snapshot(System.nanoTime(), clients.received(), targets.received());
    }

    /** Stops the threads (bounded); then {@link #close}. */
    void stop() throws IOException, InterruptedException {
        if (ping != null) {
            ping.close();
        }
        clients.stop();
        targets.stop();
    }

    /** Closes every socket of the run, the listening one first so that nothing more is accepted. */
    @Override
    public void close() throws IOException, InterruptedException {
        stop();
        synchronized (sockets) {
            server.close(); // owner: this load
            for (SocketChannel c : sockets) {
                c.close(); // owner: this load (client ends opened, target ends accepted here)
            }
            sockets.clear();
        }
        if (openers != null) {
            openers.shutdownNow();
            openers.awaitTermination(10, TimeUnit.SECONDS);
        }
        acceptor.join(10_000);
        clients.closeSelector();
        targets.closeSelector();
    }
}
