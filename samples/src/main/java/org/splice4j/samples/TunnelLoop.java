package org.splice4j.samples;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * One side of {@link BenchTunnels}' load, on one thread with one selector: the client ends of all tunnels (they send
 * up and check what comes down) or the target ends (they check what comes up and send down). Each end writes its
 * share on the ticks of a {@link TunnelSchedule}, from non-blocking sockets: what the socket did not take waits for
 * OP_WRITE and is regenerated then ({@link TunnelPattern} is stateless). Every byte read is checked against the
 * stream it belongs to and counted; {@link #received()} gives the counts to the bench thread.
 *
 * <p>The channels are added before {@link #start} while no thread selects (registering then cannot block); this
 * loop closes none of them: {@link TunnelLoad} owns and closes every socket of the run.
 */
final class TunnelLoop implements Runnable {

    private static final int BUFFER = 64 * 1024;

    /** One tunnel's end on this side. */
    private static final class End {
        final int tunnel;
        final SocketChannel channel;
        final SelectionKey key;
        final long sendSeed;
        final long receiveSeed;
        long sent;
        long allowed;
        boolean waitingToWrite;
        boolean dead;
        volatile long received;

        End(int tunnel, SocketChannel channel, SelectionKey key, boolean clientSide) {
            this.tunnel = tunnel;
            this.channel = channel;
            this.key = key;
            this.sendSeed = TunnelPattern.seed(tunnel, clientSide);
            this.receiveSeed = TunnelPattern.seed(tunnel, !clientSide);
        }
    }

    private final String side;
    private final boolean clientSide;
    private final End[] ends;
    private final Selector selector;
    private final TunnelFailures failures;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
    private volatile boolean stopping;
    private Thread thread;
    private TunnelSchedule schedule;

    /** @param clientSide the client ends (send up, receive down), else the target ends */
    TunnelLoop(int tunnels, boolean clientSide, TunnelFailures failures) throws IOException {
        this.side = clientSide ? "client" : "target";
        this.clientSide = clientSide;
        this.ends = new End[tunnels];
        this.selector = Selector.open();
        this.failures = failures;
    }

    /** Adds tunnel {@code tunnel}'s end, a connected non-blocking channel; before {@link #start} only. */
    synchronized void add(int tunnel, SocketChannel channel) throws IOException {
        if (thread != null || tunnel < 0 || tunnel >= ends.length || ends[tunnel] != null) {
            throw new IOException(side + ": unexpected tunnel " + tunnel);
        }
        SelectionKey key = channel.register(selector, SelectionKey.OP_READ);
        ends[tunnel] = new End(tunnel, channel, key, clientSide);
        key.attach(ends[tunnel]);
    }

    /** Starts writing at {@code rate} bytes per second per end, the first ticks at {@code startNanos}. */
    synchronized void start(long rate, long startNanos) {
        for (End e : ends) {
            if (e == null) {
                throw new IllegalStateException(side + ": not every tunnel was added");
            }
        }
        schedule = new TunnelSchedule(ends.length, rate, startNanos);
        thread = new Thread(this, "bench-tunnels-" + side);
        thread.setDaemon(true);
        thread.start();
    }

    /** Bytes received so far by each end, by tunnel id. */
    long[] received() {
        long[] r = new long[ends.length];
        for (int i = 0; i < r.length; i++) {
            End e = ends[i];
            r[i] = e == null ? 0 : e.received;
        }
        return r;
    }

    /** Stops the thread and waits for it (bounded); the channels stay open for their owner to close. */
    void stop() throws InterruptedException {
        stopping = true;
        selector.wakeup();
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.join(TimeUnit.SECONDS.toMillis(10));
            if (t.isAlive()) {
                failures.broken(side + " loop", new IllegalStateException("did not stop within 10 s"));
            }
        }
    }

    /** Closes the selector (after {@link #stop}); the channels are {@link TunnelLoad}'s. */
    void closeSelector() throws IOException {
        selector.close();
    }

    @Override
    public void run() {
        try {
            while (!stopping) {
                long now = System.nanoTime();
                while (schedule.dueNanos() - now <= 0) {
                    End e = ends[schedule.stream()];
                    e.allowed = schedule.allowance();
                    if (!e.waitingToWrite && !e.dead) {
                        send(e);
                    }
                    schedule.advance();
                }
                long wait = schedule.dueNanos() - System.nanoTime();
                // select(0) would wait for ever: at least 1 ms, about 20 ends' ticks for 1000 tunnels.
                selector.select(this::ready, Math.max(1, TimeUnit.NANOSECONDS.toMillis(wait)));
            }
        } catch (IOException | RuntimeException e) {
            failures.broken(side + " loop", e);
        }
    }

    private void ready(SelectionKey key) {
        End e = (End) key.attachment();
        if (e.dead || !key.isValid()) {
            return;
        }
        if (key.isReadable()) {
            receive(e);
        }
        if (!e.dead && key.isValid() && key.isWritable()) {
            send(e);
        }
    }

    private void send(End e) {
        try {
            while (e.sent < e.allowed) {
                int n = (int) Math.min(e.allowed - e.sent, BUFFER);
                buffer.clear();
                TunnelPattern.fill(buffer, e.sendSeed, e.sent, n);
                buffer.flip();
                int written = e.channel.write(buffer);
                e.sent += written;
                if (written < n) {
                    if (!e.waitingToWrite) {
                        e.waitingToWrite = true;
                        e.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                    }
                    return;
                }
            }
            if (e.waitingToWrite) {
                e.waitingToWrite = false;
                e.key.interestOps(SelectionKey.OP_READ);
            }
        } catch (IOException ex) {
            broke(e, "writing", ex);
        }
    }

    private void receive(End e) {
        try {
            int n = e.channel.read(buffer.clear());
            if (n < 0) {
                throw new EOFException("end of stream");
            }
            buffer.flip();
            int wrong = TunnelPattern.mismatches(buffer, e.receiveSeed, e.received);
            if (wrong > 0) {
                failures.wrongBytes(wrong, "tunnel " + e.tunnel + " " + (clientSide ? "down" : "up") + ", "
                        + wrong + " of " + n + " bytes from byte " + e.received);
            }
            e.received += n; // only this thread writes it
        } catch (IOException ex) {
            broke(e, "reading", ex);
        }
    }

    private void broke(End e, String doing, IOException ex) {
        if (stopping) {
            return;
        }
        e.dead = true;
        e.key.cancel();
        failures.broken("tunnel " + e.tunnel + ", " + side + " end " + doing, ex);
    }
}
