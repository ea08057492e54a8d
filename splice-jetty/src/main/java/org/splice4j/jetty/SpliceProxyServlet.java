package org.splice4j.jetty;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.reflect.Field;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.client.transport.HttpRequest;
import org.eclipse.jetty.ee10.proxy.ProxyServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.QuietException;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.util.ssl.SslContextFactory;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerChoice;

/**
 * A {@link ProxyServlet} that splices large pass-through response bodies from the server connection to the client
 * connection.
 *
 * <p>A response is spliced when all of these hold, and goes the stock way otherwise: splicing is on and a provider
 * other than {@code copy} is available; the request is a GET from a cleartext HTTP/1.1 client connection; the
 * server answered 200 or 206 over cleartext HTTP/1.1 with a {@code Content-Length} of at least the
 * {@value #THRESHOLD_PARAM} init-parameter (default 1 MiB) and no {@code Transfer-Encoding}; and nothing between
 * the servlet and the connection can transform the content (no servlet filter wrapping the response, no
 * {@code Response} wrapper such as a compression handler in front of the context).
 *
 * <p>Destinations: {@link #validateDestination} checks the host name of a request; {@link #allowConnectTo} checks
 * the address the client then really connects to (403 when refused), since the client resolves the name again.
 *
 * <p>A spliced response keeps the client's connection alive ({@link SplicedBodyStream}): Jetty writes the head
 * (with its {@code Date} and {@code Server} headers and its own keep-alive decision), the body is spliced from the
 * server's socket to the client's, exactly Content-Length bytes (a bounded session, which reads nothing past the
 * body and nothing from the client), and Jetty then completes the response as if it had written the body: its
 * request log sees the real status and byte count, and the next request on the connection, pipelined or not, is
 * served normally. What still differs from stock, on purpose:
 * <ul>
 *   <li>The server's connection is closed after each spliced body: Jetty's client cannot be told that the body was
 *   read elsewhere, so it cannot pool the connection again.</li>
 *   <li>Byte counts taken at the connection ({@code ConnectionStatistics}, {@code Connection.getBytesOut}) miss the
 *   spliced body: it never passes Jetty's endpoint.</li>
 *   <li>A {@code StatisticsHandler} (any {@code Response.Wrapper}) in front of the context keeps every response on
 *   the stock path, as before: a wrapper could transform the body.</li>
 *   <li>A body that ends early (the server closes, resets or goes idle) closes the client's connection after the
 *   bytes that came; the request log then has what Jetty makes of a response cut short.</li>
 * </ul>
 *
 * <p>Where Jetty refuses the stream wrapper this takes, or with the init-parameter {@value #KEEP_ALIVE_PARAM} set to
 * {@code false}, a spliced response goes the closing way instead:
 * <ul>
 *   <li>The response head is written by this servlet, with {@code Connection: close}: both connections end with the
 *   response, so neither is kept alive.</li>
 *   <li>Jetty's own request log and statistics see neither the spliced bytes nor the real outcome: Jetty sees the
 *   client's connection close before its response completed and records a 500, with the size of an error page that
 *   was never sent. The servlet leaves a {@link SplicedResponse} on the request, from which {@link SplicedRequestLog},
 *   installed in place of the server's request log, writes the real line; {@link #onSplicedResponse} is the place to
 *   count spliced responses.</li>
 *   <li>Until the client closes, bytes it sends on the same connection reach the server unseen by the proxy (HTTP
 *   pipelining after a {@code Connection: close} response; clients do not do that in practice).</li>
 * </ul>
 */
public class SpliceProxyServlet extends ProxyServlet {

    private static final System.Logger LOG = System.getLogger(SpliceProxyServlet.class.getName());

    /** The init-parameter naming the smallest Content-Length that is spliced; a size such as {@code 1m}. */
    public static final String THRESHOLD_PARAM = "spliceThreshold";
    /** Its default, 1 MiB: below that, a new connection per response costs more than splicing saves. */
    public static final long DEFAULT_THRESHOLD = 1 << 20;

    /**
     * The init-parameter that, set to {@code false}, splices the closing way even where a kept-alive splice is
     * possible (default {@code true}): the servlet writes the head itself with {@code Connection: close}.
     */
    public static final String KEEP_ALIVE_PARAM = "spliceKeepAlive";

