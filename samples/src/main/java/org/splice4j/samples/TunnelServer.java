package org.splice4j.samples;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
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
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;

import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceResult;

/**
 * What the Netty samples share: the transport, the listening socket, connecting the outbound side on the inbound's
 * event loop, counting tunnels, and the shutdown docs/architecture.md describes (stop accepting, a grace period for
 * running tunnels, then end the rest).
 */
final class TunnelServer implements AutoCloseable {

    final boolean epoll;
    final SpliceRelay relay;
    final Limits limits;
    private final EventLoopGroup group;
    private final Class<? extends Channel> clientClass;
    private final AtomicInteger tunnels = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    private final LongAdder refusedAtCap = new LongAdder();
    private final LongAdder accepted = new LongAdder();
    private final AtomicBoolean shutdownStarted = new AtomicBoolean();
    private final CountDownLatch shutdownDone = new CountDownLatch(1);
    private volatile Channel server;

    TunnelServer(String transport, SpliceRelay relay) {
        this(transport, relay, Limits.DEFAULTS);
    }

    TunnelServer(String transport, SpliceRelay relay, Limits limits) {
        this.limits = limits;
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
                        accepted.increment();
                        if (connections.incrementAndGet() > limits.maxConnections()) {
                            // Over the cap: close at accept, before any handshake work, and count it.
                            connections.decrementAndGet();
                            refusedAtCap.increment();
                            ch.close();
                            return;
                        }
                        ch.closeFuture().addListener(f -> connections.decrementAndGet());
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

    /**
     * Closes {@code ch} when the handshake deadline passes; the caller cancels the returned future once the relay took
     * the channel. Null when there is no deadline.
     */
    ScheduledFuture<?> handshakeDeadline(Channel ch) {
        long ms = limits.handshakeTimeout().toMillis();
        if (ms <= 0) {
            return null;
        }
        return ch.eventLoop().schedule(() -> {
            ch.close(); // a silent or slow client, or a destination that did not answer in time
        }, ms, TimeUnit.MILLISECONDS);
    }

    /**
     * Starts relaying {@code in} and {@code out} (with bytes read ahead from {@code in}) under the tunnel idle timeout,
     * and counts the tunnel. Call on {@code in}'s event loop.
     */
    Future<SpliceResult> relay(Channel in, Channel out, ByteBuf ahead) {
        long idle = limits.idleTimeout().toMillis();
        if (idle > 0) {
            // No byte either way for this long ends the tunnel: SpliceRelay makes it the spliced session's idle
            // timeout, and the copying relay ends on its event.
            in.pipeline().addFirst("idle", new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS));
        }
        return track(relay.start(in, out, ahead));
    }

    /** Client connections open now. */
    int connections() {
        return connections.get();
    }

    /** Client connections accepted since the server started, those refused at the cap included. */
    long accepted() {
        return accepted.sum();
    }

    /** Client connections closed at accept because {@link Limits#maxConnections()} were open. */
    long refusedAtCap() {
        return refusedAtCap.sum();
    }

    /**
     * Whether {@code target} is this server's own listening socket: a proxy must never connect to itself (a chain of
     * CONNECTs to itself would nest tunnels without end).
     */
    boolean isOwnAddress(InetSocketAddress target) {
        Channel s = server;
        if (s == null || target.getAddress() == null) {
            return false;
        }
        InetSocketAddress bound = (InetSocketAddress) s.localAddress();
        if (bound == null || bound.getPort() != target.getPort()) {
            return false;
        }
        InetAddress a = target.getAddress();
        if (bound.getAddress().isAnyLocalAddress()) {
            return a.isAnyLocalAddress() || a.isLoopbackAddress() || isLocalInterface(a);
        }
        return a.isAnyLocalAddress() || a.equals(bound.getAddress());
    }

    private static boolean isLocalInterface(InetAddress a) {
        try {
            return NetworkInterface.getByInetAddress(a) != null;
        } catch (SocketException e) {
            return true; // cannot tell: refuse rather than risk a loop
        }
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

    /**
     * Runs {@link #shutdown(Duration)} on SIGTERM (and any JVM exit), then waits until the server is closed. The
     * default splicer's own JVM shutdown hook is taken away first: it would run at the same time as ours and cancel
     * every spliced tunnel at once. Ours closes the default splicer after the grace period instead.
     */
    void runUntilShutdown(Duration grace) throws InterruptedException {
        Splice.removeDefaultShutdownHook();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shutdown(grace);
            Splice.closeDefaultSplicer();
        }, "splice4j-sample-shutdown"));
        server.closeFuture().sync();
        group.terminationFuture().sync();
    }

    /**
     * Stops accepting, waits up to {@code grace} for running tunnels, then ends the rest and the event loops. Runs
     * once: a second call (main's close() after the SIGTERM hook) waits for the first to finish.
     */
    void shutdown(Duration grace) {
        if (!shutdownStarted.compareAndSet(false, true)) {
            try {
                shutdownDone.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        try {
            Channel s = server;
            if (s != null) {
                s.close().syncUninterruptibly();
            }
            if (!grace.isZero()) {
                System.out.println("shutting down: waiting up to " + grace.toSeconds() + " s for " + tunnels.get()
                        + " tunnels");
                System.out.flush();
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
        } finally {
            shutdownDone.countDown();
        }
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }
}
