package org.splice4j.jetty;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.NetworkConnector;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.AsciiLowerCaseSet;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.HostPort;
import org.eclipse.jetty.util.IncludeExclude;
import org.eclipse.jetty.util.StringUtil;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerChoice;

/**
 * HTTP/1.1 Upgrade tunnels (WebSocket over {@code ws://}, or any other protocol) through a forward proxy, which stock
 * {@code ProxyServlet} does not offer: it strips the {@code Upgrade} header (Jetty issues 8883 and 10811).
 *
 * <p>Put it in front of the context that holds the proxy servlet (and behind a {@link SpliceConnectHandler}, which
 * takes the CONNECT requests, {@code wss://} included). For an HTTP/1.1 GET with {@code Connection: Upgrade} and an
 * {@code Upgrade} header whose destination is another server (the authority of a request in absolute form,
 * {@code GET http://host:port/path}, as clients send it to a proxy; Jetty takes it from {@code Host} otherwise, as
 * {@code ProxyServlet} does) it connects to that destination, sends the request in origin form ({@code Host} set to
 * the authority that was checked, hop-by-hop headers dropped, a {@code Via} added), and relays the answer: a 101
 * goes back to the client with the server's headers, and then both sockets are spliced (copied, through a small
 * portable relay, when splicing is off); any other status is relayed with its body (up to 64 KiB) and the connection
 * closed. Upgrades addressed to this server itself (a WebSocket application behind this handler), requests with a
 * body, and connections that are not cleartext HTTP/1.1 go to the next handler unchanged; a request that already
 * went through this handler gets 508.
 *
 * <p>Access control mirrors {@code ConnectHandler}: {@link #handleAuthentication} (407 when false), the host
 * include/exclude list of {@link #getHostIncludeExclude()} and {@link #validateDestination} (403 when false). A
 * server that cannot be reached gets 502, one that does not answer in time 504, as {@code ProxyServlet} answers.
 * The handshake with the server runs on the Jetty thread that handles the request, bounded as a whole by
 * {@link #setHandshakeTimeout} (default 15 s; the connect alone also by {@link #setConnectTimeout}).
 * {@link #setIdleTimeout} is the tunnel's idle timeout (default 30 s, as {@code ConnectHandler}'s).
 */
public class SpliceUpgradeHandler extends Handler.Wrapper {

    private static final System.Logger LOG = System.getLogger(SpliceUpgradeHandler.class.getName());
    private static final int MAX_RELAYED_BODY = 64 * 1024;

    private final IncludeExclude<String> hosts = new IncludeExclude<>(AsciiLowerCaseSet.class);
    private final LongAdder spliced = new LongAdder();
    private final LongAdder copied = new LongAdder();
    /** This handler's token in {@code Via}, to recognise a request that already went through it. */
    private final String via = "splice4j-" + Integer.toHexString(System.identityHashCode(this));
    private long connectTimeout = 15_000;
    private long handshakeTimeout = 15_000;
    private long idleTimeout = 30_000;
    private Splicer configured;
    private SplicerChoice choice;
    /** Relays tunnels by copying when splicing is off; made at start, closed at stop. */
    private Splicer copier;

    public SpliceUpgradeHandler() {
    }

    public SpliceUpgradeHandler(Handler handler) {
        super(handler);
    }

    /** The splicer to use instead of the default one; the caller keeps owning it. Set before start. */
    public void setSplicer(Splicer splicer) {
        this.configured = splicer;
    }

    public boolean isSplicing() {
        SplicerChoice c = choice;
        return c != null && c.splicer().isPresent();
    }

    public long getConnectTimeout() {
        return connectTimeout;
    }

    /** The most the connect alone may take, in milliseconds, within {@link #setHandshakeTimeout the handshake's}. */
    public void setConnectTimeout(long millis) {
        this.connectTimeout = millis;
    }

    public long getHandshakeTimeout() {
        return handshakeTimeout;
    }