    private final LongAdder splicedResponses = new LongAdder();
    private boolean keepAlive;
    private Splicer configured;
    private Splicer splicer;
    private long threshold;

    /** The splicer to use instead of the default one; the caller keeps owning it. Set before init. */
    public void setSplicer(Splicer splicer) {
        this.configured = splicer;
    }

    /**
     * Whether the servlet's HttpClient may open a connection to {@code resolved}: the IP address and port it is about
     * to connect to, after its own name resolution. {@link #validateDestination} checks the host name of the request
     * before that resolution, and a name may resolve to another address the second time (DNS rebinding): this is
     * where an allow list of addresses is enforced on the address really connected to, as
     * {@code SpliceConnectHandler} and {@code SpliceUpgradeHandler} do in {@code newConnectAddress}.
     *
     * <p>Called on the client's threads (keep it quick and non-blocking) for every new connection, with a resolved
     * address; for each address a name resolves to, in turn, until one is allowed and reachable. Pooled connections
     * were checked when opened. If the servlet's client is configured with a proxy, this is that proxy's address. A
     * request whose every address is refused gets 403, as one refused by {@code validateDestination}. The default
     * allows every address. Overriding {@link #newClientConnector()} without calling it drops this check.
     */
    protected boolean allowConnectTo(InetSocketAddress resolved) {
        return true;
    }

    /**
     * ProxyServlet's client connector (with its default {@code SslContextFactory.Client}), which asks
     * {@link #allowConnectTo} before each connect: the one place every address the client connects to passes, after
     * its name resolution and whatever resolver it was given.
     */
    @Override
    protected ClientConnector newClientConnector() {
        ClientConnector connector = new CheckingClientConnector();
        connector.setSslContextFactory(new SslContextFactory.Client());
        return connector;
    }

