package org.splice4j.samples;

import java.net.InetSocketAddress;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import org.splice4j.netty.SpliceRelay;

/**
 * A TCP port forwarder on Netty: accept, connect to the target on the same event loop, then hand both channels to
 * {@link SpliceRelay}, which splices when {@code -Dsplice4j.enabled=true} and copies otherwise.
 */
final class ForwardSample {

    private ForwardSample() {
    }

    static void main(String[] args) throws Exception {
        Flags f = new Flags("forward", args).only("--listen", "--target", "--transport", "--grace",
                "--handshake-timeout", "--idle-timeout", "--max-connections");
        InetSocketAddress listen = f.address("--listen");
        InetSocketAddress target = f.address("--target");
        if (listen == null || target == null) {
            Main.usage("forward needs --listen and --target");
        }
        try (TunnelServer server = f.server()) {
            start(server, listen, target);
            server.runUntilShutdown(f.grace());
        }
    }

    /** Binds the forwarder; returns the address it listens on. */
    static InetSocketAddress start(TunnelServer server, InetSocketAddress listen, InetSocketAddress target)
            throws InterruptedException {
        return server.bind("forward", listen, "-> " + target.getHostString() + ":" + target.getPort(),
                ch -> ch.pipeline().addLast(new Connecting(server, target)));
    }

    /**
     * The client's handler while the target connection is made. It keeps what the client sends meanwhile (Netty's
     * epoll transport reads on EPOLLRDHUP even with autoRead off, and a read reaching the pipeline's tail is dropped):
     * those bytes go to the target first, before anything the relay reads.
     */
    private static final class Connecting extends ChannelInboundHandlerAdapter {
        private final TunnelServer server;
        private final InetSocketAddress target;
        private ByteBuf early;
        private ScheduledFuture<?> deadline;

        Connecting(TunnelServer server, InetSocketAddress target) {
            this.server = server;
            this.target = target;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel in = ctx.channel();
            deadline = server.handshakeDeadline(in); // bounds the connect, as the socks5 handshake is bounded
            server.connect(in, target).addListener(c -> {
                if (!c.isSuccess()) {
                    System.err.println("forward: cannot connect to " + target + ": " + c.cause().getMessage());
                    in.close();
                    return;
                }
                Channel out = ((ChannelFuture) c).channel();
                if (!in.isActive()) {
                    out.close(); // the client left (or the deadline passed) while connecting
                    return;
                }
                if (deadline != null) {
                    deadline.cancel(false);
                }
                ByteBuf ahead = early;
                early = null; // handed to the relay, which releases it
                ctx.pipeline().remove(this);
                server.relay(in, out, ahead);
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            ByteBuf b = (ByteBuf) msg;
            if (early == null) {
                early = ctx.alloc().buffer(b.readableBytes());
            }
            early.writeBytes(b);
            b.release();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            // An end of stream read while connecting is seen again by the relay (the socket stays at EOF).
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a reset while connecting: the listener above closes the target side
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (deadline != null) {
                deadline.cancel(false);
            }
            if (early != null) {
                early.release(); // closed while connecting
                early = null;
            }
        }
    }
}
