package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import io.netty.util.ReferenceCountUtil;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.netty.SpliceRelay;

/**
 * After a refused handshake the connection closes and later bytes are dropped: never fed again into a decoder that
 * is done (which passes them through, back to the handler, back to the decoder: a recursion that ended in a
 * StackOverflowError after about 350 frames). Driven through the sample's own pipeline in an EmbeddedChannel.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Socks5RefusalTest {

    private TunnelServer server;

    @BeforeAll
    void start() {
        server = new TunnelServer("nio", new SpliceRelay());
    }

    @AfterAll
    void stop() {
        server.close();
    }

    static Stream<Arguments> refusals() {
        byte[] more = new byte[1000]; // what a client sends after being refused
        return Stream.of(
                Arguments.of("no acceptable method", cat(new byte[] {5, 1, 0}, more)),                  // needs 2
                Arguments.of("wrong password", cat(new byte[] {5, 1, 2, 1, 1, 'b', 2, 'n', 'o'}, more)),
                Arguments.of("BIND", cat(new byte[] {5, 1, 2, 1, 3, 'b', 'o', 'b', 2, 'p', 'w',
                        5, 2, 0, 1, 127, 0, 0, 1, 0, 80}, more)),
                Arguments.of("UDP ASSOCIATE", cat(new byte[] {5, 1, 2, 1, 3, 'b', 'o', 'b', 2, 'p', 'w',
                        5, 3, 0, 1, 127, 0, 0, 1, 0, 80}, more)));
    }

    private static byte[] cat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void bytesAfterARefusalAreDroppedAndTheConnectionCloses(String what, byte[] bytes) {
        AtomicInteger reads = new AtomicInteger();
        EmbeddedChannel ch = new EmbeddedChannel();
        // At the head: counts every read entering the pipeline, the client's and any re-fired one.
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                reads.incrementAndGet();
                ctx.fireChannelRead(msg);
            }
        });
        ch.pipeline().addLast(Socks5ServerEncoder.DEFAULT);
        ch.pipeline().addLast(new Socks5InitialRequestDecoder());
        ch.pipeline().addLast(new Socks5Handler(server, AllowList.loopbackOnly(), new String[] {"bob", "pw"},
                Runnable::run));
        ByteBuf in = Unpooled.wrappedBuffer(bytes);
        ch.writeInbound(in);
        ch.runPendingTasks();
        ch.checkException(); // nothing escaped, a StackOverflowError included
        assertEquals(1, reads.get(), "the client's bytes entered once and were never re-fired");
        assertEquals(0, in.refCnt(), "the client's bytes were released");
        assertFalse(ch.isOpen(), "a refusal closes the connection");
        for (Object out; (out = ch.readOutbound()) != null; ) {
            ReferenceCountUtil.release(out);
        }
        ch.finishAndReleaseAll();
    }
}
