package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import org.splice4j.netty.SpliceRelay;

/**
 * Fuzzes the SOCKS5 handshake (greeting, RFC 1929 username/password, request) through the pipeline
 * {@link Socks5Sample#start} installs, on an {@link EmbeddedChannel}: no network, every step on the test thread.
 *
 * <p>Input layout, so that seeds can be written by hand: byte 0 bit 0 asks for username/password ({@code bob:pw}),
 * bit 1 holds the server's writes until the end (a client that reads no replies: the socket's send buffer is full, so
 * a refusal's close waits for its write); byte 1 (mod 4) is the number of extra chunk boundaries, each given by the
 * next byte as a chunk length; the rest is what the client sends, in those chunks, the last one taking what is left.
 * A chunk after the channel closed is not sent, as a closed socket reads nothing.
 *
 * <p>Checked: no exception escapes the pipeline and no Error passes through it (Socks5Handler closes on any, so a
 * {@link HandshakeProbe} before it looks), channelRead never nests deeper than the decoder hand-overs explain, every
 * reply is a buffer the encoder wrote, every buffer (the inbound chunks and all the pipeline allocated) is released
 * once the channel is gone, and the channel is either closed or still open waiting (for more handshake bytes, or for a
 * name resolution that never completes here).
 */
class Socks5HandshakeFuzzTest {

    private static final String[] USER = {"bob", "pw"};
    /** Each decoder hand-over (greeting, password, request) re-reads what is left once; anything deeper recurses. */
    private static final int MAX_NESTING = 8;
    /**
     * The handler asks its server for the handshake deadline and whether a destination is the proxy itself; it is
     * never asked to connect (an empty AllowList allows nothing). One for the whole run.
     */
    private static TunnelServer server;

    @BeforeAll
    static void startServer() {
        server = new TunnelServer("nio", new SpliceRelay());
    }

    @AfterAll
    static void stopServer() {
        server.close();
    }

    @FuzzTest(maxDuration = "60s")
    void handshake(byte[] input) throws Exception {
        if (input.length < 2) {
            return;
        }
        boolean password = (input[0] & 1) != 0;
        boolean holdWrites = (input[0] & 2) != 0;
        List<ByteBuf> chunks = chunks(input);

        CountingAllocator alloc = new CountingAllocator();
        HandshakeProbe probe = new HandshakeProbe();
        HeldWrites held = new HeldWrites(holdWrites);
        EmbeddedChannel ch = new EmbeddedChannel(false, false);
        ch.config().setAllocator(alloc);
        ch.config().setAutoRead(true);
        ch.pipeline().addLast(held); // at the socket end: the server's bytes pass it last
        // As Socks5Sample.start. An empty AllowList allows nothing, so a CONNECT gets FORBIDDEN before the handler
        // would ask its TunnelServer to connect.
        ch.pipeline().addLast(Socks5ServerEncoder.DEFAULT);
        ch.pipeline().addLast(new Socks5InitialRequestDecoder());
        ch.pipeline().addLast(probe);
        ch.pipeline().addLast(new Socks5Handler(server, new AllowList(), password ? USER : null, probe.resolver()));
        ch.register();

        for (ByteBuf chunk : chunks) {
            if (!ch.isOpen()) {
                continue;
            }
            ch.writeInbound(chunk.retain()); // our reference stays, to check the pipeline released its own
            ch.runPendingTasks(); // the resolver's answer comes back through the event loop
            ch.checkException();
        }
        held.release();
        ch.runPendingTasks();
        ch.checkException();
        for (Object reply = ch.readOutbound(); reply != null; reply = ch.readOutbound()) {
            assertReply(reply, password);
        }
        boolean waiting = ch.isOpen();
        ch.finishAndReleaseAll(); // what a connection reset would do now: frees whatever the handshake still holds
        ch.checkException();

        assertNull(probe.error, () -> "an Error went through the pipeline (Socks5Handler closed on it): " + probe.error);
        assertTrue(probe.maxNesting <= MAX_NESTING, () -> "channelRead nested " + probe.maxNesting
                + " deep: the handshake recurses (until StackOverflowError, which Socks5Handler swallows)");
        for (ByteBuf chunk : chunks) {
            assertEquals(1, chunk.refCnt(), () -> "the pipeline did not release an inbound chunk exactly once (channel "
                    + (waiting ? "left waiting" : "closed") + ")");
            chunk.release();
        }
        assertEquals(0, alloc.unreleased(), () -> alloc.unreleased() + " of " + alloc.allocated()
                + " buffers the pipeline allocated were not released");
    }

    /** The client's bytes, cut where the input says. */
    private static List<ByteBuf> chunks(byte[] input) {
        int boundaries = (input[1] & 0xff) % 4;
        int at = Math.min(2 + boundaries, input.length);
        List<ByteBuf> chunks = new ArrayList<>();
        for (int i = 2; i < 2 + boundaries && i < input.length; i++) {
            int len = Math.min(input[i] & 0xff, input.length - at);
            chunks.add(Unpooled.wrappedBuffer(Arrays.copyOfRange(input, at, at + len)));
            at += len;
        }
        chunks.add(Unpooled.wrappedBuffer(Arrays.copyOfRange(input, at, input.length)));
        return chunks;
    }

    /** A reply is a buffer the encoder wrote (never a message that passed it), in SOCKS5 or RFC 1929 framing. */
    private static void assertReply(Object reply, boolean password) {
        try {
            assertTrue(reply instanceof ByteBuf, () -> "unencoded reply " + reply);
            ByteBuf b = (ByteBuf) reply;
            assertTrue(b.isReadable(), "empty reply");
            int version = b.getUnsignedByte(b.readerIndex());
            assertTrue(version == 5 || (password && version == 1), () -> "reply version " + version);
        } finally {
            ReferenceCountUtil.release(reply);
        }
    }
}
