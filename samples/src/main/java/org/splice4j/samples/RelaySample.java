package org.splice4j.samples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

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
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(listen, 1024);
            InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
            System.out.println("relay listening on " + bound.getHostString() + ":" + bound.getPort() + " -> "
                    + target.getHostString() + ":" + target.getPort() + " via " + splicer.providerName());
            System.out.flush();
            while (true) {
                SocketChannel client = server.accept();
                relay(splicer, client, target);
            }
        }
    }

    private static void relay(Splicer splicer, SocketChannel client, InetSocketAddress target) {
        SocketChannel backend = null;
        try {
            backend = SocketChannel.open(target);
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
        } catch (IOException | RuntimeException e) {
            System.err.println("relay: cannot connect " + client + " to " + target + ": " + e.getMessage());
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
