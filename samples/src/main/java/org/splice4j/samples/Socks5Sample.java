package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.util.concurrent.Executor;

import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;

/**
 * A SOCKS5 proxy (RFC 1928, with RFC 1929 username/password when {@code --user} is given) on Netty: it does the
 * handshake and the access control itself, then hands the two channels to
 * {@link org.splice4j.netty.SpliceRelay}, the scenario of the original TCP Splice work. Without {@code --allow} it
 * connects to loopback destinations only.
 */
final class Socks5Sample {

    private Socks5Sample() {
    }

    static void main(String[] args) throws Exception {
        Flags f = new Flags("socks5", args).only("--listen", "--allow", "--user", "--transport", "--grace",
                "--handshake-timeout", "--idle-timeout", "--max-connections", "--allow-open");
        InetSocketAddress listen = f.address("--listen");
        if (listen == null) {
            Main.usage("socks5 needs --listen");
        }
        AllowList allow = allowList(f);
        String[] user = null;
        String u = f.get("--user", null);
        if (u != null) {
            int colon = u.indexOf(':');
            if (colon <= 0 || colon > 255 || u.length() - colon - 1 > 255 || u.length() - colon - 1 == 0) {
                Main.usage("--user expects NAME:PASSWORD, each 1 to 255 characters");
            }
            user = new String[] {u.substring(0, colon), u.substring(colon + 1)};
        }
        f.refuseOpenListen(listen, !f.all("--allow").isEmpty() || user != null, "--allow or --user");
        try (TunnelServer server = f.server()) {
            start(server, listen, allow, user);
            server.runUntilShutdown(f.grace());
        }
    }

    static AllowList allowList(Flags f) {
        if (f.all("--allow").isEmpty()) {
            return AllowList.loopbackOnly();
        }
        AllowList a = new AllowList();
        try {
            for (String rule : f.all("--allow")) {
                a.add(rule);
            }
        } catch (IllegalArgumentException e) {
            Main.usage(e.getMessage());
        }
        return a;
    }

    /** Binds the proxy; {@code user} is {name, password} or null for no authentication. */
    static InetSocketAddress start(TunnelServer server, InetSocketAddress listen, AllowList allow, String[] user)
            throws InterruptedException {
        // Name resolution blocks, so it runs here, never on an event loop. Bounded: slow DNS must not make threads
        // without limit; past 16 busy threads and 1,024 waiting names a request is refused (general failure).
        Executor resolver = BoundedPool.of("socks5-resolver", 16, 1024);
        String what = "(SOCKS5, " + (user != null ? "username/password" : "no authentication") + ", allowed: "
                + allow + ")";
        return server.bind("socks5", listen, what, ch -> {
            ch.config().setAutoRead(true); // the handshake reads; the relay takes reading over
            ch.pipeline().addLast(Socks5ServerEncoder.DEFAULT);
            ch.pipeline().addLast(new Socks5InitialRequestDecoder());
            ch.pipeline().addLast(new Socks5Handler(server, allow, user, resolver));
        });
    }
}
