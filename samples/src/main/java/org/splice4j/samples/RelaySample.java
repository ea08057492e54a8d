package org.splice4j.samples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * The smallest useful splice4j program: accept, connect to the target, hand both sockets to the default splicer,
 * close them when the session ends. It always relays through splice4j: the provider is {@code splice4j.provider}
 * ({@code linux} by default, {@code copy} for the baseline). It binds where {@code --listen} says; keep it on loopback.
 */
final class RelaySample {

    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;

    private RelaySample() {
    }

    static void main(String[] args) throws IOException {
        InetSocketAddress listen = null;
        InetSocketAddress target = null;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) {
                Main.usage(flag + " needs a value");
            }
            try {
                switch (flag) {
                    case "--listen" -> listen = HostPort.parse(flag, args[++i]);
                    case "--target" -> target = HostPort.parse(flag, args[++i]);
                    default -> Main.usage("unknown flag for relay: " + flag);
                }
            } catch (IllegalArgumentException e) {
                Main.usage(e.getMessage());
            }
        }
        if (listen == null || target == null) {
            Main.usage("relay needs --listen and --target");
        }
        Splicer splicer;
        try {
            splicer = Splice.splicer();
        } catch (IllegalStateException | IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
            return;
        }
        // Connects run here, off the accept thread, bounded in number: a slow target never stalls accepting.
        Executor connectors = BoundedPool.of("relay-connect", 32, 1024);
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(listen, 1024);
            InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
            System.out.println("relay listening on " + bound.getHostString() + ":" + bound.getPort() + " -> "
                    + target.getHostString() + ":" + target.getPort() + " via " + splicer.providerName());
            System.out.flush();
            AcceptBackoff backoff = new AcceptBackoff();
            InetSocketAddress to = target;
            while (server.isOpen()) {
                SocketChannel client;
                try {
                    client = server.accept();
                    backoff.reset();
                } catch (ClosedChannelException e) {
                    return;
                } catch (IOException e) {
                    // EMFILE, ENFILE, ENOBUFS: the running tunnels go on; wait a little and try again.
                    backoff.pause(e);
                    continue;
                }
                try {
                    connectors.execute(() -> relay(splicer, client, to));
                } catch (RejectedExecutionException e) {
                    closeQuietly(client); // a flood of connects to a slow target: refuse this one
                }
            }
        }
    }

    /** How long to wait after a failed accept: 10 ms doubling to 1 s, one line per failure kind and second. */
    static final class AcceptBackoff {
        private long pauseMillis;
        private long lastLog;

        void reset() {
            pauseMillis = 0;
        }

        void pause(IOException e) {
            pauseMillis = pauseMillis == 0 ? 10 : Math.min(1000, pauseMillis * 2);
            long now = System.nanoTime();
            if (now - lastLog > 1_000_000_000L) {
                System.err.println("relay: accept failed (" + e.getMessage() + "), retrying in " + pauseMillis + " ms");
                lastLog = now;
            }
            try {
                Thread.sleep(pauseMillis); // back off: the error (no descriptor left) lasts until tunnels end
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void relay(Splicer splicer, SocketChannel client, InetSocketAddress target) {
        SocketChannel backend = null;
        try {
            backend = SocketChannel.open();
            backend.socket().connect(target, CONNECT_TIMEOUT_MILLIS); // bounded: a target that never answers
            for (SocketChannel c : new SocketChannel[] {client, backend}) {
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                c.configureBlocking(false);
            }
            SpliceSession s = splicer.splice(SpliceEndpoint.of(client), SpliceEndpoint.of(backend));
            SocketChannel b = backend;
            // We own both sockets: close them once the splicer is done with them.
            s.completion().whenComplete((r, e) -> {
                closeQuietly(client);
                closeQuietly(b);
            });
        } catch (IOException | RuntimeException | Error e) {
            System.err.println("relay: cannot connect " + client + " to " + target + ": " + e);
            closeQuietly(client);
            closeQuietly(backend);
        }
    }

    private static void closeQuietly(SocketChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // nothing left to do
            }
        }
    }
}
