package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.Splice;

/**
 * A TCP port forwarder on Netty: accept, connect to the target on the same event loop, then hand both channels to
 * {@link SpliceRelay}, which splices when {@code -Dsplice4j.enabled=true} and copies otherwise. SIGTERM stops
 * accepting, lets running tunnels finish for {@code --grace} seconds, then ends the rest and exits.
 */
final class ForwardSample {

    private ForwardSample() {
    }

    static void main(String[] args) throws Exception {
        InetSocketAddress listen = null;
        InetSocketAddress target = null;
        String transport = "nio";
        long graceSeconds = 5;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) {
                Main.usage(flag + " needs a value");
            }
            String v = args[++i];
            try {
                switch (flag) {
                    case "--listen" -> listen = HostPort.parse(flag, v);
                    case "--target" -> target = HostPort.parse(flag, v);
                    case "--transport" -> transport = v;
                    case "--grace" -> graceSeconds = Long.parseLong(v);
                    default -> Main.usage("unknown flag for forward: " + flag);
                }
            } catch (IllegalArgumentException e) {
                Main.usage(e.getMessage());
            }
        }
        if (listen == null || target == null) {
            Main.usage("forward needs --listen and --target");
        }
        if (!transport.equals("nio") && !transport.equals("epoll")) {
            Main.usage("--transport must be nio or epoll, not " + transport);
        }
        if (graceSeconds < 0) {
            Main.usage("--grace must not be negative");
        }
        boolean epoll = transport.equals("epoll");
        if (epoll && !Epoll.isAvailable()) {
            System.err.println("error: the epoll transport is not available: " + Epoll.unavailabilityCause());
            System.exit(1);
        }
        SpliceRelay relay;
        try {
            relay = SpliceRelay.defaults();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
            return;
        }
        new ForwardSample().run(listen, target, epoll, relay, Duration.ofSeconds(graceSeconds));
    }

    private final AtomicInteger tunnels = new AtomicInteger();

    private void run(InetSocketAddress listen, InetSocketAddress target, boolean epoll, SpliceRelay relay,
                     Duration grace) throws InterruptedException {
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> serverClass = epoll ? EpollServerSocketChannel.class
                : NioServerSocketChannel.class;
        Class<? extends Channel> clientClass = epoll ? EpollSocketChannel.class : NioSocketChannel.class;
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(factory);
        ServerBootstrap b = new ServerBootstrap().group(group).channel(serverClass)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new Connector(target, clientClass, relay));
                    }
                });
        Channel server = b.bind(listen).sync().channel();
        InetSocketAddress bound = (InetSocketAddress) server.localAddress();
        String splicing = Splice.enabled()
                ? Splice.unavailabilityCause().map(why -> "off: " + why).orElse("on")
                : "off (-Dsplice4j.enabled=true switches it on)";
        System.out.println("forward listening on " + bound.getHostString() + ":" + bound.getPort() + " -> "
                + target.getHostString() + ":" + target.getPort() + " (" + (epoll ? "epoll" : "nio")
                + ", splicing " + splicing + ")");
        System.out.flush();

        Thread shutdown = new Thread(() -> {
            server.close().syncUninterruptibly(); // stop accepting
            long deadline = System.nanoTime() + grace.toNanos();
            synchronized (tunnels) {
                while (tunnels.get() > 0 && System.nanoTime() < deadline) {
                    try {
                        tunnels.wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                    } catch (InterruptedException e) {
                        break;
                    }
                }
            }
            // Ends what is left: spliced sessions from the loops' shutdown hooks, copied ones by closing.
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }, "forward-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdown);
        server.closeFuture().sync();
        group.terminationFuture().sync();
    }

    /** Connects the outbound side for one accepted channel, then hands both to the relay. */
    private final class Connector extends ChannelInboundHandlerAdapter {
        private final InetSocketAddress target;
        private final Class<? extends Channel> clientClass;
        private final SpliceRelay relay;

        Connector(InetSocketAddress target, Class<? extends Channel> clientClass, SpliceRelay relay) {
            this.target = target;
            this.clientClass = clientClass;
            this.relay = relay;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel in = ctx.channel();
            // Bootstrap wants a handler; this one only holds the place until the relay owns the channel.
            ChannelInboundHandlerAdapter placeholder = new ChannelInboundHandlerAdapter();
            ChannelFuture connect = new Bootstrap().group(in.eventLoop()).channel(clientClass)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(placeholder)
                    .connect(target);
            connect.addListener(f -> {
                if (!f.isSuccess()) {
                    System.err.println("forward: cannot connect to " + target + ": " + f.cause().getMessage());
                    in.close();
                    return;
                }
                Channel out = connect.channel();
                out.pipeline().remove(placeholder);
                ctx.pipeline().remove(this);
                tunnels.incrementAndGet();
                relay.start(in, out, null).addListener(done -> {
                    synchronized (tunnels) {
                        tunnels.decrementAndGet();
                        tunnels.notifyAll();
                    }
                });
            });
        }
    }
}
