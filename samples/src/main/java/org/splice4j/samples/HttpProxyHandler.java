package org.splice4j.samples;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;

import org.splice4j.spi.SpliceResult;

/**
 * One client connection of the http-proxy, after its {@code HttpServerCodec}: requests are answered one at a time, in
 * order, over one backend connection kept alive for the next request (a new one when the destination changes or the
 * backend cannot be reused). A request the client pipelines meanwhile waits in {@link #inbox}.
 *
 * <p>A response body with a Content-Length at or over the threshold is not decoded: the backend's
 * {@link SplicingResponseDecoder} stops after its head, the head goes to the client through the codec, and the body
 * goes by {@link org.splice4j.netty.SpliceRelay#transfer} (spliced, or copied past the codecs), after which both codecs
 * are set back to the start of a message. CONNECT becomes a tunnel ({@code SpliceRelay.start}) once the codecs are
 * gone.
 *
 * <p>Both channels live on the client's event loop ({@link TunnelServer#connect}): every method runs there.
 */
final class HttpProxyHandler extends ChannelInboundHandlerAdapter {

    private enum State {
        /** No request in progress: the next one in the inbox starts. */
        IDLE,
        /** A request's destination is being resolved or connected. */
        CONNECTING,
        /** The request went to the backend (its body may still be going); its response is awaited or coming. */
        EXCHANGING,
        /** A response body is being transferred (spliced or copied) past the codecs. */
        TRANSFERRING,
        /** CONNECT: the channel now belongs to the tunnel relay. */
        TUNNEL,
        /** The connection is over. */
        CLOSED
    }

    /** More pipelined messages than this and the client is not read until the inbox drains. */
    private static final int INBOX_LIMIT = 64;
    /** The answer of a reverse proxy to an absolute-form or CONNECT request: the reason phrase says why. */
    static final HttpResponseStatus REVERSE_ONLY = new HttpResponseStatus(403,
            "Forbidden: a reverse proxy (--target) serves origin-form requests to its target only");

    private final TunnelServer server;
    private final InetSocketAddress target;
    private final AllowList allow;
    private final long threshold;
    private final Executor resolver;
    private final ArrayDeque<HttpObject> inbox = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private State state = State.IDLE;
    /** Whether the request in progress sent its last content. */
    private boolean requestDone;
    private boolean keepAliveRequest;
    /** Whether the response in progress has started towards the client. */
    private boolean responseStarted;
    /** Whether an interim (1xx) head went to the client and its decoder-made empty last content is still to come. */
    private boolean interim;
    private Channel backend;
    private InetSocketAddress backendAddress;
    private SplicingResponseDecoder decoder;
    private ScheduledFuture<?> deadline;
    private ByteBuf tunnelAhead;
    /** Counts requests started: a resolution or connect that finishes for an earlier one is dropped. */
    private int exchange;

