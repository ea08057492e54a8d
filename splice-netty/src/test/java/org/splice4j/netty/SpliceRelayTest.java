package org.splice4j.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.logging.LoggingHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/** A real Netty forwarder, NIO and epoll, splicing on and off, with blocking JDK peers checking SHA-256. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpliceRelayTest {

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

    private SpliceRelay relay(boolean splice) {
        return splice ? new SpliceRelay(bed.splicer).withPassiveHandlers(TestForwarder.InactiveCounter.class)
                : new SpliceRelay();
    }

    private TestForwarder forwarder(TestForwarder.Transport t, boolean splice, Consumer<Channel> extra)
            throws Exception {
        return new TestForwarder(t, (InetSocketAddress) bed.target.getLocalAddress(), relay(splice), extra);
    }

    /** client -> forwarder -> server, the server side accepted from the target listener. */
    private SocketChannel[] connect(TestForwarder f) throws IOException {
        synchronized (bed.target) {
            SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", f.port()));
            SocketChannel server = bed.target.accept();
            return new SocketChannel[] {client, server};
        }
    }

    private SpliceResult result(TestForwarder f) throws InterruptedException {
        SpliceResult r = f.results.poll(60, TimeUnit.SECONDS);
        assertTrue(r != null, "the relay did not end");
        return r;
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void bulkBothWaysArrivesIntactAndBothChannelsGoInactive(TestForwarder.Transport t, boolean splice)
            throws Exception {
        try (TestForwarder f = forwarder(t, splice, ch -> { })) {
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                long size = 64 * MiB;
                Future<String> up = bed.pool.submit(() -> Streams.writeAndShutdown(client, 1, size));
                Future<String> down = bed.pool.submit(() -> Streams.writeAndShutdown(server, 2, size));
                Future<Streams.Received> atServer = bed.pool.submit(() -> Streams.readToEnd(server));
                Future<Streams.Received> atClient = bed.pool.submit(() -> Streams.readToEnd(client));
                assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)), atServer.get(60, TimeUnit.SECONDS));
                assertEquals(new Streams.Received(size, down.get(60, TimeUnit.SECONDS)), atClient.get(60, TimeUnit.SECONDS));
                SpliceResult r = result(f);
                assertEquals(Outcome.COMPLETED, r.outcome(), r.toString());
                assertEquals(size, r.bytesAToB());
                assertEquals(size, r.bytesBToA());
                if (splice) {
                    assertTrue(r.splicedBytes() > 0, "the kernel must have moved bytes: " + r);
                } else {
                    assertEquals(0, r.splicedBytes());
                }
                // Netty's own events still fire for both channels after the relay closed them.
                assertEquals(2, f.inactive.inactive.get(), "channelInactive on both channels");
            }
        }
    }

    static Stream<Arguments> halfCloseModes() {
        return modes().flatMap(m -> Stream.of("client", "server").map(first ->
                Arguments.of(m.get()[0], m.get()[1], first)));
    }

    @ParameterizedTest(name = "{0}, splice={1}, {2} half-closes first")
    @MethodSource("halfCloseModes")
    void halfCloseThenTheOtherSideKeepsSending(TestForwarder.Transport t, boolean splice, String first)
            throws Exception {
        try (TestForwarder f = forwarder(t, splice, ch -> { })) {
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                SocketChannel closer = first.equals("client") ? client : server;
                SocketChannel other = first.equals("client") ? server : client;
                String sent = Streams.writeAndShutdown(closer, 3, MiB);
                assertEquals(new Streams.Received(MiB, sent), Streams.readToEnd(other));
                Future<Streams.Received> late = bed.pool.submit(() -> Streams.readToEnd(closer));
                // 128 MiB: long enough for the half-closed peer's socket to fill, so the relay must wait for EPOLLOUT
                // on a channel whose input is already shut down (where Netty 4.2.18's epoll transport loses data).
                String lateSent = Streams.writeAndShutdown(other, 4, 128 * MiB);
                assertEquals(new Streams.Received(128 * MiB, lateSent), late.get(60, TimeUnit.SECONDS));
                assertEquals(Outcome.COMPLETED, result(f).outcome());
            }
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aUserCloseDuringTheSessionEndsItAndBothPeersSeeTheClose(TestForwarder.Transport t, boolean splice)
            throws Exception {
        try (TestForwarder f = forwarder(t, splice, ch -> { })) {
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                client.write(ByteBuffer.wrap("ping".getBytes()));
                assertEquals(4, Streams.readExactly(server, 4).length);
                Channel in = f.inbound.poll(30, TimeUnit.SECONDS);
                in.close().sync(); // the user's close, from outside the relay
                SpliceResult r = result(f);
                assertTrue(r.outcome() == Outcome.CANCELLED || r.outcome() == Outcome.COMPLETED, r.toString());
                // Both peers see the end of their streams; nothing hangs.
                assertEquals(0, bed.pool.submit(() -> Streams.readToEnd(server)).get(30, TimeUnit.SECONDS).bytes());
                assertEquals(0, bed.pool.submit(() -> Streams.readToEnd(client)).get(30, TimeUnit.SECONDS).bytes());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TestForwarder.Transport.class)
    void shuttingTheEventLoopsDownEndsSplicedSessions(TestForwarder.Transport t) throws Exception {
        TestForwarder f = forwarder(t, true, ch -> { });
        SocketChannel[] c = connect(f);
        try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
            client.write(ByteBuffer.wrap("ping".getBytes()));
            assertEquals(4, Streams.readExactly(server, 4).length);
            assertTrue(f.inbound.poll(30, TimeUnit.SECONDS) != null);
            f.close(); // shutdownGracefully: the loops' shutdown hooks end the deregistered channels' session
            SpliceResult r = result(f);
            assertEquals(Outcome.CANCELLED, r.outcome(), r.toString());
            assertEquals(0, bed.pool.submit(() -> Streams.readToEnd(server)).get(30, TimeUnit.SECONDS).bytes());
            assertEquals(0, bed.pool.submit(() -> Streams.readToEnd(client)).get(30, TimeUnit.SECONDS).bytes());
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TestForwarder.Transport.class)
    void anIdleStateHandlerIsRemovedAndItsTimeoutEndsAnIdleSplicedSession(TestForwarder.Transport t)
            throws Exception {
        try (TestForwarder f = forwarder(t, true,
                ch -> ch.pipeline().addLast(new ReadTimeoutHandler(300, TimeUnit.MILLISECONDS)))) {
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                Future<Streams.Received> atServer = bed.pool.submit(() -> Streams.readToEnd(server));
                Streams.write(client, 8, 8 * MiB); // spliced (the timeout handler does not force copying), then idle
                SpliceResult r = result(f);
                assertEquals(Outcome.IDLE_TIMEOUT, r.outcome(), r.toString());
                assertEquals(8 * MiB, r.bytesAToB());
                assertTrue(r.splicedBytes() > 0, r.toString());
                assertEquals(8 * MiB, atServer.get(30, TimeUnit.SECONDS).bytes());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(TestForwarder.Transport.class)
    void aLoggingHandlerTakesTheCopyingPathAndStillWorks(TestForwarder.Transport t) throws Exception {
        long before = bed.splicer.statistics().orElseThrow().getFallbacksNotEligible();
        try (TestForwarder f = forwarder(t, true, ch -> ch.pipeline().addLast(new LoggingHandler()))) {
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                Future<Streams.Received> atServer = bed.pool.submit(() -> Streams.readToEnd(server));
                String sent = Streams.writeAndShutdown(client, 7, 4 * MiB);
                assertEquals(new Streams.Received(4 * MiB, sent), atServer.get(60, TimeUnit.SECONDS));
                server.shutdownOutput();
                assertEquals(0, Streams.readToEnd(client).bytes());
                SpliceResult r = result(f);
                assertEquals(Outcome.COMPLETED, r.outcome());
                assertEquals(0, r.splicedBytes(), "a LoggingHandler must keep the bytes in the pipeline");
                // The splicer's figures say why this tunnel was not spliced (other tests share the splicer, but
                // none of them runs concurrently in this class).
                assertEquals(before + 1, bed.splicer.statistics().orElseThrow().getFallbacksNotEligible());
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aTransferWhoseLoopRefusesItFreesTheReadAheadBytesAndCompletes() throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        Channel from = new NioSocketChannel();
        Channel to = new NioSocketChannel();
        group.register(from).sync();
        group.register(to).sync();
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync(); // from now on the loop refuses every task
        ByteBuf ahead = Unpooled.buffer().writeBytes(new byte[100]);
        io.netty.util.concurrent.Future<SpliceResult> f = new SpliceRelay(bed.splicer).transfer(from, to, ahead, 1000,
                null);
        assertTrue(f.await(30, TimeUnit.SECONDS), "the transfer must complete");
        assertEquals(Outcome.FAILED, f.getNow().outcome(), f.getNow().toString());
        assertEquals(0, ahead.refCnt(), "the bytes read ahead must be released");
    }
}
