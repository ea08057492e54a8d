package org.splice4j.samples;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The one interactive tunnel among {@link BenchTunnels}' bulk ones: the client sends {@value #SIZE} bytes, the target
 * echoes them, the client waits for all of them and records the round trip; both ends on threads of their own with
 * blocking I/O and TCP_NODELAY, so that what the times show is the relay's delay under load, not the load loops'.
 * A round trip starts every {@value #INTERVAL_MICROS} µs (right away when the last one took longer): back to back
 * they would take a core of the machine and a good part of the relay's wake-ups, and so skew the CPU per GiB the
 * bulk tunnels are measured for; a thousand samples a second still give a p99 of 200 and more per 20 s.
 *
 * <p>The channels belong to {@link TunnelLoad}; {@link #close} closes them early to end the threads.
 */
final class PingPongTunnel {

    static final int SIZE = 64;
    static final long INTERVAL_MICROS = 1000;
    /** The stream id of this tunnel's bytes ({@link TunnelPattern#seed}), apart from the bulk tunnels' 0..N-1. */
    private static final int TUNNEL = -1;

    private final SocketChannel client;
    private final SocketChannel target;
    private final TunnelFailures failures;
    private final LatencyHistogram histogram = new LatencyHistogram();
    private volatile boolean stopping;
    private Thread pinger;
    private Thread echo;

    /** Both channels connected and blocking, the header already exchanged. */
    PingPongTunnel(SocketChannel client, SocketChannel target, TunnelFailures failures) throws IOException {
        this.client = client;
        this.target = target;
        this.failures = failures;
        client.setOption(StandardSocketOptions.TCP_NODELAY, true);
        target.setOption(StandardSocketOptions.TCP_NODELAY, true);
    }

    LatencyHistogram histogram() {
        return histogram;
    }

    void start() {
        echo = thread("bench-tunnels-echo", this::echo);
        pinger = thread("bench-tunnels-ping", this::ping);
    }

    /**
     * Stops both threads and waits for them, bounded: closes both channels, which ends an echo blocked in a read
     * (the channels are {@link TunnelLoad}'s, which closes them too; a second close does nothing).
     */
    void close() throws IOException, InterruptedException {
        stopping = true;
        if (pinger != null) {
            pinger.join(2_000); // it waits at most an interval and one round trip
        }
        client.close(); // owner: TunnelLoad; closed here first so that the echo's read ends now
        target.close(); // owner: TunnelLoad
        if (echo != null) {
            echo.join(2_000);
        }
    }

    private static Thread thread(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void ping() {
        long seed = TunnelPattern.seed(TUNNEL, true);
        ByteBuffer out = ByteBuffer.allocateDirect(SIZE);
        ByteBuffer in = ByteBuffer.allocateDirect(SIZE);
        long next = System.nanoTime();
        try {
            for (long sent = 0; !stopping; sent += SIZE) {
                LockSupport.parkNanos(next - System.nanoTime());
                out.clear();
                TunnelPattern.fill(out, seed, sent, SIZE);
                out.flip();
                long start = System.nanoTime();
                while (out.hasRemaining()) {
                    client.write(out);
                }
                readFully(client, in.clear());
                long took = System.nanoTime() - start;
                histogram.record(took);
                int wrong = TunnelPattern.mismatches(in.flip(), seed, sent);
                if (wrong > 0) {
                    failures.wrongBytes(wrong, "ping-pong tunnel, " + wrong + " of " + SIZE + " bytes from byte "
                            + sent);
                }
                next = Math.max(start + TimeUnit.MICROSECONDS.toNanos(INTERVAL_MICROS), System.nanoTime());
            }
        } catch (IOException e) {
            if (!stopping) {
                failures.broken("ping-pong tunnel, client end", e);
            }
        }
    }

    private void echo() {
        ByteBuffer buf = ByteBuffer.allocateDirect(SIZE);
        try {
            while (!stopping) {
                readFully(target, buf.clear());
                buf.flip();
                while (buf.hasRemaining()) {
                    target.write(buf);
                }
            }
        } catch (IOException e) {
            if (!stopping) {
                failures.broken("ping-pong tunnel, target end", e);
            }
        }
    }

    private static void readFully(SocketChannel c, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            if (c.read(buf) < 0) {
                throw new EOFException("end of stream");
            }
        }
    }
}