    HttpProxyHandler(TunnelServer server, InetSocketAddress target, AllowList allow, long threshold,
                     Executor resolver) {
        this.server = server;
        this.target = target;
        this.allow = allow;
        this.threshold = threshold;
        this.resolver = resolver;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.TUNNEL && msg instanceof ByteBuf b) {
            // The removed codec's leftovers (bytes after the CONNECT request): the tunnel's first bytes.
            if (tunnelAhead == null) {
                tunnelAhead = ctx.alloc().buffer(b.readableBytes());
            }
            tunnelAhead.writeBytes(b);
            b.release();
            return;
        }
        if (!(msg instanceof HttpObject o) || state == State.CLOSED || state == State.TUNNEL) {
            ReferenceCountUtil.release(msg);
            return;
        }
        inbox.add(o);
        drain();
    }

    /** Moves the inbox on: starts the next request, or forwards the body of the one in progress. */
    private void drain() {
        while (!inbox.isEmpty()) {
            if (state == State.IDLE) {
                HttpObject o = inbox.poll();
                if (o instanceof HttpRequest req) {
                    start(req);
                } else {
                    ReferenceCountUtil.release(o); // a body part of a request already refused
                }
            } else if (state == State.EXCHANGING && !requestDone && backend != null) {
                HttpObject o = inbox.poll();
                if (o instanceof HttpContent c) {
                    requestDone = c instanceof LastHttpContent;
                    backend.write(c);
                    if (requestDone || !backend.isWritable()) {
                        backend.flush();
                    }
                } else {
                    ReferenceCountUtil.release(o);
                    fail("a request head inside a request body");
                    return;
                }
            } else {
                break; // the request's turn comes when the one in progress is answered
            }
        }
        if (state != State.CLOSED && state != State.TUNNEL) {
            ctx.channel().config().setAutoRead(inbox.size() < INBOX_LIMIT);
        }
    }

    private void start(HttpRequest req) {
        if (!req.decoderResult().isSuccess()) {
            ReferenceCountUtil.release(req);
            reply(HttpResponseStatus.BAD_REQUEST, true);
            return;
        }
        exchange++;
        keepAliveRequest = HttpUtil.isKeepAlive(req);
        requestDone = req instanceof LastHttpContent;
        responseStarted = false;
        interim = false;
        if (target != null && !RequestTarget.isOriginForm(req)) {
            // A reverse proxy reaches --target only: no forward requests, no tunnels, whatever the allow list.
            ReferenceCountUtil.release(req);
            reply(REVERSE_ONLY, true); // its body, if any, is not read: the connection ends
            return;
        }
        RequestTarget to;
        try {
            to = RequestTarget.of(req, target);
        } catch (IllegalArgumentException e) {
            ReferenceCountUtil.release(req);
            reply(HttpResponseStatus.BAD_REQUEST, true);
            return;
        }
        InetSocketAddress where = to.address();
        req.headers().remove("Proxy-Connection");
        state = State.CONNECTING;
        boolean trusted = to.operatorChosen();
        int seq = exchange;
        if (!where.isUnresolved()) {
            route(req, where, trusted, seq);
            return;
        }
        String host = where.getHostString();
        int port = where.getPort();
        try {
            resolver.execute(() -> {
                InetAddress address;
                try {
                    // Resolved once: the allow list is checked against, and the connection made to, this address.
                    address = InetAddress.getByName(host);
                } catch (UnknownHostException | RuntimeException e) {
                    ctx.executor().execute(() -> {
                        ReferenceCountUtil.release(req);
                        if (seq == exchange && state == State.CONNECTING) {
                            reply(HttpResponseStatus.BAD_GATEWAY, false);
                        }
                    });
                    return;
                }
                ctx.executor().execute(() -> route(req, new InetSocketAddress(address, port), trusted, seq));
            });
        } catch (RejectedExecutionException e) {
            ReferenceCountUtil.release(req);
            reply(HttpResponseStatus.SERVICE_UNAVAILABLE, false);
        }
    }

    /** Checks the destination, then sends the request over a kept-alive backend connection or a new one. */
    private void route(HttpRequest req, InetSocketAddress where, boolean trusted, int seq) {
        if (seq != exchange || state != State.CONNECTING || !ctx.channel().isActive()) {
            ReferenceCountUtil.release(req);
            return; // the client left while its destination was resolved
        }
        // --target is the operator's choice (with --target, the only destination: start() refused the others).
        if (!trusted && (server.isOwnAddress(where) || !allow.allows(where.getAddress(), where.getPort()))) {
            ReferenceCountUtil.release(req);
            reply(HttpResponseStatus.FORBIDDEN, false);
            return;
        }
        if (req.method().equals(HttpMethod.CONNECT)) {
            closeBackend();
            ReferenceCountUtil.release(req);
            connect(where, out -> tunnel(out));
            return;
        }
        // A decoder still holding bytes got some past the last response (a partial stray head): they would be taken
        // for the start of this request's response, so that connection is not reused.
        if (backend != null && backend.isActive() && where.equals(backendAddress) && !decoder.holdsBytes()) {
            send(req);
            return;
        }
        closeBackend();
        connect(where, out -> {
            backend = out;
            backendAddress = where;
            decoder = new SplicingResponseDecoder(threshold);
            out.pipeline().addLast("http-encoder", new HttpRequestEncoder());
            out.pipeline().addLast("http-decoder", decoder);
            out.pipeline().addLast("http-backend", new Backend());
            out.config().setAutoRead(true);
            send(req);
        });
    }

    /** Connects under the handshake deadline; a failure answers 502 (504 past the deadline). */
    private void connect(InetSocketAddress where, java.util.function.Consumer<Channel> then) {
        Channel in = ctx.channel();
        int seq = exchange;
        armDeadline(server.limits.handshakeTimeout().toMillis());
        server.connect(in, where).addListener(f -> {
            Channel out = ((ChannelFuture) f).channel();
            if (seq != exchange || state != State.CONNECTING || !in.isActive()) {
                out.close(); // the client left, or the deadline answered, while connecting
                return;
            }
            cancelDeadline();
            if (!f.isSuccess()) {
                reply(HttpResponseStatus.BAD_GATEWAY, false);
                return;
            }
            then.accept(out);
        });
    }

    private void send(HttpRequest req) {
        state = State.EXCHANGING;
        decoder.sent(req.method());
        // Waiting for the response head is bounded by the idle timeout; it is cancelled once the head is in.
        armDeadline(server.limits.idleTimeout().toMillis());
        // Flushed at once, body or not: a client that sent Expect: 100-continue sends no body before the origin's 100.
        backend.writeAndFlush(req);
        drain(); // the request's body parts already received
    }

    private void armDeadline(long ms) {
        cancelDeadline();
        if (ms > 0) {
            deadline = ctx.executor().schedule(() -> {
                deadline = null;
                if (!responseStarted) {
                    reply(HttpResponseStatus.GATEWAY_TIMEOUT, true);
                } else {
                    fail("no response in time");
                }
            }, ms, TimeUnit.MILLISECONDS);
        }
    }

    private void cancelDeadline() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    /** The backend's decoder produced this (on the same loop). */
    private void fromBackend(Channel from, HttpObject o) {
        if (from != backend || state != State.EXCHANGING) {
            // Bytes nobody asked for (past a Content-Length, or after the response): never reuse that connection.
            ReferenceCountUtil.release(o);
            from.close();
            if (from == backend) {
                backend = null;
            }
            return;
        }
        if (!o.decoderResult().isSuccess()) {
            ReferenceCountUtil.release(o);
            fail("a malformed response");
            return;
        }
        if (interim && o instanceof LastHttpContent) {
            // The decoder ends every 1xx head with an empty last content: the end of the interim response only. The
            // client's encoder needs it too, to be back at the start of a message for the final response.
            interim = false;
            ctx.writeAndFlush(o);
            return;
        }
        if (o instanceof HttpResponse r) {
            int code = r.status().code();
            if (code == 101) {
                // No request here asks for an upgrade (this proxy forwards none): a backend switching protocols
                // anyway leaves nothing this proxy could relay.
                ReferenceCountUtil.release(o);
                reply(HttpResponseStatus.BAD_GATEWAY, true);
                return;
            }
            if (code >= 100 && code < 200) {
                interim = true;
                ctx.writeAndFlush(o); // interim (100 Continue): the final response follows
                return;
            }
            cancelDeadline();
            responseStarted = true;
            boolean reusable = keepAliveRequest && HttpUtil.isKeepAlive(r);
            keepAliveRequest = reusable;
            if (decoder.paused()) {
                transfer(r);
                return;
            }
        }
        boolean last = o instanceof LastHttpContent;
        ChannelFuture written = ctx.write(o);
        if (last) {
            ctx.flush();
            responseDone(written);
        } else if (!ctx.channel().isWritable()) {
            // A slow client: stop reading the backend until the written bytes drained.
            backend.config().setAutoRead(false);
            ctx.flush();
            written.addListener(f -> {
                if (backend != null) {
                    backend.config().setAutoRead(true);
                }
            });
        }
    }

    /** The body of {@code head} goes past the codecs: spliced (or copied) straight from backend to client. */
    private void transfer(HttpResponse head) {
        state = State.TRANSFERRING;
        Channel from = backend;
        ctx.write(head);
        long length = HttpUtil.getContentLength(head, 0L);
        Future<SpliceResult> done = server.relay.transfer(from, ctx.channel(), decoder.takeBuffered(), length,
                server.limits.idleTimeout());
        done.addListener(f -> {
            SpliceResult r = done.getNow();
            // Runs on the backend's loop (the client's) before either channel reads again.
            if (r.outcome() != SpliceResult.Outcome.BOUNDS_REACHED) {
                // The body ended early, a peer reset, or it stalled: the transfer closed both channels.
                state = State.CLOSED;
                backend = null;
                return;
            }
            decoder.resume();
            // The server codec's encoder is mid-message (it wrote a head with a Content-Length): end the message.
            // The next request waits (responseDone drains later): the bytes read past the body are fired again
            // right after this listener, and must find the proxy IDLE, where they close that backend.
            responseDone(ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
        });
    }

    /** The response in progress is out: the next request may start, or the connection ends. */
    private void responseDone(ChannelFuture written) {
        if (!keepAliveRequest || !requestDone) {
            // Not kept alive, or the backend answered before the request's body was all in: the connection ends.
            state = State.CLOSED;
            closeBackend();
            written.addListener(ChannelFutureListener.CLOSE);
            return;
        }
        state = State.IDLE;
        // Not inline: bytes the backend sent past this response may still come, in the decoder's loop over the read
        // that ended it or fired again after a transfer (which also restores autoRead after its listener). They must
        // find no request sent yet, so they close that backend instead of passing for the next response.
        ctx.executor().execute(this::drain);
    }

    /** CONNECT: 200, the codecs go, the channels go to the tunnel relay (spliced when possible). */
    private void tunnel(Channel out) {
        state = State.TUNNEL;
        Channel in = ctx.channel();
        in.config().setAutoRead(false);
        for (HttpObject o : inbox) {
            ReferenceCountUtil.release(o);
        }
        inbox.clear();
        ByteBuf ahead = null;
        try {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    new HttpResponseStatus(200, "Connection Established")));
            in.pipeline().remove("http-idle");
            in.pipeline().remove("http-server"); // its leftovers come to channelRead as raw bytes
            ahead = tunnelAhead;
            tunnelAhead = null;
            ctx.pipeline().remove(this);
        } catch (Throwable t) {
            ReferenceCountUtil.release(ahead);
            in.close();
            out.close();
            return;
        }
        server.relay(in, out, ahead);
    }

    /** Answers with an empty response of this status; the connection ends unless the request allows keep-alive. */
    private void reply(HttpResponseStatus status, boolean close) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status);
        HttpUtil.setContentLength(r, 0);
        boolean keep = keepAliveRequest && !close && requestDone;
        if (!keep) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        cancelDeadline();
        closeBackend();
        ChannelFuture written = ctx.writeAndFlush(r);
        keepAliveRequest = keep;
        responseDone(written);
    }

    private void fail(String why) {
        state = State.CLOSED;
        cancelDeadline();
        closeBackend();
        ctx.close();
    }

    private void closeBackend() {
        if (backend != null) {
            backend.close();
            backend = null;
            backendAddress = null;
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            if (state == State.IDLE) {
                fail("idle"); // a kept-alive client that went quiet
            } else if (state == State.EXCHANGING && responseStarted) {
                // A response through the codecs with nothing written to the client for the idle timeout: the
                // backend stalled (or the client stopped reading). The head's deadline is over, so this bounds it.
                fail("the response stalled");
            }
            // Before the response head the deadline bounds the wait; a transfer has its own idle timeout.
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(cause.toString());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        fail("client left");
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancelDeadline();
        for (HttpObject o : inbox) {
            ReferenceCountUtil.release(o);
        }
        inbox.clear();
        if (tunnelAhead != null) {
            tunnelAhead.release();
            tunnelAhead = null;
        }
    }

    /** The backend channel's last handler: responses to the client handler, a backend's end to the client. */
    private final class Backend extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext bctx, Object msg) {
            if (msg instanceof HttpObject o) {
                fromBackend(bctx.channel(), o);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext bctx) {
            if (bctx.channel() != backend) {
                return; // one we closed
            }
            backend = null;
            if (state == State.EXCHANGING) {
                if (responseStarted) {
                    fail("the backend closed mid-response"); // the client must not take a cut body as whole
                } else {
                    reply(HttpResponseStatus.BAD_GATEWAY, true);
                }
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext bctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                // The backend's end of stream (half-closure is on): its connection is over, whatever the decoder made
                // of it; channelInactive above decides what the client gets.
                bctx.close();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext bctx, Throwable cause) {
            bctx.close(); // channelInactive above decides what the client gets
        }
    }
}
