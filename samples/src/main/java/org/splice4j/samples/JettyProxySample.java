package org.splice4j.samples;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.ConcurrentMap;

import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import org.splice4j.jetty.SpliceConnectHandler;
import org.splice4j.jetty.SpliceProxyServlet;
import org.splice4j.jetty.SpliceUpgradeHandler;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;

/**
 * A Jetty forward proxy: {@link SpliceConnectHandler} for CONNECT, {@link SpliceUpgradeHandler} for Upgrade
 * (WebSocket over {@code ws://}) tunnels, and {@link SpliceProxyServlet} for plain HTTP, in that order. Destinations
 * are checked against the allow list (loopback only by default) after name resolution, and again on the address
 * really connected to, so a name that resolves differently the second time cannot slip past.
 */
final class JettyProxySample {

    private JettyProxySample() {
    }

    static void main(String[] args) throws Exception {
        Flags f = new Flags("jetty-proxy", args).only("--listen", "--target", "--allow", "--grace", "--buffer",
                "--handshake-timeout", "--idle-timeout", "--max-connections", "--allow-open");
        InetSocketAddress listen = f.address("--listen");
        if (listen == null) {
            Main.usage("jetty-proxy needs --listen");
        }
        InetSocketAddress target = f.address("--target");
        if (target != null && !f.all("--allow").isEmpty()) {
            Main.usage("jetty-proxy --target is a reverse proxy to that one origin: --allow has no meaning with it");
        }
        // A reverse proxy reaches its target only, which the operator chose: nothing else of this host is exposed.
        f.refuseOpenListen(listen, target != null || !f.all("--allow").isEmpty(), "--allow");
        Limits limits = f.limits();
        int buffer = 4096;
        try {
            buffer = (int) SpliceConfig.parseSize("--buffer", f.get("--buffer", null), 4096, "from 1k to 16m");
            if (buffer < 1024 || buffer > (16 << 20)) {
                Main.usage("--buffer must be from 1k to 16m, not " + f.get("--buffer", ""));
            }
        } catch (IllegalArgumentException e) {
            Main.usage(e.getMessage());
        }
        AllowList allow = target == null ? Socks5Sample.allowList(f) : null;
        Server server = target == null ? build(listen, allow, null, buffer, limits)
                : buildReverse(listen, target, null, limits);
        server.start();
        ServerConnector c = (ServerConnector) server.getConnectors()[0];
        String splicing = Splice.enabled()
                ? Splice.unavailabilityCause().map(why -> "off: " + why).orElse("on")
                : "off (-Dsplice4j.enabled=true switches it on)";
        System.out.println("jetty-proxy listening on " + c.getHost() + ":" + c.getLocalPort()
                + (target == null ? " allowing " + allow : " -> " + target.getHostString() + ":" + target.getPort())
                + " (splicing " + splicing + ")");
        System.out.flush();
        Duration grace = f.grace();
        // As the Netty samples: the default splicer's own hook would cancel spliced tunnels at once, so it goes, and
        // the splicer is closed after the grace.
        Splice.removeDefaultShutdownHook();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shutdown(server, grace);
            Splice.closeDefaultSplicer();
        }, "jetty-proxy-shutdown"));
        server.join();
    }

    /**
     * The proxy, not started.
     *
     * @param splicer the splicer, or null for the default one (splicing only with {@code -Dsplice4j.enabled=true})
     * @param bufferSize ConnectHandler's copy buffer for the tunnels it does not splice (Jetty's default is 4 KiB)
     */
    static Server build(InetSocketAddress listen, AllowList allow, Splicer splicer, int bufferSize) {
        return build(listen, allow, splicer, bufferSize, Limits.DEFAULTS);
    }

    /**
     * The proxy with these limits: the handshake timeout is the connector's idle timeout (a client silent before or
     * between requests) and the tunnels' connect timeout; the idle timeout is ConnectHandler's (the server side of a
     * tunnel) and is set on the client side of each tunnel too (it has the connector's until then); the connection
     * cap is Jetty's {@link NetworkConnectionLimit} (at the cap Jetty stops accepting until a connection closes).
     */
    static Server build(InetSocketAddress listen, AllowList allow, Splicer splicer, int bufferSize, Limits limits) {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost(listen.getHostString());
        connector.setPort(listen.getPort());
        connector.setIdleTimeout(limits.handshakeTimeout().toMillis());
        server.addConnector(connector);
        // Network connections, not Jetty Connections: ConnectionLimit stops counting a client once ConnectHandler
        // upgrades its HttpConnection to a tunnel (the tunnel's connections are not the connector's).
        server.addBean(new NetworkConnectionLimit(limits.maxConnections(), server));
        long tunnelIdle = limits.idleTimeout().toMillis();
        // Never a proxy for itself: a request without a host of its own would loop back in forever.
        Destinations destinations = new Destinations(allow, connector);

        ServletContextHandler context = new ServletContextHandler("/");
        SpliceProxyServlet servlet = new SpliceProxyServlet() {
            @Override
            public boolean validateDestination(String host, int port) {
                return destinations.allowed(host, port) && super.validateDestination(host, port);
            }

            @Override
            protected boolean allowConnectTo(InetSocketAddress resolved) {
                // Jetty's client resolves the name again: check the address it really connects to.
                return !resolved.isUnresolved() && destinations.allowed(resolved.getAddress(), resolved.getPort());
            }
        };
        if (splicer != null) {
            servlet.setSplicer(splicer);
        }
        context.addServlet(new ServletHolder(servlet), "/*");

        SpliceUpgradeHandler upgrades = new SpliceUpgradeHandler(context) {
            @Override
            public boolean validateDestination(String host, int port) {
                return destinations.allowed(host, port) && super.validateDestination(host, port);
            }

            @Override
            protected InetSocketAddress newConnectAddress(String host, int port) {
                return checked(super.newConnectAddress(host, port), destinations);
            }
        };
        SpliceConnectHandler connects = new SpliceConnectHandler(upgrades) {
            @Override
            public boolean validateDestination(String host, int port) {
                return destinations.allowed(host, port) && super.validateDestination(host, port);
            }

            @Override
            protected InetSocketAddress newConnectAddress(String host, int port) {
                return checked(super.newConnectAddress(host, port), destinations); // refused: 500, as a failed connect
            }

            @Override
            protected DownstreamConnection newDownstreamConnection(EndPoint endPoint,
                    ConcurrentMap<String, Object> context) {
                // The client side of a tunnel: from the handshake timeout to the tunnel's idle timeout.
                endPoint.setIdleTimeout(tunnelIdle);
                return super.newDownstreamConnection(endPoint, context);
            }
        };
        connects.setBufferSize(bufferSize);
        upgrades.setHandshakeTimeout(limits.handshakeTimeout().toMillis());
        upgrades.setIdleTimeout(tunnelIdle);
        connects.setConnectTimeout(limits.handshakeTimeout().toMillis());
        connects.setIdleTimeout(tunnelIdle);
        if (splicer != null) {
            upgrades.setSplicer(splicer);
            connects.setSplicer(splicer);
        }
        server.setHandler(connects);
        server.setStopTimeout(0);
        return server;
    }

    /**
     * A reverse proxy in front of one origin, not started: every request on the listening port goes to
     * {@code http://target}, through {@link SpliceProxyServlet.Transparent} mapped to {@code /*}; large response
     * bodies are spliced (client connections kept alive), and with splicing off it is Jetty's stock transparent
     * proxy. No CONNECT and no Upgrade handling: clients talk to it as to the origin. The connector's idle timeout is
     * the handshake timeout (a client silent before or between requests), the cap is Jetty's
     * {@link NetworkConnectionLimit}.
     *
     * @param splicer the splicer, or null for the default one (splicing only with {@code -Dsplice4j.enabled=true})
     */
    static Server buildReverse(InetSocketAddress listen, InetSocketAddress target, Splicer splicer, Limits limits) {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost(listen.getHostString());
        connector.setPort(listen.getPort());
        connector.setIdleTimeout(limits.handshakeTimeout().toMillis());
        server.addConnector(connector);
        server.addBean(new NetworkConnectionLimit(limits.maxConnections(), server));
        SpliceProxyServlet.Transparent servlet = new SpliceProxyServlet.Transparent();
        if (splicer != null) {
            servlet.setSplicer(splicer);
        }
        ServletHolder holder = new ServletHolder(servlet);
        String host = target.getHostString().contains(":") ? "[" + target.getHostString() + "]" : target.getHostString();
        holder.setInitParameter("proxyTo", "http://" + host + ":" + target.getPort());
        ServletContextHandler context = new ServletContextHandler("/");
        context.addServlet(holder, "/*");
        server.setHandler(context);
        server.setStopTimeout(0);
        return server;
    }

    /** The address really connected to, checked again: a name may resolve differently the second time. */
    private static InetSocketAddress checked(InetSocketAddress a, Destinations destinations) {
        if (a.isUnresolved() || !destinations.allowed(a.getAddress(), a.getPort())) {
            throw new IllegalStateException("destination not allowed: " + a);
        }
        return a;
    }

    /** Stops accepting, waits up to {@code grace} for open connections, then stops Jetty (ending every tunnel). */
    static void shutdown(Server server, Duration grace) {
        try {
            ServerConnector c = (ServerConnector) server.getConnectors()[0];
            c.close(); // no new connections
            long deadline = System.nanoTime() + grace.toNanos();
            while (!c.getConnectedEndPoints().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50); // a sample's shutdown, polling Jetty's own count of open connections
            }
            server.stop();
        } catch (Exception e) {
            System.err.println("jetty-proxy: stopping: " + e);
        }
    }

    /** The allow list applied to names (every address they resolve to must be allowed) and to addresses. */
    private record Destinations(AllowList allow, ServerConnector self) {
        boolean allowed(String host, int port) {
            try {
                InetAddress[] all = InetAddress.getAllByName(host);
                for (InetAddress a : all) {
                    if (!allowed(a, port)) {
                        return false;
                    }
                }
                return all.length > 0;
            } catch (UnknownHostException e) {
                return false;
            }
        }

        boolean allowed(InetAddress address, int port) {
            boolean itself = port == self.getLocalPort()
                    && (address.isLoopbackAddress() || address.isAnyLocalAddress() || isLocal(address));
            return !itself && allow.allows(address, port);
        }

        private static boolean isLocal(InetAddress a) {
            try {
                return NetworkInterface.getByInetAddress(a) != null;
            } catch (SocketException e) {
                return false;
            }
        }
    }
}
