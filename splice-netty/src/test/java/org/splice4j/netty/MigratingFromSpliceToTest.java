package org.splice4j.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.handler.timeout.ReadTimeoutHandler;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/**
 * The proxy of docs/migrating-from-netty-splice.md, "After": the pattern of Netty's {@code EpollSocketChannel.spliceTo}
 * callers (a {@code ReadTimeoutHandler} as the handshake's deadline; in {@code channelRead} the first buffer forwarded
 * to the target, then the relay) with {@link SpliceRelay} in place of the two {@code spliceTo} calls. Run on NIO and
 * epoll, with both channels on one event loop and on two different ones (which {@code spliceTo} refuses). The code
 * between the {@code docs:} markers is shown in that page (the handler in docs/netty.md too);
 * {@link #theDocsShowThisTestsCode} keeps them the same.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MigratingFromSpliceToTest {

    private static final long MiB = 1L << 20;
    private static final Path THIS_SOURCE =
            Path.of("src/test/java/org/splice4j/netty/MigratingFromSpliceToTest.java");
    private static final Path MIGRATION_PAGE = Path.of("../docs/migrating-from-netty-splice.md");
    /** The Netty page shows the handler too, as its "after". */
    private static final Path NETTY_PAGE = Path.of("../docs/netty.md");

    private LinuxTestbed bed;

    @BeforeAll
    void start() throws IOException {
        bed = LinuxTestbed.open();
    }

    @AfterAll
    void stop() throws IOException {
        if (bed != null) {
            bed.close();
        }
    }

    // docs: handler
    /** The client channel's handler (autoRead off): connects to the target, then hands both channels to the relay. */
    static final class FrontendHandler extends ChannelInboundHandlerAdapter {
        private final InetSocketAddress target;
        private final EventLoopGroup backendLoops;           // any group: the relay needs no common loop
        private final Class<? extends Channel> channelClass; // NIO or epoll
        private final SpliceRelay relay;
        private final Consumer<SpliceResult> whenEnded;
        private Channel outbound;

        FrontendHandler(InetSocketAddress target, EventLoopGroup backendLoops, Class<? extends Channel> channelClass,
                        SpliceRelay relay, Consumer<SpliceResult> whenEnded) {
            this.target = target;
            this.backendLoops = backendLoops;
            this.channelClass = channelClass;
            this.relay = relay;
            this.whenEnded = whenEnded;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel in = ctx.channel();
            ChannelFuture connected = new Bootstrap().group(backendLoops).channel(channelClass)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            // Nothing in the target's pipeline: the relay closes both channels when it ends.
                        }
                    })
                    .connect(target);
            outbound = connected.channel();
            connected.addListener(f -> {
                if (!f.isSuccess() || !in.isActive()) {
                    in.close();
                    outbound.close();
                    return;
                }
                in.read(); // the client's first bytes
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel in = ctx.channel();
            outbound.writeAndFlush((ByteBuf) msg); // the relay flushes it before anything else reaches the target
            ctx.pipeline().remove(this);            // the ReadTimeoutHandler stays: the relay takes it over
            relay.start(in, outbound, null)
                    .addListener(ended -> whenEnded.accept((SpliceResult) ended.getNow()));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (outbound != null) {
                outbound.close(); // the client left before its first bytes
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a ReadTimeoutException before the first bytes, or a reset
        }
    }
    // docs: end

    static Stream<Arguments> modes() {
        List<Arguments> list = new ArrayList<>();
        for (TestForwarder.Transport t : TestForwarder.Transport.values()) {
            list.add(Arguments.of(t, "one event loop"));
            list.add(Arguments.of(t, "two event loops"));
        }
        return list.stream();
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("modes")
    void theMigratedProxyRelaysBothWaysIntactAndSplices(TestForwarder.Transport t, String loops) throws Exception {
        // One thread per group: with one group the target channel is on the client channel's own loop (what
        // spliceTo demands), with two it is on another loop.
        EventLoopGroup clientLoops = new MultiThreadIoEventLoopGroup(1, t.factory);
        EventLoopGroup backendLoops = loops.equals("one event loop") ? clientLoops
                : new MultiThreadIoEventLoopGroup(1, t.factory);
        BlockingQueue<SpliceResult> results = new LinkedBlockingQueue<>();
        Consumer<SpliceResult> whenEnded = results::add;
        Class<? extends ServerChannel> serverClass = t.serverClass;
        Class<? extends Channel> channelClass = t.clientClass;
        SpliceRelay relay = new SpliceRelay(bed.splicer); // in a server: new SpliceRelay(), from the splice4j.* properties
        InetSocketAddress target = bed.targetAddress();
        try {
            // docs: server
            ServerBootstrap b = new ServerBootstrap().group(clientLoops).channel(serverClass)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new ReadTimeoutHandler(30)); // the handshake's deadline
                            ch.pipeline().addLast(new FrontendHandler(target, backendLoops, channelClass, relay,
                                    whenEnded));
                        }
                    });
            // docs: end
            Channel server = b.bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
                 SocketChannel atTarget = bed.target.accept()) {
                // More than the loopback socket buffers hold, both ways at once, each ended by a half-close
                // (which spliceTo does not forward).
                long size = 32 * MiB;
                Future<String> up = bed.pool.submit(() -> Streams.writeAndShutdown(client, 11, size));
                Future<String> down = bed.pool.submit(() -> Streams.writeAndShutdown(atTarget, 12, size));
                Future<Streams.Received> upArrived = bed.pool.submit(() -> Streams.readToEnd(atTarget));
                Future<Streams.Received> downArrived = bed.pool.submit(() -> Streams.readToEnd(client));
                assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)),
                        upArrived.get(60, TimeUnit.SECONDS), "client to target");
                assertEquals(new Streams.Received(size, down.get(60, TimeUnit.SECONDS)),
                        downArrived.get(60, TimeUnit.SECONDS), "target to client");
                SpliceResult r = results.poll(60, TimeUnit.SECONDS);
                assertTrue(r != null, "the relay did not end");
                assertEquals(Outcome.COMPLETED, r.outcome(), r.toString());
                // The first buffer went through Netty (writeAndFlush), the rest through the relay: together all.
                assertTrue(r.bytesAToB() > size - MiB && r.bytesAToB() <= size, r.toString());
                assertEquals(size, r.bytesBToA(), r.toString());
                // Spliced, not copied: the ReadTimeoutHandler left in the pipeline did not force the copying path.
                assertTrue(r.splicedBytes() > 0, "the kernel must have moved bytes: " + r);
            } finally {
                server.close().sync();
            }
        } finally {
            clientLoops.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
            if (backendLoops != clientLoops) {
                backendLoops.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }

    @Test
    void theDocsShowThisTestsCode() throws IOException {
        String page = read(MIGRATION_PAGE);
        String nettyPage = read(NETTY_PAGE);
        List<String> source = Files.readAllLines(THIS_SOURCE, StandardCharsets.UTF_8);
        int shown = 0;
        for (int i = 0; i < source.size(); i++) {
            String line = source.get(i).trim();
            if (!line.startsWith("// docs: ") || line.equals("// docs: end")) {
                continue;
            }
            List<String> block = new ArrayList<>();
            for (i++; !source.get(i).trim().equals("// docs: end"); i++) {
                block.add(source.get(i));
            }
            String snippet = dedent(block);
            assertTrue(page.contains(snippet), MIGRATION_PAGE + " must show, unchanged, the code of " + line
                    + " in " + THIS_SOURCE + ":\n" + snippet);
            if (line.equals("// docs: handler")) {
                assertTrue(nettyPage.contains(snippet), NETTY_PAGE + " must show, unchanged, the code of " + line
                        + " in " + THIS_SOURCE + ":\n" + snippet);
            }
            shown++;
        }
        assertEquals(2, shown, "the docs: blocks of " + THIS_SOURCE);
        assertFalse(page.contains("// docs:") || nettyPage.contains("// docs:"), "the markers stay in the test");
    }

    private static String read(Path page) throws IOException {
        return Files.readString(page, StandardCharsets.UTF_8).replace("\r\n", "\n");
    }

    /** The lines without the indentation they all share, joined by newlines. */
    private static String dedent(List<String> lines) {
        int indent = Integer.MAX_VALUE;
        for (String l : lines) {
            if (!l.isBlank()) {
                indent = Math.min(indent, l.length() - l.stripLeading().length());
            }
        }
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return b.toString();
    }
}