    /** 403 for a connection {@link #allowConnectTo} refused; ProxyServlet's 502 or 504 otherwise. */
    @Override
    protected int proxyResponseStatus(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof DestinationRefusedException) {
                return HttpStatus.FORBIDDEN_403;
            }
        }
        return super.proxyResponseStatus(failure);
    }

    private final class CheckingClientConnector extends ClientConnector {
        @Override
        public void connect(SocketAddress address, Map<String, Object> context) {
            if (address instanceof InetSocketAddress a) {
                Throwable refusal = null;
                try {
                    if (a.isUnresolved() || !allowConnectTo(a)) {
                        refusal = new DestinationRefusedException(a, null);
                    }
                } catch (RuntimeException hookFailed) {
                    refusal = new DestinationRefusedException(a, hookFailed); // fail closed
                }
                if (refusal != null) {
                    LOG.log(Level.DEBUG, "splice4j: not connecting to {0}: refused by allowConnectTo", a);
                    // As a failed connect: the client tries the name's next address, then fails the request.
                    connectFailed(null, a, refusal, context);
                    return;
                }
            }
            // Not IP (a Unix-domain transport): no address to check.
            super.connect(address, context);
        }
    }

    /** Why the servlet's client did not connect: {@link #allowConnectTo} said no. Answered with 403. */
    static final class DestinationRefusedException extends ConnectException implements QuietException {
        DestinationRefusedException(InetSocketAddress address, Throwable cause) {
            super("destination not allowed: " + address);
            initCause(cause);
        }
    }

    /** Whether large bodies are spliced (known once initialised). */
    public boolean isSplicing() {
        return splicer != null;
    }

    public long getSpliceThreshold() {
        return threshold;
    }

    /** How many responses were spliced since init. */
    public long getSplicedResponses() {
        return splicedResponses.sum();
    }

    @Override
    public void init() throws ServletException {
        super.init();
        try {
            String k = getInitParameter(KEEP_ALIVE_PARAM);
            if (k != null && !k.equals("true") && !k.equals("false")) {
                throw new IllegalArgumentException(KEEP_ALIVE_PARAM + " is true or false, not " + k);
            }
            keepAlive = !"false".equals(k);
            threshold = SpliceConfig.parseSize(THRESHOLD_PARAM, getInitParameter(THRESHOLD_PARAM), DEFAULT_THRESHOLD,
                    "from 0 to 2g");
            Splicer s = SplicerChoice.forAdapter(configured, this).splicer().orElse(null);
            // Jetty's client closes its channel once the exchange is handed over: only a splicer that relays on its
            // own duplicates of the sockets (not the copy provider, which relays through the channels) takes the body.
            this.splicer = s != null && s.relaysOnOwnDuplicates() ? s : null;
        } catch (IllegalArgumentException e) {
            throw new ServletException(e.getMessage(), e);
        }
    }

    @Override
    protected Response.Listener newProxyResponseListener(HttpServletRequest request, HttpServletResponse response) {
        return new SplicingResponseListener(request, response);
    }

    /**
     * Called when a spliced body has ended. Kept alive: on a Jetty thread, before Jetty completes the response, and
     * {@code result.bytesBToA()} counts the body bytes the client received (the head went through Jetty). The closing
     * way: on a splicer's notifier thread once both connections are closed, and it counts the head and the body.
     */
    protected void onSplicedResponse(HttpServletRequest request, SpliceResult result) {
    }

    /** Hands a large body to the splicer at its first byte, or relays the response the stock way. */
    protected class SplicingResponseListener extends ProxyResponseListener {
        private final HttpServletRequest request;
        private final HttpServletResponse response;
        private volatile boolean handedOver;
        /** Set at the first content: the choice is made once (Jetty calls onContentSource again for each chunk). */
        private boolean decided;

        protected SplicingResponseListener(HttpServletRequest request, HttpServletResponse response) {
            super(request, response);
            this.request = request;
            this.response = response;
        }

        @Override
        public void onContentSource(Response proxyResponse, Content.Source source) {
            EndPoint[] ends = decided ? null : spliceable(proxyResponse);
            decided = true;
            if (ends == null) {
                super.onContentSource(proxyResponse, source);
                return;
            }
            // One read takes whatever the client's parser already holds: it returns all of the body left in its
            // network buffer as one chunk, and the rest is still in the socket. From here on nobody demands, so Jetty
            // no longer reads that socket.
            Content.Chunk chunk = source.read();
            if (chunk != null && (Content.Chunk.isFailure(chunk) || chunk.isLast())) {
                stock(proxyResponse, source, chunk); // a failure, or the whole body was already read
                return;
            }
            long timeout = liftTimeout(proxyResponse);
            if (timeout == NOT_LIFTED) {
                stock(proxyResponse, source, chunk);
                return;
            }
            if (keepAlive) {
                ServletContextRequest core = ServletContextRequest.getServletContextRequest(request);
                SplicedBodyStream body = SplicedBodyStream.install(core,
                        proxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH));
                if (body != null) {
                    spliceKeptAlive(proxyResponse, source, chunk, ends, body, timeout);
                    return;
                }
            }
            spliceClosing(proxyResponse, source, chunk, ends, timeout);
        }

        /**
         * The body spliced while Jetty writes the head and completes the response ({@link SplicedBodyStream}): the
         * client's connection is kept alive, the server's closed after the body.
         */
        private void spliceKeptAlive(Response proxyResponse, Content.Source source, Content.Chunk chunk,
                                     EndPoint[] ends, SplicedBodyStream body, long timeout) {
            long contentLength = proxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
            try {
                // The head, as ProxyServlet copied it onto the response, goes out through Jetty, without content.
                response.flushBuffer();
            } catch (IOException clientGone) {
                body.passThrough();
                restoreTimeout(proxyResponse, timeout);
                if (chunk != null) {
                    chunk.release();
                }
                proxyResponse.abort(clientGone);
                return;
            }
            if (!body.headSent()) {
                // Jetty did not commit through the wrapper (its internals differ from 12.1's), or the head does not
                // frame the body by the server's Content-Length: the head is out, so the closing way is closed, but
                // nothing was spliced and the stock way is still open.
                body.passThrough();
                restoreTimeout(proxyResponse, timeout);
                stock(proxyResponse, source, chunk);
                return;
            }
            AsyncContext async = request.getAsyncContext();
            // A failed body closes the client's connection: Jetty reports that as an error, which completes quietly.
            async.addListener(new CompleteOnError(() -> handedOver));
            handedOver = true;
            ByteBuffer read = chunk == null ? null : chunk.getByteBuffer();
            CompletionStage<SpliceResult> ended = body.splice(splicer, ends[0], ends[1], read,
                    contentLength - (read == null ? 0 : read.remaining()));
            if (ended == null) {
                handedOver = false;
                restoreTimeout(proxyResponse, timeout);
                stock(proxyResponse, source, chunk); // the head is out; the stream passes the body on
                return;
            }
            if (chunk != null) {
                chunk.release(); // the session copied it
            }
            splicedResponses.increment();
            Executor jetty = ServletContextRequest.getServletContextRequest(request).getComponents().getExecutor();
            ended.thenAccept(r -> execute(jetty, () -> {
                try {
                    // Jetty's client cannot be told that the body was read elsewhere: its connection closes, and with
                    // it whatever the server sent after the body.
                    proxyResponse.abort(new SplicedResponseException());
                    onSplicedResponse(request, r);
                    if (r.outcome() == SpliceResult.Outcome.BOUNDS_REACHED) {
                        SplicedBodyStream.writePlaceholders(response.getOutputStream(), contentLength);
                    }
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.DEBUG, "splice4j: completing a spliced response: " + e);
                } finally {
                    try {
                        async.complete();
                    } catch (IllegalStateException alreadyCompleted) {
                        // CompleteOnError got there first
                    }
                }
            }));
        }

        /** On a Jetty thread; on the caller's when Jetty takes no more tasks (stopping), as the exchange must end. */
        private static void execute(Executor jetty, Runnable task) {
            try {
                jetty.execute(task);
            } catch (RejectedExecutionException stopping) {
                task.run();
            }
        }

        /**
         * Today's fallback, where no stream wrapper can be put under the response: the servlet writes the head itself
         * with {@code Connection: close}, and the tunnel runs until both peers close.
         */
        private void spliceClosing(Response proxyResponse, Content.Source source, Content.Chunk chunk,
                                   EndPoint[] ends, long timeout) {
            ByteBuffer prefix = responseHead(proxyResponse, chunk);
            long headBytes = prefix.remaining() - (chunk == null ? 0 : chunk.remaining());
            SplicedSockets tunnel;
            try {
                tunnel = new SplicedSockets(splicer, SplicedSockets.Socket.of(ends[0], null),
                        SplicedSockets.Socket.of(ends[1], prefix));
            } catch (IllegalArgumentException closedMeanwhile) {
                restoreTimeout(proxyResponse, timeout);
                stock(proxyResponse, source, chunk);
                return;
            }
            AsyncContext async = request.getAsyncContext();
            // The client's connection closes when the tunnel ends, before the exchange completes: Jetty reports that
            // as an error, and this listener completes quietly instead of letting it become a 500 in the logs. It is
            // added before the tunnel starts (the tunnel may end at once) and does nothing unless the body was handed
            // over: on the stock path an error is ProxyServlet's to answer.
            async.addListener(new CompleteOnError(() -> handedOver));
            // What Jetty cannot know, for SplicedRequestLog: left before the tunnel starts, as the tunnel may end (and
            // Jetty log the request) at once.
            request.setAttribute(SplicedResponse.ATTRIBUTE,
                    new SplicedResponse(proxyResponse.getStatus(), headBytes, tunnel.result()));
            handedOver = true;
            if (!tunnel.start()) {
                request.removeAttribute(SplicedResponse.ATTRIBUTE);
                // Refused, or the splicer threw (an Error too): the tunnel gave the endpoints their idle timeouts
                // back; the exchange gets its total timeout back, and the body goes the stock way.
                handedOver = false;
                restoreTimeout(proxyResponse, timeout);
                stock(proxyResponse, source, chunk);
                return;
            }
            if (chunk != null) {
                chunk.release();
            }
            // No FIN to the server here: a server may stop sending when its client half-closes (Jetty's own server
            // sometimes does, mid-body). The tunnel ends when the client, told Connection: close, closes after the
            // body and the server closes in turn.
            // Server stop, or any other close of the client's connection by Jetty, ends the session.
            ends[0].getConnection().addEventListener(new Connection.Listener() {
                @Override
                public void onClosed(Connection connection) {
                    tunnel.closedByJetty();
                }
            });
            splicedResponses.increment();
            tunnel.result().thenAccept(r -> {
                try {
                    // Only now may Jetty's client close its connection: its close shuts the socket's output down,
                    // which mid-body would tell the server its client is gone (Jetty's own server then stops).
                    proxyResponse.abort(new SplicedResponseException());
                    onSplicedResponse(request, r);
                } finally {
                    try {
                        async.complete(); // the client connection is closed: Jetty ends the exchange quietly
                    } catch (IllegalStateException alreadyCompleted) {
                        // CompleteOnError got there first
                    }
                }
            });

        }

        /** The stock path, resumed with a chunk already read. */
        private void stock(Response proxyResponse, Content.Source source, Content.Chunk chunk) {
            if (chunk == null) {
                super.onContentSource(proxyResponse, source);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                proxyResponse.abort(chunk.getFailure());
                return;
            }
            try {
                onContent(proxyResponse, chunk,
                        () -> source.demand(() -> SplicingResponseListener.super.onContentSource(proxyResponse, source)));
            } catch (Throwable x) {
                proxyResponse.abort(x);
            } finally {
                chunk.release();
            }
        }

        @Override
        public void onComplete(Result result) {
            if (!handedOver) {
                super.onComplete(result); // a spliced response completes when its tunnel ends, not here
            }
        }

        /** The client's and the server's endpoints if this response can be spliced, else null. */
        private EndPoint[] spliceable(Response proxyResponse) {
            if (splicer == null || !HttpMethod.GET.is(request.getMethod()) || response.isCommitted()
                    // a request body would still be read from the client's socket by Jetty
                    || request.getContentLengthLong() > 0 || request.getHeader("Transfer-Encoding") != null
                    || proxyResponse.getVersion() != HttpVersion.HTTP_1_1
                    || (proxyResponse.getStatus() != 200 && proxyResponse.getStatus() != 206)
                    || proxyResponse.getHeaders().contains(HttpHeader.TRANSFER_ENCODING)
                    || proxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH) < Math.max(1, threshold)) {
                return null;
            }
            ServletContextRequest servletRequest = ServletContextRequest.getServletContextRequest(request);
            // The server's Response.Wrapper in full: the imported Response is Jetty's HTTP client's.
            if (servletRequest == null || response != servletRequest.getServletApiResponse()
                    || servletRequest.getServletContextResponse().getWrapped()
                            instanceof org.eclipse.jetty.server.Response.Wrapper) {
                return null; // something between this servlet and the connection may transform the body
            }
            ConnectionMetaData client = servletRequest.getConnectionMetaData();
            if (client.getHttpVersion() != HttpVersion.HTTP_1_1 || client.isSecure()) {
                // HTTP/2 multiplexes streams over the socket; TLS ends here
                notEligible(client.isSecure() ? "TLS to the proxy" : client.getHttpVersion() + " to the proxy");
                return null;
            }
            EndPoint clientEnd = client.getConnection().getEndPoint();
            EndPoint serverEnd = proxyResponse.getRequest() instanceof HttpRequest r
                    ? (EndPoint) r.getConversation().getAttribute(EndPoint.class.getName()) : null;
            if (SplicedSockets.spliceableSocket(clientEnd) == null
                    || SplicedSockets.spliceableSocket(serverEnd) == null) {
                notEligible("not a cleartext TCP socket: "
                        + (SplicedSockets.spliceableSocket(clientEnd) == null ? clientEnd : serverEnd));
                return null;
            }
            return new EndPoint[] {clientEnd, serverEnd};
        }

        /** A large response that splicing cannot serve: counted by the splicer's figures, events and log. */
        private void notEligible(String why) {
            splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, request.getMethod() + " " + request.getRequestURI(),
                    why);
        }

        /** The head the client gets, as ProxyServlet would send it, then the body bytes already read. */
        private ByteBuffer responseHead(Response proxyResponse, Content.Chunk firstBytes) {
            StringBuilder head = new StringBuilder(512).append("HTTP/1.1 ").append(proxyResponse.getStatus())
                    .append(' ').append(proxyResponse.getReason() == null ? "" : proxyResponse.getReason())
                    .append("\r\n");
            // ProxyServlet's onServerResponseHeaders already copied (and filtered) the server's headers here.
            for (String name : response.getHeaderNames()) {
                if (!HopByHopHeaders.SPLICED_RESPONSE_HEAD.contains(name.toLowerCase(Locale.ROOT))) {
                    for (String value : response.getHeaders(name)) {
                        head.append(name).append(": ").append(value).append("\r\n");
                    }
                }
            }
            head.append("Content-Length: ").append(proxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH))
                    .append("\r\nConnection: close\r\n\r\n");
            byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
            int body = firstBytes == null ? 0 : firstBytes.remaining();
            ByteBuffer prefix = ByteBuffer.allocate(h.length + body).put(h);
            if (body > 0) {
                prefix.put(firstBytes.getByteBuffer().duplicate());
            }
            return prefix.flip();
        }
    }

    /** What {@link #liftTimeout} returns when it cannot lift the timeout. */
    private static final long NOT_LIFTED = Long.MIN_VALUE;

    /**
     * Takes the total timeout ({@code ProxyServlet}'s {@code timeout}, 60 s by default) off the client exchange of a
     * response about to be spliced: it is fixed when the request is sent, and firing mid-body it would close the
     * server connection under the splice. The idle timeout moves to the session. Jetty 12.1 has no API for it, hence
     * reflection; where that is refused (Jetty as named modules) the response goes the stock way.
     *
     * @return the exchange's deadline before, for {@link #restoreTimeout} if the splicer refuses the body; or
     *         {@link #NOT_LIFTED}
     */
    private static long liftTimeout(Response proxyResponse) {
        try {
            Field f = timeoutField();
            long before = f.getLong(proxyResponse.getRequest());
            f.setLong(proxyResponse.getRequest(), Long.MAX_VALUE);
            return before;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(Level.DEBUG, "splice4j: cannot lift the client timeout, not splicing: " + e);
            return NOT_LIFTED;
        }
    }

    /** Gives the exchange back the deadline {@link #liftTimeout} took off: the stock path relies on it. */
    private static void restoreTimeout(Response proxyResponse, long timeoutNanoTime) {
        try {
            timeoutField().setLong(proxyResponse.getRequest(), timeoutNanoTime);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // It was set a moment ago by the same means: not expected. The idle timeouts still bound the exchange.
            LOG.log(Level.WARNING, "splice4j: cannot restore the client timeout: " + e);
        }
    }

    private static Field timeoutField() throws ReflectiveOperationException {
        Field f = HttpRequest.class.getDeclaredField("timeoutNanoTime");
        f.setAccessible(true);
        return f;
    }

    /** Completes the exchange when Jetty reports the (expected) close of a spliced response's client connection. */
    private static final class CompleteOnError implements AsyncListener {
        private final BooleanSupplier spliced;

        CompleteOnError(BooleanSupplier spliced) {
            this.spliced = spliced;
        }

        @Override
        public void onError(AsyncEvent event) {
            if (!spliced.getAsBoolean()) {
                return; // the response went the stock way after all
            }
            try {
                event.getAsyncContext().complete();
            } catch (IllegalStateException alreadyCompleted) {
                // completed by the tunnel's end
            }
        }

        @Override
        public void onComplete(AsyncEvent event) {
        }

        @Override
        public void onTimeout(AsyncEvent event) {
        }

        @Override
        public void onStartAsync(AsyncEvent event) {
        }
    }

    /** Why the client exchange of a spliced response was aborted: not a failure, and never logged. */
    static final class SplicedResponseException extends IOException
            implements QuietException {
        SplicedResponseException() {
            super("the response body was handed to the splicer", null);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }

    /**
     * A reverse proxy in front of one origin, as Jetty's {@code ProxyServlet.Transparent}: the init-parameters
     * {@code proxyTo} (the origin's URI, required) and {@code prefix} (the context-relative path mapped to it, default
     * none), and every request under it goes there, large bodies spliced as by {@link SpliceProxyServlet}.
     */
    public static class Transparent extends SpliceProxyServlet {
        private final Delegate delegate = new Delegate(this);

        @Override
        public void init(jakarta.servlet.ServletConfig config) throws ServletException {
            super.init(config);
            delegate.initFrom(config);
        }

        @Override
        protected String rewriteTarget(HttpServletRequest request) {
            return delegate.target(request);
        }

        /** Jetty's own transparent rewrite, whose methods are protected. */
        private static final class Delegate extends TransparentDelegate {
            Delegate(SpliceProxyServlet servlet) {
                super(servlet);
            }

            void initFrom(jakarta.servlet.ServletConfig config) throws ServletException {
                init(config);
            }

            String target(HttpServletRequest request) {
                return rewriteTarget(request);
            }
        }
    }
}
