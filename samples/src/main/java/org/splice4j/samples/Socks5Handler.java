package org.splice4j.samples;

import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.DecoderResultProvider;
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
import io.netty.util.concurrent.ScheduledFuture;

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
    private final Executor resolver;
    /** Bytes the client sent after its CONNECT request, before the relay started. */
    private ByteBuf early;
    private boolean connecting;
    /** A refusal was sent: the connection closes once it is written, and nothing the client sends is read any more. */
    private boolean refused;
    /** Re-firing a replaced decoder's leftovers into its successor; a byte coming back here then is not SOCKS5. */
    private boolean refiring;
    /** Closes the client if the handshake is not over in time (greeting to relay start, DNS and connect included). */
    private ScheduledFuture<?> deadline;

    Socks5Handler(TunnelServer server, AllowList allow, String[] user, Executor resolver) {
        this.server = server;
        this.allow = allow;
        this.user = user;
        this.resolver = resolver;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = server.handshakeDeadline(ctx.channel());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg); // after a refusal: dropped, the connection is closing
            return;
        }
        if (msg instanceof ByteBuf) {
            if (connecting) {
                // Raw bytes pass the command decoder once it is done: the client's first payload, sent early.
                collectEarly(ctx, (ByteBuf) msg);
            } else if (refiring) {
                // The successor passed the bytes straight through (it is done too): nothing more is expected here.
                // Re-firing again would recurse without end.
                ReferenceCountUtil.release(msg);
                refuse(ctx, null);
            } else {
                // A replaced decoder hands on what it had not decoded yet: feed it to its successor.
                refiring = true;
                try {
                    ctx.pipeline().fireChannelRead(msg);
                } finally {
                    refiring = false;
                }
            }
            return;
        }
        try {
            if (msg instanceof DecoderResultProvider && failed(((DecoderResultProvider) msg).decoderResult())) {
                refuse(ctx, null); // wrong version, truncated or inconsistent message: nothing sensible to answer
            } else if (msg instanceof Socks5InitialRequest) {
                greeting(ctx, (Socks5InitialRequest) msg);
            } else if (msg instanceof Socks5PasswordAuthRequest) {
                password(ctx, (Socks5PasswordAuthRequest) msg);
            } else if (msg instanceof Socks5CommandRequest && !connecting) {
                command(ctx, (Socks5CommandRequest) msg);
            } else {
                refuse(ctx, null);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * Ends the handshake: stops reading, drops whatever the client sends from now on, writes {@code answer} (if any)
     * and closes.
     */
    private void refuse(ChannelHandlerContext ctx, Object answer) {
        refused = true;
        cancelDeadline();
        ctx.channel().config().setAutoRead(false);
        if (answer == null) {
            ctx.close();
        } else {
            ctx.writeAndFlush(answer).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void cancelDeadline() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    private static boolean failed(DecoderResult r) {
        return r != null && r.isFailure();
    }

    private void greeting(ChannelHandlerContext ctx, Socks5InitialRequest req) {
        Socks5AuthMethod wanted = user != null ? Socks5AuthMethod.PASSWORD : Socks5AuthMethod.NO_AUTH;
        if (!req.authMethods().contains(wanted)) {
            refuse(ctx, new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED));
            return;
        }
        // Reply first: replacing the decoder may decode, and answer, the client's next message at once.
        ctx.writeAndFlush(new DefaultSocks5InitialResponse(wanted));
        ctx.pipeline().replace(Socks5InitialRequestDecoder.class, "socks5-decoder",
                user != null ? new Socks5PasswordAuthRequestDecoder() : new Socks5CommandRequestDecoder());
    }

    private void password(ChannelHandlerContext ctx, Socks5PasswordAuthRequest req) {
        if (user == null || !credentialsMatch(req.username(), req.password())) {
            refuse(ctx, new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.FAILURE));
            return;
        }
        ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.SUCCESS));
        ctx.pipeline().replace("socks5-decoder", "socks5-decoder", new Socks5CommandRequestDecoder());
    }

    /**
     * Compares in time independent of where the first difference is (MessageDigest.isEqual), both parts always, so
     * the answer's timing tells a client nothing about how much of a guess was right.
     */
    private boolean credentialsMatch(String name, String password) {
        boolean nameOk = MessageDigest.isEqual(utf8(user[0]), utf8(name));
        boolean passwordOk = MessageDigest.isEqual(utf8(user[1]), utf8(password));
        return nameOk & passwordOk;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void command(ChannelHandlerContext ctx, Socks5CommandRequest req) {
        if (req.type() != Socks5CommandType.CONNECT) {
            refuse(ctx, commandResponse(Socks5CommandStatus.COMMAND_UNSUPPORTED, null));
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
                } catch (UnknownHostException | RuntimeException e) {
                    in.eventLoop().execute(() -> refuse(ctx,
                            commandResponse(Socks5CommandStatus.HOST_UNREACHABLE, null)));
                    return;
                }
                in.eventLoop().execute(() -> connect(ctx, new InetSocketAddress(address, port)));
            });
        } catch (RejectedExecutionException e) {
            // Every resolver thread is busy and the queue is full (a flood of slow names): refuse this one.
            refuse(ctx, commandResponse(Socks5CommandStatus.FAILURE, null));
        }
    }

    private void connect(ChannelHandlerContext ctx, InetSocketAddress target) {
        Channel in = ctx.channel();
        if (!in.isActive()) {
            return; // the client left (or the deadline passed) while its name was being resolved
        }
        if (server.isOwnAddress(target)) {
            // Never a tunnel to ourselves: one write of chained self-CONNECTs would nest tunnels without end.
            refuse(ctx, commandResponse(Socks5CommandStatus.FORBIDDEN, null));
            return;
        }
        if (!allow.allows(target.getAddress(), target.getPort())) {
            refuse(ctx, commandResponse(Socks5CommandStatus.FORBIDDEN, null));
            return;
        }
        server.connect(in, target).addListener(f -> {
            if (!f.isSuccess()) {
                if (in.isActive()) {
                    refuse(ctx, commandResponse(status(f.cause()), null));
                }
                return;
            }
            Channel out = ((ChannelFuture) f).channel();
            if (!in.isActive()) {
                out.close(); // the client reset or the deadline passed while connecting
                return;
            }
            ByteBuf ahead = null;
            try {
                cancelDeadline();
                ctx.writeAndFlush(commandResponse(Socks5CommandStatus.SUCCESS, (InetSocketAddress) out.localAddress()));
                // The codec goes; bytes it still holds come to channelRead above as raw ByteBufs.
                ctx.pipeline().remove(Socks5ServerEncoder.class);
                ctx.pipeline().remove("socks5-decoder");
                ahead = early; // taken before removing this handler, which frees what it still holds
                early = null;
                ctx.pipeline().remove(this);
            } catch (Throwable t) {
                // The client went away during the hand-over (a reset closes the pipeline under us): both sides go.
                ReferenceCountUtil.release(ahead);
                in.close();
                out.close();
                return;
            }
            server.relay(in, out, ahead);
        });
    }

    private static DefaultSocks5CommandResponse commandResponse(Socks5CommandStatus status, InetSocketAddress bound) {
        if (bound == null) {
            return new DefaultSocks5CommandResponse(status, Socks5AddressType.IPv4);
        }
        Socks5AddressType type = bound.getAddress() instanceof Inet4Address ? Socks5AddressType.IPv4
                : Socks5AddressType.IPv6;
        return new DefaultSocks5CommandResponse(status, type, bound.getAddress().getHostAddress(), bound.getPort());
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
            String m = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
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
        cancelDeadline();
        // Removed without handing the early bytes to the relay (closed during the handshake): free them.
        if (early != null) {
            early.release();
            early = null;
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent && !connecting) {
            refuse(ctx, null); // the client ended its stream before finishing the handshake
            return;
        }
        // During the connect an end of stream is kept: the relay sees it on the socket and forwards it.
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        refuse(ctx, null); // a decoder error or a reset during the handshake ends this connection only
    }
}