    /**
     * The deadline for the whole exchange with the server before the tunnel opens, in milliseconds (default 15 s):
     * from the start of the upgrade request's handling (name resolution counts against it, though a lookup already
     * under way cannot be cut short) through the connect to the end of the server's response head, interim answers
     * included (at most eight of them; more get a 502), and a refusal's body. Every blocking read waits only for
     * the time left, so a server that trickles its head, or sends {@code 102 Processing} forever, cannot hold the
     * Jetty thread that runs this handler longer than that; the client then gets a 504.
     */
    public void setHandshakeTimeout(long millis) {
        this.handshakeTimeout = millis;
    }

    public long getIdleTimeout() {
        return idleTimeout;
    }

    /** The tunnel's idle timeout in milliseconds; 0 or less for none. */
    public void setIdleTimeout(long millis) {
        this.idleTimeout = millis;
    }

    /** The {@code host:port} strings allowed and refused, as {@code ConnectHandler.getHostIncludeExclude()}. */
    public IncludeExclude<String> getHostIncludeExclude() {
        return hosts;
    }

    /** Tunnels relayed by the splicer since start. */
    public long getSplicedTunnels() {
        return spliced.sum();
    }

    /** Tunnels relayed by copying since start. */
    public long getCopiedTunnels() {
        return copied.sum();
    }

    @Override
    protected void doStart() throws Exception {
        choice = SplicerChoice.forAdapter(configured, this);
        // A small portable relay for the tunnels the splicer does not take: 64 KiB per direction, not the copy
        // provider's 1 MiB default, since WebSocket tunnels are many and mostly idle.
        copier = Splice.newSplicer(SpliceConfig.defaults().withProvider(Splice.COPY).withCopyBufferSize(64 * 1024));
        spliced.reset();
        copied.reset();
        super.doStart();
    }

