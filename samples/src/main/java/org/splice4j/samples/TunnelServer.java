package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
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
import io.netty.util.concurrent.Future;

import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceResult;

/**
 * What the Netty samples share: the transport, the listening socket, connecting the outbound side on the inbound's
 * event loop, counting tunnels, and the shutdown DESIGN.md asks for (stop accepting, a grace period for running
 * tunnels, then end the rest).
 */
final class TunnelServer implements AutoCloseable {

    final boolean epoll;
    final SpliceRelay relay;
    private final EventLoopGroup group;
    private final Class<? extends Channel> clientClass;
    private final AtomicInteger tunnels = new AtomicInteger();
    private Channel server;

    TunnelServer(String transport, SpliceRelay relay) {
        if (!transport.equals("nio") && !transport.equals("epoll")) {
            throw new IllegalArgumentException("--transport must be nio or epoll, not " + transport);
        }
        this.epoll = transport.equals("epoll");
        if (epoll && !Epoll.isAvailable()) {
            throw new IllegalStateException("the epoll transport is not available: " + Epoll.unavailabilityCause());
        }
        this.relay = relay;
        this.group = new MultiThreadIoEventLoopGroup(epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        this.clientClass = epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /** Binds and prints {@code NAME listening on HOST:PORT ...} once listening (port 0 picks a free one). */
    InetSocketAddress bind(String name, InetSocketAddress listen, String what, Consumer<SocketChannel> init)
            throws InterruptedException {
        Class<? extends ServerChannel> serverClass = epoll ? EpollServerSocketChannel.class
                : NioServerSocketChannel.class;
        server = new ServerBootstrap().group(group).channel(serverClass)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        init.accept(ch);
                    }
                })
                .bind(listen).sync().channel();
        InetSocketAddress bound = (InetSocketAddress) server.localAddress();
        String splicing = Splice.enabled()
                ? Splice.unavailabilityCause().map(why -> "off: " + why).orElse("on")
                : "off (-Dsplice4j.enabled=true switches it on)";
        System.out.println(name + " listening on " + bound.getHostString() + ":" + bound.getPort() + " " + what
                + " (" + (epoll ? "epoll" : "nio") + ", splicing " + splicing + ")");
        System.out.flush();
        return bound;
    }

    /** Connects to {@code target} on {@code in}'s event loop; the outbound channel has no handlers once connected. */
    ChannelFuture connect(Channel in, InetSocketAddress target) {
        // Bootstrap wants a handler; this one only holds the place until the relay owns the channel.
        ChannelInboundHandlerAdapter placeholder = new ChannelInboundHandlerAdapter();
        ChannelFuture f = new Bootstrap().group(in.eventLoop()).channel(clientClass)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(placeholder)
                .connect(target);
        f.addListener(done -> {
            if (done.isSuccess()) {
                f.channel().pipeline().remove(placeholder);
            }
        });
        return f;
    }

    /** Counts a running tunnel until its relay ends. */
    Future<SpliceResult> track(Future<SpliceResult> relayed) {
        tunnels.incrementAndGet();
        relayed.addListener(done -> {
            synchronized (tunnels) {
                tunnels.decrementAndGet();
                tunnels.notifyAll();
            }
        });
        return relayed;
    }

    /** Runs {@link #shutdown(Duration)} on SIGTERM (and any JVM exit), then waits until the server is closed. */
    void runUntilShutdown(Duration grace) throws InterruptedException {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> shutdown(grace), "splice4j-sample-shutdown"));
        server.closeFuture().sync();
        group.terminationFuture().sync();
    }

    /** Stops accepting, waits up to {@code grace} for running tunnels, then ends the rest and the event loops. */
    void shutdown(Duration grace) {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (tunnels) {
            while (tunnels.get() > 0 && System.nanoTime() < deadline) {
                try {
                    tunnels.wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        // Spliced sessions end from the loops' shutdown hooks, copied ones when their channels close.
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }
}
