package org.splice4j.samples;

import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5PasswordAuthResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequest;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthStatus;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import io.netty.util.ReferenceCountUtil;

/**
 * One client's SOCKS5 handshake: method selection, optional username/password, then CONNECT. A malformed message
 * closes this connection only; a refused request gets the reply code RFC 1928 defines. Once connected it removes
 * itself and the codec and gives both channels to the relay, with any bytes the client sent ahead of the reply.
 * Runs on the client channel's event loop, except name resolution.
 */
final class Socks5Handler extends ChannelInboundHandlerAdapter {

    private final TunnelServer server;
    private final AllowList allow;
    private final String[] user;
    private final ExecutorService resolver;
    /** Bytes the client sent after its CONNECT request, before the relay started. */
    private ByteBuf early;
    private boolean connecting;

    Socks5Handler(TunnelServer server, AllowList allow, String[] user, ExecutorService resolver) {
        this.server = server;
        this.allow = allow;
        this.user = user;
        this.resolver = resolver;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            if (connecting) {
                // Raw bytes pass the command decoder once it is done: the client's first payload, sent early.
                collectEarly(ctx, (ByteBuf) msg);
            } else {
                // A replaced decoder hands on what it had not decoded yet: feed it to its successor.
                ctx.pipeline().fireChannelRead(msg);
            }
            return;
        }
        try {
            if (msg instanceof io.netty.handler.codec.DecoderResultProvider
                    && failed(((io.netty.handler.codec.DecoderResultProvider) msg).decoderResult())) {
                ctx.close(); // wrong version, truncated or inconsistent message: nothing sensible to answer
            } else if (msg instanceof Socks5InitialRequest) {
                greeting(ctx, (Socks5InitialRequest) msg);
            } else if (msg instanceof Socks5PasswordAuthRequest) {
                password(ctx, (Socks5PasswordAuthRequest) msg);
            } else if (msg instanceof Socks5CommandRequest && !connecting) {
                command(ctx, (Socks5CommandRequest) msg);
            } else {
                ctx.close();
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private static boolean failed(DecoderResult r) {
        return r != null && r.isFailure();
    }

    private void greeting(ChannelHandlerContext ctx, Socks5InitialRequest req) {
        Socks5AuthMethod wanted = user != null ? Socks5AuthMethod.PASSWORD : Socks5AuthMethod.NO_AUTH;
        if (!req.authMethods().contains(wanted)) {
            ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED))
                    .addListener(ChannelFutureListener.CLOSE);
            return;
        }
        // Reply first: replacing the decoder may decode, and answer, the client's next message at once.
        ctx.writeAndFlush(new DefaultSocks5InitialResponse(wanted));
        ctx.pipeline().replace(Socks5InitialRequestDecoder.class, "socks5-decoder",
                user != null ? new Socks5PasswordAuthRequestDecoder() : new Socks5CommandRequestDecoder());
    }

    private void password(ChannelHandlerContext ctx, Socks5PasswordAuthRequest req) {
        if (user == null || !user[0].equals(req.username()) || !user[1].equals(req.password())) {
            ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.FAILURE))
                    .addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.SUCCESS));
        ctx.pipeline().replace("socks5-decoder", "socks5-decoder", new Socks5CommandRequestDecoder());
    }

    private void command(ChannelHandlerContext ctx, Socks5CommandRequest req) {
        if (req.type() != Socks5CommandType.CONNECT) {
            reply(ctx, Socks5CommandStatus.COMMAND_UNSUPPORTED, null).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        connecting = true;
        Channel in = ctx.channel();
        in.config().setAutoRead(false); // hold the client until the relay takes it
        String host = req.dstAddr();
        int port = req.dstPort();
        try {
            resolver.execute(() -> {
                InetAddress address;
                try {
                    // Resolved once; the allow list is checked against, and the connection made to, this address.
                    address = InetAddress.getByName(host);
                } catch (UnknownHostException e) {
                    in.eventLoop().execute(() -> reply(ctx, Socks5CommandStatus.HOST_UNREACHABLE, null)
                            .addListener(ChannelFutureListener.CLOSE));
                    return;
                }
                in.eventLoop().execute(() -> connect(ctx, new InetSocketAddress(address, port)));
            });
        } catch (RejectedExecutionException e) {
            ctx.close();
        }
    }

    private void connect(ChannelHandlerContext ctx, InetSocketAddress target) {
        if (!allow.allows(target.getAddress(), target.getPort())) {
            reply(ctx, Socks5CommandStatus.FORBIDDEN, null).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        Channel in = ctx.channel();
        server.connect(in, target).addListener(f -> {
            if (!f.isSuccess()) {
                reply(ctx, status(f.cause()), null).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            Channel out = ((io.netty.channel.ChannelFuture) f).channel();
            if (!in.isActive()) {
                out.close();
                return;
            }
            reply(ctx, Socks5CommandStatus.SUCCESS, (InetSocketAddress) out.localAddress());
            // The codec goes; bytes it still holds come to channelRead above as raw ByteBufs.
            ctx.pipeline().remove(Socks5ServerEncoder.class);
            ctx.pipeline().remove("socks5-decoder");
            ByteBuf ahead = early; // taken before removing this handler, which frees what it still holds
            early = null;
            ctx.pipeline().remove(this);
            server.track(server.relay.start(in, out, ahead));
        });
    }

    private io.netty.channel.ChannelFuture reply(ChannelHandlerContext ctx, Socks5CommandStatus status,
                                                 InetSocketAddress bound) {
        if (bound == null) {
            return ctx.writeAndFlush(new DefaultSocks5CommandResponse(status, Socks5AddressType.IPv4));
        }
        Socks5AddressType type = bound.getAddress() instanceof Inet4Address ? Socks5AddressType.IPv4
                : Socks5AddressType.IPv6;
        return ctx.writeAndFlush(new DefaultSocks5CommandResponse(status, type,
                bound.getAddress().getHostAddress(), bound.getPort()));
    }

    /** The RFC 1928 reply for a failed connect. */
    private static Socks5CommandStatus status(Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return Socks5CommandStatus.TTL_EXPIRED;
        }
        if (cause instanceof NoRouteToHostException) {
            return Socks5CommandStatus.HOST_UNREACHABLE;
        }
        if (cause instanceof ConnectException) {
            String m = String.valueOf(cause.getMessage()).toLowerCase(java.util.Locale.ROOT);
            return m.contains("network is unreachable") ? Socks5CommandStatus.NETWORK_UNREACHABLE
                    : m.contains("no route") ? Socks5CommandStatus.HOST_UNREACHABLE
                    : Socks5CommandStatus.CONNECTION_REFUSED;
        }
        return Socks5CommandStatus.FAILURE;
    }

    private void collectEarly(ChannelHandlerContext ctx, ByteBuf buf) {
        if (early == null) {
            early = ctx.alloc().buffer(buf.readableBytes());
        }
        early.writeBytes(buf);
        buf.release();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        // Removed without handing the early bytes to the relay (closed during the handshake): free them.
        if (early != null) {
            early.release();
            early = null;
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent && !connecting) {
            ctx.close(); // the client ended its stream before finishing the handshake
            return;
        }
        // During the connect an end of stream is kept: the relay sees it on the socket and forwards it.
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // a decoder error or a reset during the handshake ends this connection only
    }
}
