package org.splice4j.netty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.stream.Stream;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.Future;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.contract.FailingSplicer;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/**
 * {@link SpliceRelay#transfer}: a real Netty proxy (NIO and epoll, splicing and copying) whose backend channel's
 * "codec" (a {@link Recorder}) starts a bounded transfer to the client channel on its first read, handing the bytes
 * it got as read ahead, as an HTTP proxy does after a response head; blocking JDK peers check SHA-256.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BoundedTransferTest {

    private static final long MiB = 1L << 20;

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

    static Stream<Arguments> modes() {
        List<Arguments> list = new ArrayList<>();
        for (TestForwarder.Transport t : TestForwarder.Transport.values()) {
            list.add(Arguments.of(t, true));
            list.add(Arguments.of(t, false));
        }
        return list.stream();
    }

    static Stream<Arguments> sizes() {
        return modes().flatMap(m -> Stream.of(1L, 65537L, 16 * MiB).map(n -> Arguments.of(m.get()[0], m.get()[1], n)));
    }

    /** Records what reaches it; the backend's one starts the transfer on its first read. */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream got = new ByteArrayOutputStream();
        /** Bytes that reached the pipeline while the transfer was running: must stay 0. */
        volatile int duringTransfer;
        volatile boolean started;
        final CompletableFuture<SpliceResult> transfer = new CompletableFuture<>();
        BiConsumer<ChannelHandlerContext, ByteBuf> onFirstRead;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            if (onFirstRead != null) {
                BiConsumer<ChannelHandlerContext, ByteBuf> start = onFirstRead;
                onFirstRead = null;
                start.accept(ctx, b); // b is the transfer's now
                return;
            }
            if (started && !transfer.isDone()) {
                duringTransfer += b.readableBytes();
            }
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            b.release();
            synchronized (got) {
                got.write(bytes, 0, bytes.length);
                got.notifyAll();
            }
        }

        byte[] await(int n) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            synchronized (got) {
                while (got.size() < n && System.nanoTime() < deadline) {
                    got.wait(1000);
                }
                return got.toByteArray();
            }
        }
    }

    /** A proxy with one client channel and one backend channel, each with a Recorder. */
    private final class Proxy implements AutoCloseable {
        final EventLoopGroup group;
        final Channel client;
        final Channel backend;
        final SocketChannel clientPeer;
        final SocketChannel serverPeer;
        final Recorder clientRec = new Recorder();
        final Recorder backendRec = new Recorder();
        private final Channel listener;

        Proxy(TestForwarder.Transport t, BiConsumer<ChannelHandlerContext, ByteBuf> onFirstBackendRead)
                throws Exception {
            group = new MultiThreadIoEventLoopGroup(2, t.factory);
            CompletableFuture<Channel> accepted = new CompletableFuture<>();
            listener = new ServerBootstrap().group(group).channel(t.serverClass)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast("codec", clientRec);
                            accepted.complete(ch);
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            clientPeer = SocketChannel.open((InetSocketAddress) listener.localAddress());
            client = accepted.get(10, TimeUnit.SECONDS);
            backendRec.onFirstRead = onFirstBackendRead;
            synchronized (bed.target) {
                // The other loop of the group: the two channels of a transfer may live on different loops.
                backend = new Bootstrap().group(group).channel(t.clientClass)
                        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                        .handler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast("codec", backendRec);
                            }
                        }).connect(bed.targetAddress()).sync().channel();
                serverPeer = bed.target.accept();
            }
        }

        @Override
        public void close() throws Exception {
            clientPeer.close();
            serverPeer.close();
            client.close().sync();
            backend.close().sync();
            listener.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private SpliceRelay relay(boolean splice) {
        return splice ? new SpliceRelay(bed.splicer) : new SpliceRelay();
    }

    /** A first-read hook that transfers {@code n} bytes backend -> client, the bytes of the first read included. */
    private static BiConsumer<ChannelHandlerContext, ByteBuf> transfer(SpliceRelay relay, Proxy[] p, long n) {
        return (ctx, first) -> {
            p[0].backendRec.started = true;
            p[0].clientRec.started = true;
            Future<SpliceResult> f = relay.transfer(ctx.channel(), p[0].client, first, n, null);
            f.addListener(x -> {
                p[0].backendRec.transfer.complete(f.getNow());
                p[0].clientRec.transfer.complete(f.getNow());
            });
        };
    }

    private static SpliceResult result(Recorder r) throws Exception {
        return r.transfer.get(60, TimeUnit.SECONDS);
    }

    @ParameterizedTest(name = "{0}, splice={1}, {2} bytes")
    @MethodSource("sizes")
    void exactlyTheBoundThenTheRestThroughThePipelineInOrder(TestForwarder.Transport t, boolean splice, long n)
            throws Exception {
        SpliceRelay relay = relay(splice);
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> transfer(relay, p, n).accept(ctx, first))) {
            p[0] = proxy;
            byte[] tail = Streams.randomBytes(7, 3000);
            byte[] pipelined = Streams.randomBytes(8, 500);
            // The body and what follows it in one go: a small body's first read holds bytes past the bound.
            java.util.concurrent.Future<String> sent = bed.pool.submit(() -> {
                String sha = Streams.write(proxy.serverPeer, 5, n);
                proxy.serverPeer.write(ByteBuffer.wrap(tail));
                return sha;
            });
            proxy.clientPeer.write(ByteBuffer.wrap(pipelined)); // the client's next request, during the body
            Streams.Received body = Streams.readExactlyDigest(proxy.clientPeer, n);
            assertEquals(new Streams.Received(n, sent.get(60, TimeUnit.SECONDS)), body);
            SpliceResult r = result(proxy.backendRec);
            assertEquals(Outcome.BOUNDS_REACHED, r.outcome(), r.toString());
            assertEquals(n, r.bytesAToB());
            assertEquals(0, r.bytesBToA());
            assertEquals(n, r.splicedBytes() + r.copiedBytes(), r.toString());
            if (splice && n == 16 * MiB) {
                assertTrue(r.splicedBytes() > 0, "the kernel must have moved bytes: " + r);
            }
            if (!splice) {
                assertEquals(0, r.splicedBytes(), r.toString());
            }
            // What followed the bound reaches each pipeline, in order, and only after the transfer.
            assertArrayEquals(tail, proxy.backendRec.await(tail.length), "the bytes past the bound");
            assertArrayEquals(pipelined, proxy.clientRec.await(pipelined.length), "the client's bytes");
            // The backend's "codec" started the transfer on its loop: from then on it must not see a byte of the body.
            // (The client channel lives on another loop: bytes it read before the transfer reached that loop are the
            // pipeline's, as they would be without a transfer.)
            assertEquals(0, proxy.backendRec.duringTransfer);
            // Both channels are Netty's again: reads go on (autoRead restored), writes still go out.
            byte[] more = Streams.randomBytes(9, 2000);
            proxy.serverPeer.write(ByteBuffer.wrap(more));
            byte[] all = proxy.backendRec.await(tail.length + more.length);
            assertArrayEquals(more, Arrays.copyOfRange(all, tail.length, all.length));
            byte[] reply = "HTTP/1.1 204 No Content\r\n\r\n".getBytes();
            proxy.client.writeAndFlush(Unpooled.wrappedBuffer(reply)).sync();
            assertArrayEquals(reply, Streams.readExactly(proxy.clientPeer, reply.length));
            proxy.backend.writeAndFlush(Unpooled.wrappedBuffer(reply)).sync();
            assertArrayEquals(reply, Streams.readExactly(proxy.serverPeer, reply.length));
            assertTrue(proxy.client.isRegistered() && proxy.backend.isRegistered());
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aFirstReadLongerThanTheBoundKeepsItsRestForThePipeline(TestForwarder.Transport t, boolean splice)
            throws Exception {
        SpliceRelay relay = relay(splice);
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> transfer(relay, p, 100).accept(ctx, first))) {
            p[0] = proxy;
            // Body and tail in one segment: the first read (the transfer's read-ahead) holds both.
            byte[] all = Streams.randomBytes(13, 100 + 3000);
            proxy.serverPeer.write(ByteBuffer.wrap(all));
            assertArrayEquals(Arrays.copyOf(all, 100), Streams.readExactly(proxy.clientPeer, 100));
            SpliceResult r = result(proxy.backendRec);
            assertEquals(Outcome.BOUNDS_REACHED, r.outcome(), r.toString());
            assertEquals(100, r.bytesAToB());
            assertArrayEquals(Arrays.copyOfRange(all, 100, all.length), proxy.backendRec.await(3000));
            assertEquals(0, proxy.backendRec.duringTransfer);
            // Nothing past the bound went to the client: the next byte it reads is the proxy's own.
            proxy.client.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'X'})).sync();
            assertArrayEquals(new byte[] {'X'}, Streams.readExactly(proxy.clientPeer, 1));
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aTransferStartedByTheListenerOfTheLastOneGetsTheBytesAfterIt(TestForwarder.Transport t, boolean splice)
            throws Exception {
        SpliceRelay relay = relay(splice);
        long n1 = 100;
        long n2 = 3 * MiB;
        CompletableFuture<SpliceResult> second = new CompletableFuture<>();
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> {
            p[0].backendRec.started = true;
            Future<SpliceResult> f1 = relay.transfer(ctx.channel(), p[0].client, first, n1, null);
            f1.addListener(x -> {
                // On the backend's loop, before either channel reads again: the next message's body at once.
                Future<SpliceResult> f2 = relay.transfer(ctx.channel(), p[0].client, null, n2, null);
                f2.addListener(y -> {
                    second.complete(f2.getNow());
                    p[0].backendRec.transfer.complete(f2.getNow());
                });
            });
        })) {
            p[0] = proxy;
            byte[] tail = Streams.randomBytes(14, 2000);
            java.util.concurrent.Future<String> sent = bed.pool.submit(() -> {
                String sha = Streams.write(proxy.serverPeer, 15, n1 + n2);
                proxy.serverPeer.write(ByteBuffer.wrap(tail));
                return sha;
            });
            Streams.Received body = Streams.readExactlyDigest(proxy.clientPeer, n1 + n2);
            assertEquals(new Streams.Received(n1 + n2, sent.get(60, TimeUnit.SECONDS)), body);
            SpliceResult r = second.get(60, TimeUnit.SECONDS);
            assertEquals(Outcome.BOUNDS_REACHED, r.outcome(), r.toString());
            assertEquals(n2, r.bytesAToB());
            assertArrayEquals(tail, proxy.backendRec.await(tail.length));
            assertEquals(0, proxy.backendRec.duringTransfer);
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TestForwarder.Transport.class)
    void aSplicerThatRefusesTheSocketsLeavesTheTransferToTheCopy(TestForwarder.Transport t) throws Exception {
        FailingSplicer failing = new FailingSplicer("failing", true, true, FailingSplicer::emfile);
        SpliceRelay relay = new SpliceRelay(failing);
        long n = 2 * MiB + 5;
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> transfer(relay, p, n).accept(ctx, first))) {
            p[0] = proxy;
            byte[] tail = Streams.randomBytes(16, 1500);
            java.util.concurrent.Future<String> sent = bed.pool.submit(() -> {
                String sha = Streams.write(proxy.serverPeer, 17, n);
                proxy.serverPeer.write(ByteBuffer.wrap(tail));
                return sha;
            });
            Streams.Received body = Streams.readExactlyDigest(proxy.clientPeer, n);
            assertEquals(new Streams.Received(n, sent.get(60, TimeUnit.SECONDS)), body);
            SpliceResult r = result(proxy.backendRec);
            assertEquals(Outcome.BOUNDS_REACHED, r.outcome(), r.toString());
            assertEquals(n, r.copiedBytes());
            assertEquals(1, failing.calls.get(), "the splicer was asked first");
            assertArrayEquals(tail, proxy.backendRec.await(tail.length));
            assertEquals(0, proxy.backendRec.duringTransfer);
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void endOfStreamBeforeTheBoundFailsWithEofAndClosesBoth(TestForwarder.Transport t, boolean splice)
            throws Exception {
        SpliceRelay relay = relay(splice);
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> transfer(relay, p, 4 * MiB).accept(ctx, first))) {
            p[0] = proxy;
            java.util.concurrent.Future<String> sha = bed.pool.submit(
                    () -> Streams.writeAndShutdown(proxy.serverPeer, 11, MiB + 3)); // the body ends early
            Streams.Received got = Streams.readToEnd(proxy.clientPeer);
            assertEquals(new Streams.Received(MiB + 3, sha.get(60, TimeUnit.SECONDS)), got);
            SpliceResult r = result(proxy.backendRec);
            assertEquals(Outcome.FAILED, r.outcome(), r.toString());
            assertTrue(r.cause().orElseThrow() instanceof EOFException, r.toString());
            assertFalse(proxy.client.isOpen());
            assertFalse(proxy.backend.isOpen());
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aUserCloseMidTransferEndsItAndClosesBoth(TestForwarder.Transport t, boolean splice) throws Exception {
        SpliceRelay relay = relay(splice);
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> transfer(relay, p, 64 * MiB).accept(ctx, first))) {
            p[0] = proxy;
            java.util.concurrent.Future<String> sha = bed.pool.submit(() -> Streams.write(proxy.serverPeer, 12, MiB));
            Streams.Received got = Streams.readExactlyDigest(proxy.clientPeer, MiB);
            assertEquals(new Streams.Received(MiB, sha.get(60, TimeUnit.SECONDS)), got);
            proxy.client.close();
            SpliceResult r = result(proxy.backendRec);
            assertEquals(Outcome.CANCELLED, r.outcome(), r.toString());
            assertFalse(proxy.backend.isOpen());
            assertEquals(-1, proxy.serverPeer.read(ByteBuffer.allocate(1)), "the backend's peer sees the close");
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aClientThatDoesNotReadEndsTheHandOverAtTheIdleTimeout(TestForwarder.Transport t, boolean splice)
            throws Exception {
        SpliceRelay relay = relay(splice);
        Proxy[] p = new Proxy[1];
        try (Proxy proxy = new Proxy(t, (ctx, first) -> {
            p[0].backendRec.started = true;
            // A "head" far larger than the socket buffers of a peer that reads nothing: its flush never ends.
            p[0].client.writeAndFlush(Unpooled.wrappedBuffer(new byte[64 * (int) MiB]));
            Future<SpliceResult> f = relay.transfer(ctx.channel(), p[0].client, first, MiB, Duration.ofMillis(500));
            f.addListener(x -> p[0].backendRec.transfer.complete(f.getNow()));
        })) {
            p[0] = proxy;
            proxy.serverPeer.write(ByteBuffer.wrap(Streams.randomBytes(18, 100)));
            SpliceResult r = result(proxy.backendRec); // without a hand-over deadline: never
            assertEquals(Outcome.IDLE_TIMEOUT, r.outcome(), r.toString());
            assertFalse(proxy.client.isOpen());
            assertFalse(proxy.backend.isOpen());
            assertEquals(-1, proxy.serverPeer.read(ByteBuffer.allocate(1)), "the backend's peer sees the close");
        }
    }
}