    @Override
    protected void doStop() throws Exception {
        super.doStop();
        Splicer c = copier;
        copier = null;
        if (c != null) {
            c.close(); // ends the copied tunnels still open; the connector's stop ends the spliced ones
        }
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        HttpURI uri = request.getHttpURI();
        if (!isProxiedUpgrade(request, uri)) {
            return super.handle(request, response, callback);
        }
        EndPoint clientSide = request.getConnectionMetaData().getConnection().getEndPoint();
        if (SplicedSockets.spliceableSocket(clientSide) == null) {
            SplicerChoice c = choice;
            if (c != null && c.splicer().isPresent()) {
                c.splicer().get().recordFallback(SpliceFallback.NOT_ELIGIBLE, "upgrade " + uri.getAuthority(),
                        "not a cleartext TCP socket: " + clientSide);
            }
            return super.handle(request, response, callback); // TLS to the proxy, or not TCP: not ours
        }
        // This thread is Jetty's: from here until the tunnel opens or the client has its answer, one deadline.
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(1, handshakeTimeout));
        String address = uri.getAuthority();
        HostPort target = new HostPort(address);
        int port = target.getPort(80);
        if (isThisServer(target.getHost(), port)) {
            // Jetty fills the host of an origin-form request from Host: a WebSocket application of this server
            // itself is not a destination to proxy to (and proxying to itself would loop).
            return super.handle(request, response, callback);
        }
        if (request.getHeaders().getCSV(HttpHeader.VIA, false).stream().anyMatch(v -> v.endsWith(via))) {
            refuse(request, response, callback, HttpStatus.LOOP_DETECTED_508);
            return true;
        }
        if (!handleAuthentication(request, response, address)) {
            refuse(request, response, callback, HttpStatus.PROXY_AUTHENTICATION_REQUIRED_407);
            return true;
        }
        if (!validateDestination(target.getHost(), port)) {
            refuse(request, response, callback, HttpStatus.FORBIDDEN_403);
            return true;
        }
        BackendHandshake server;
        try {
            server = BackendHandshake.connect(newConnectAddress(target.getHost(), port), connectTimeout, deadline);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "splice4j: upgrade tunnel to " + address + " cannot connect", e);
            refuse(request, response, callback, e instanceof SocketTimeoutException
                    ? HttpStatus.GATEWAY_TIMEOUT_504 : HttpStatus.BAD_GATEWAY_502);
            return true;
        }
        boolean handedOver = false;
        try {
            server.sendRequest(request.getMethod(), uri.getPathQuery() == null ? "/" : uri.getPathQuery(),
                    target.getHost().contains(":") && !target.getHost().startsWith("[")
                            ? "[" + target.getHost() + "]:" + port : target.getHost() + ":" + port,
                    request.getHeaders(), "1.1 " + via);
            BackendHandshake.Head head = server.readResponseHead();
            if (head.status() != HttpStatus.SWITCHING_PROTOCOLS_101) {
                relayRefusal(server, head, request, response, callback);
                return true;
            }
            copyHeaders(head, response);
            response.setStatus(HttpStatus.SWITCHING_PROTOCOLS_101);
            SocketChannel serverChannel = server.handOver();
            handedOver = true;
            UpgradedClientConnection upgraded = new UpgradedClientConnection(clientSide, serverChannel,
                    server.readAhead());
            // If the 101 cannot be written (the client went away), Jetty never opens the tunnel: close the server.
            Request.addCompletionListener(request, failure -> {
                if (failure != null) {
                    upgraded.closeServerUnlessOpened();
                }
            });
            // Jetty upgrades the client's endpoint to this connection once the 101 is written; it then opens it.
            request.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, upgraded);
            callback.succeeded();
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "splice4j: upgrade tunnel to " + address + " failed during its handshake", e);
            refuse(request, response, callback, e instanceof SocketTimeoutException
                    ? HttpStatus.GATEWAY_TIMEOUT_504 : HttpStatus.BAD_GATEWAY_502);
        } finally {
            if (!handedOver) {
                server.close(); // ours until the tunnel owns it
            }
        }
        return true;
    }

    /**
     * Whether {@code request} asks this proxy for an Upgrade tunnel: HTTP/1.1, a bodiless GET in absolute form with an
     * http or ws scheme, {@code Connection: Upgrade} and an {@code Upgrade} header.
     */
    protected boolean isProxiedUpgrade(Request request, HttpURI uri) {
        if (request.getConnectionMetaData().getHttpVersion() != HttpVersion.HTTP_1_1
                || !HttpMethod.GET.is(request.getMethod()) || uri.getHost() == null || uri.getScheme() == null) {
            return false;
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("ws")) {
            return false;
        }
        if (request.getLength() > 0 || request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING)) {
            return false;
        }
        return request.getHeaders().contains(HttpHeader.UPGRADE)
                && request.getHeaders().contains(HttpHeader.CONNECTION, "upgrade");
    }

    /** The address to connect to for {@code host:port}; override to check the resolved address too. */
    protected InetSocketAddress newConnectAddress(String host, int port) {
        return new InetSocketAddress(host, port);
    }

    /** Whether {@code host:port} is one of this server's own connectors. */
    private boolean isThisServer(String host, int port) {
        if (getServer() == null) {
            return false;
        }
        boolean ourPort = false;
        for (Connector c : getServer().getConnectors()) {
            if (c instanceof NetworkConnector n && n.getLocalPort() == port) {
                ourPort = true;
            }
        }
        if (!ourPort) {
            return false;
        }
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (a.isLoopbackAddress() || a.isAnyLocalAddress() || NetworkInterface.getByInetAddress(a) != null) {
                    return true;
                }
            }
        } catch (IOException unknown) {
            return false;
        }
        return false;
    }

    /** As {@code ConnectHandler.handleAuthentication}: true to go on, false for a 407. The default allows all. */
    protected boolean handleAuthentication(Request request, Response response, String address) {
        return true;
    }

    /** As {@code ConnectHandler.validateDestination}: checks {@code host:port} against the include/exclude list. */
    public boolean validateDestination(String host, int port) {
        return hosts.test(host + ":" + port);
    }

    /** Called when a tunnel has ended and both sockets are closed, on a splicer's notifier thread. */
    protected void onTunnelEnded(SpliceResult result) {
    }

    private static void refuse(Request request, Response response, Callback callback, int status) {
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        Response.writeError(request, response, callback, status);
    }

    private static void copyHeaders(BackendHandshake.Head head, Response response) {
        // The server's own Date and Server replace the ones Jetty prepared.
        response.getHeaders().remove(HttpHeader.DATE);
        response.getHeaders().remove(HttpHeader.SERVER);
        for (String[] f : head.fields()) {
            // Response headers that concern only the hop from the server to the proxy stay here.
            if (!HopByHopHeaders.UPGRADE_RESPONSE.contains(f[0].toLowerCase(Locale.ROOT))) {
                response.getHeaders().add(f[0], f[1]);
            }
        }
    }

    /** The server said no: pass its status, headers and a small body on, then close this connection. */
    private static void relayRefusal(BackendHandshake server, BackendHandshake.Head head, Request request,
                                     Response response, Callback callback) throws IOException {
        String length = head.get("content-length");
        byte[] body = new byte[0];
        if (length != null && StringUtil.isNotBlank(length)) {
            long n;
            try {
                n = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                throw new IOException("malformed Content-Length from the server: " + length);
            }
            if (n > 0 && n <= MAX_RELAYED_BODY) {
                body = server.readBody((int) n);
            }
        }
        copyHeaders(head, response);
        response.getHeaders().remove(HttpHeader.UPGRADE);
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        response.setStatus(head.status());
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /**
     * What the client's endpoint becomes after the 101: a connection that never reads. On open it hands both sockets
     * to the splicer, or to the copying relay when splicing is off or refused.
     */
    private final class UpgradedClientConnection extends AbstractConnection implements Connection.UpgradeTo {
        private final SocketChannel server;
        private final ByteBuffer serverReadAhead;
        private ByteBuffer clientReadAhead;
        private volatile SplicedSockets tunnel;
        private volatile boolean closed;
        private final AtomicBoolean opened = new AtomicBoolean();

        UpgradedClientConnection(EndPoint endPoint, SocketChannel server, ByteBuffer serverReadAhead) {
            super(endPoint, Runnable::run);
            this.server = server;
            this.serverReadAhead = serverReadAhead;
        }

        @Override
        public void onUpgradeTo(ByteBuffer buffer) {
            clientReadAhead = buffer; // bytes the client sent after its request, in a buffer Jetty gave away
        }

        /** The 101 was not written: the tunnel never opens, and nobody else closes the server's socket. */
        void closeServerUnlessOpened() {
            if (opened.compareAndSet(false, true)) {
                closeServer();
            }
        }

        private void closeServer() {
            try {
                server.close(); // this handler opened it and no relay took it
            } catch (IOException ignored) {
                // closing anyway
            }
        }

        @Override
        public void onOpen() {
            super.onOpen();
            if (!opened.compareAndSet(false, true)) {
                close(); // the exchange failed meanwhile and the server's socket is closed
                return;
            }
            long timeout = idleTimeout;
            getEndPoint().setIdleTimeout(timeout > 0 ? timeout : 0);
            SplicerChoice c = choice;
            Splicer copying = copier;
            // A splicer that refuses or throws (an Error too) leaves the endpoint as it was: the copier takes over,
            // and if it cannot either, both sockets are closed, so that the client is not left with a dead tunnel.
            if (c.splicer().isPresent() && start(c.splicer().get())) {
                spliced.increment();
            } else if (copying != null && start(copying)) {
                copied.increment();
            } else {
                LOG.log(Level.DEBUG, "splice4j: no relay took the upgrade tunnel from {0}; closing it",
                        getEndPoint().getRemoteSocketAddress());
                close();
                closeServer();
            }
        }

        private boolean start(Splicer splicer) {
            SplicedSockets.Socket client;
            try {
                client = SplicedSockets.Socket.of(getEndPoint(), clientReadAhead);
            } catch (IllegalArgumentException closedMeanwhile) {
                return false;
            }
            SplicedSockets t = new SplicedSockets(splicer, client,
                    SplicedSockets.Socket.ofOwned(server, serverReadAhead));
            tunnel = t;
            if (!t.start()) {
                return false;
            }
            if (closed) {
                t.closedByJetty();
            }
            t.result().thenAccept(SpliceUpgradeHandler.this::onTunnelEnded);
            return true;
        }

        @Override
        public void onFillable() {
            // never fill-interested: the relay reads
        }

        @Override
        public boolean onIdleExpired(TimeoutException timeout) {
            return false; // the relay enforces the idle timeout
        }

        @Override
        public void onClose(Throwable cause) {
            closed = true;
            SplicedSockets t = tunnel;
            if (t != null) {
                t.closedByJetty();
            }
            super.onClose(cause);
        }
    }
}
