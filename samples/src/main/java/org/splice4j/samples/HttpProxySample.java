package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;

import org.splice4j.spi.SpliceConfig;

/**
 * An HTTP/1.1 proxy on Netty, forward (absolute-form requests, CONNECT) or, with {@code --target}, reverse
 * (origin-form requests to that one origin), kept alive on both sides: one backend connection per client connection,
 * reused while the destination stays the same. A response body with a Content-Length at or over {@code --threshold} is spliced with
 * {@link org.splice4j.netty.SpliceRelay#transfer} (the codecs stay in place and see no byte of it); smaller and chunked
 * bodies go through the codecs, as every body does when splicing is off. CONNECT tunnels are relayed with
 * {@code SpliceRelay.start} once the codecs are gone.
 *
 * <p>A forward proxy's destinations follow the socks5 sample's allow rules (loopback only unless {@code --allow}). A
 * reverse proxy reaches its target only, the operator's choice: absolute-form and CONNECT requests get a 403
 * ({@link HttpProxyHandler#REVERSE_ONLY}), {@code --allow} is refused at start (as jetty-proxy does: it would have
 * nothing to allow), and a non-loopback {@code --listen} needs no {@code --allow-open}, for nothing else of this host
 * is reachable through it. See {@link HttpProxyHandler}.
 */
final class HttpProxySample {

    /** The default threshold: bodies from 1 MiB on are spliced. */
    static final long DEFAULT_THRESHOLD = 1 << 20;

    private HttpProxySample() {
    }

    static void main(String[] args) throws Exception {
        Flags f = new Flags("http-proxy", args).only("--listen", "--target", "--allow", "--threshold", "--transport",
                "--grace", "--handshake-timeout", "--idle-timeout", "--max-connections", "--allow-open");
        InetSocketAddress listen = f.address("--listen");
        if (listen == null) {
            Main.usage("http-proxy needs --listen");
        }
        InetSocketAddress target = f.address("--target");
        long threshold = DEFAULT_THRESHOLD;
        try {
            threshold = SpliceConfig.parseSize("--threshold", f.get("--threshold", null), DEFAULT_THRESHOLD,
                    "0 or more");
        } catch (IllegalArgumentException e) {
            Main.usage(e.getMessage());
        }
        String problem = flagProblem(target, !f.all("--allow").isEmpty());
        if (problem != null) {
            Main.usage(problem);
        }
        AllowList allow = Socks5Sample.allowList(f);
        // A reverse proxy reaches its target only, which the operator chose: nothing else of this host is exposed.
        f.refuseOpenListen(listen, target != null || !f.all("--allow").isEmpty(), "--allow");
        try (TunnelServer server = f.server()) {
            start(server, listen, target, allow, threshold);
            server.runUntilShutdown(f.grace());
        }
    }

    /** Why these flags cannot go together, or null: with --target the proxy forwards nothing, so --allow is moot. */
    static String flagProblem(InetSocketAddress target, boolean allowGiven) {
        return target != null && allowGiven
                ? "http-proxy --target is a reverse proxy to that one origin: --allow has no meaning with it" : null;
    }

    /** Binds the proxy; {@code target} (may be null) receives the origin-form requests. */
    static InetSocketAddress start(TunnelServer server, InetSocketAddress listen, InetSocketAddress target,
                                   AllowList allow, long threshold) throws InterruptedException {
        // Name resolution blocks, so it runs here, never on an event loop (bounded as in the socks5 sample).
        Executor resolver = BoundedPool.of("http-proxy-resolver", 16, 1024);
        // Splicing off: every body goes through the codecs, the stock way (the transfer would copy past them).
        long spliceFrom = server.relay.splicer().isPresent() ? threshold : Long.MAX_VALUE;
        String what = "(HTTP/1.1" + (target != null ? ", reverse to " + target.getHostString() + ":"
                + target.getPort() : "") + ", allowed: " + allow + (spliceFrom == Long.MAX_VALUE
                ? ", bodies through the codecs)" : ", splicing bodies from " + threshold + " bytes)");
        long idle = server.limits.idleTimeout().toMillis();
        return server.bind("http-proxy", listen, what, ch -> {
            ch.config().setAutoRead(true); // the codec reads; a transfer or the tunnel relay takes reading over
            // A kept-alive client silent for the idle timeout between requests is closed (the handler decides).
            ch.pipeline().addLast("http-idle", new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS));
            ch.pipeline().addLast("http-server", new HttpServerCodec());
            ch.pipeline().addLast("http-proxy", new HttpProxyHandler(server, target, allow, spliceFrom, resolver));
        });
    }
}
