package org.splice4j.netty;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.ReferenceCountUtil;

import org.splice4j.spi.SpliceResult;

/** A minimal Netty port forwarder for tests: accept, connect to the target, then {@link SpliceRelay#start}. */
final class TestForwarder implements AutoCloseable {

    enum Transport {
        NIO(NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class),
        EPOLL(EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class);

        final IoHandlerFactory factory;
        final Class<? extends ServerChannel> serverClass;
        final Class<? extends Channel> clientClass;

        Transport(IoHandlerFactory factory, Class<? extends ServerChannel> serverClass,
                  Class<? extends Channel> clientClass) {
            this.factory = factory;
            this.serverClass = serverClass;
            this.clientClass = clientClass;
        }
    }

    /** Counts channelInactive of every proxied channel; declared passive so it does not prevent splicing. */
    @ChannelHandler.Sharable
    static final class InactiveCounter extends ChannelInboundHandlerAdapter {
        final AtomicInteger inactive = new AtomicInteger();

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            inactive.incrementAndGet();
            ctx.fireChannelInactive();
        }
    }

    final EventLoopGroup group;
    final Channel server;
    final BlockingQueue<SpliceResult> results = new LinkedBlockingQueue<>();
    /** Every result by its relay's inbound channel, as a list: a second completion of one relay would show. */
    final Map<Channel, List<SpliceResult>> resultsByInbound = new ConcurrentHashMap<>();
    /** The inbound channel of each relay by its outbound channel's local port, set before the relay starts. */
    final Map<Integer, Channel> inboundByOutboundPort = new ConcurrentHashMap<>();
    /** The inbound channel of each relay, once it started. */
    final BlockingQueue<Channel> inbound = new LinkedBlockingQueue<>();
    final InactiveCounter inactive = new InactiveCounter();
    /** Runs on the inbound channel just before {@link SpliceRelay#start} (a test's fault: a close, say). */
    volatile Consumer<Channel> beforeRelay = ch -> { };
    /**
     * Runs on the inbound channel once it is active, before the target connection is made, while the handler that
     * keeps the client's early bytes is in place (a test's fault: a stale epoll event, say).
     */
    volatile Consumer<Channel> whileConnecting = ch -> { };

    TestForwarder(Transport transport, InetSocketAddress target, SpliceRelay relay,
                  Consumer<Channel> extraInboundHandlers) throws InterruptedException {
        group = new MultiThreadIoEventLoopGroup(2, transport.factory);
        ServerBootstrap b = new ServerBootstrap().group(group).channel(transport.serverClass)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(inactive);
                        extraInboundHandlers.accept(ch);
                        ch.pipeline().addLast("connect", new Connecting(transport, target, relay));
                    }
                });
        server = b.bind("127.0.0.1", 0).sync().channel();
    }

    /**
     * The inbound channel's handler while the target connection is made. As a proxy must (and the {@code forward}
     * sample does), it keeps what the client sends meanwhile, which Netty's epoll transport reads on EPOLLRDHUP even
     * with autoRead off and the pipeline's tail would drop, and gives it to the relay as read ahead.
     */
    private final class Connecting extends ChannelInboundHandlerAdapter {
        private final Transport transport;
        private final InetSocketAddress target;
        private final SpliceRelay relay;
        private ByteBuf early;

        Connecting(Transport transport, InetSocketAddress target, SpliceRelay relay) {
            this.transport = transport;
            this.target = target;
            this.relay = relay;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            whileConnecting.accept(ctx.channel());
            connect(ctx, transport, target, relay, this);
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

        /** The bytes kept so far, handed over (the relay releases them); null if none. */
        ByteBuf takeEarly() {
            ByteBuf b = early;
            early = null;
            return b;
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (early != null) {
                early.release(); // closed while connecting
                early = null;
            }
        }
    }

    private void connect(ChannelHandlerContext ctx, Transport transport, InetSocketAddress target, SpliceRelay relay,
                         Connecting connecting) {
        Channel in = ctx.channel();
        new Bootstrap().group(in.eventLoop()).channel(transport.clientClass)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(inactive)
                .connect(target).addListener(f -> {
                    if (!f.isSuccess()) {
                        in.close();
                        return;
                    }
                    ByteBuf ahead = connecting.takeEarly();
                    ctx.pipeline().remove(ctx.handler());
                    Channel out = ((ChannelFuture) f).channel();
                    inboundByOutboundPort.put(((InetSocketAddress) out.localAddress()).getPort(), in);
                    beforeRelay.accept(in);
                    relay.start(in, out, ahead).addListener(r -> {
                        SpliceResult result = (SpliceResult) r.getNow();
                        // compute: the list is published with the result in it, never seen empty.
                        resultsByInbound.compute(in, (k, list) -> {
                            List<SpliceResult> l = list != null ? list : new CopyOnWriteArrayList<>();
                            l.add(result);
                            return l;
                        });
                        results.add(result);
                    });
                    inbound.add(in);
                });
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
