package org.splice4j.netty;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.TimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;

import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;

/**
 * The stock copying relay, the best Netty copying design measured here: autoRead on, a side stops reading while its
 * peer is not writable (writability back-pressure), flush once per read burst (read-complete), half-closure allowed,
 * and an end of stream forwarded as a half-close only after the last write completed. The result has the same shape
 * as a spliced one (all bytes counted as copied).
 */
final class CopyRelay {

    static final String NAME = "splice4j-copy";

    private final Channel in;
    private final Channel out;
    private final Promise<SpliceResult> promise;
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile long bytesInToOut;
    private volatile long bytesOutToIn;
    private volatile boolean inEof;
    private volatile boolean outEof;
    /** Ends of stream forwarded, each once its direction's writes completed; both channels close at two. */
    private final AtomicInteger endsForwarded = new AtomicInteger();
    private volatile Throwable error;
    private volatile boolean idle;
    private final AtomicInteger open = new AtomicInteger(2);
    private final AtomicBoolean inReported = new AtomicBoolean();
    private final AtomicBoolean outReported = new AtomicBoolean();

    /** Sides still making sure their channel is in its epoll set; the relay begins on both once none is left. */
    private final AtomicInteger preparing = new AtomicInteger(2);
    /** Read-ahead bytes for out and for in (written first), until the relay begins; null when none. */
    private ByteBuf toOut;
    private ByteBuf toIn;

    private CopyRelay(Channel in, Channel out, Promise<SpliceResult> promise, ByteBuf toOut, ByteBuf toIn) {
        this.in = in;
        this.out = out;
        this.promise = promise;
        this.toOut = toOut;
        this.toIn = toIn;
    }

    /**
     * Any thread. {@code toOut} and {@code toIn} (may be null, released here) are written first.
     *
     * <p>Two steps. First each channel, on its own loop, is made sure to be in its epoll set (registered again if
     * Netty took it out: {@link #prepare}); only then does anything write to either (a write that must wait for
     * EPOLLOUT on a channel out of epoll would fail, and Netty would shut its output). Then each side, on its loop,
     * writes its read-ahead and early bytes to the other and starts reading ({@link #begin}).
     */
    static void start(Channel in, Channel out, ByteBuf toOut, ByteBuf toIn, Promise<SpliceResult> promise) {
        CopyRelay r = new CopyRelay(in, out, promise, toOut, toIn);
        // If a loop refuses the task (it is shutting down), that side fails, and the other must still begin (and
        // report its close).
        r.onLoop(in, () -> r.prepare(in, true), t -> {
            r.fail(t, true);
            r.prepared();
        });
        r.onLoop(out, () -> r.prepare(out, false), t -> {
            r.fail(t, false);
            r.prepared();
        });
    }

    /**
     * Runs {@code task} on {@code ch}'s loop: inline when already there, so that no read slips in before it; else
     * queued, and {@code refused} runs if the loop refuses it (shutting down).
     */
    private static void onLoop(Channel ch, Runnable task, Consumer<Throwable> refused) {
        if (ch.eventLoop().inEventLoop()) {
            task.run();
            return;
        }
        try {
            ch.eventLoop().execute(task);
        } catch (Throwable t) {
            refused.accept(t);
        }
    }

    /** Channel's event loop: step one for one side. */
    private void prepare(Channel self, boolean selfIsIn) {
        assert self.eventLoop().inEventLoop();
        try {
            if (self.isOpen()) {
                self.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
                // A write that fails (a reset) must not close the channel inline, in the middle of an I/O batch (see
                // closeAfterBatch): the peer's handler sees the failure and closes both from the task queue.
                self.config().setOption(ChannelOption.AUTO_CLOSE, false);
                // EPOLLERR keeps the interest set from ever becoming empty; the same call tells whether Netty's
                // descriptor is still in its epoll set.
                boolean inEpoll = EpollHalfCloseFix.apply(self);
                if (ChannelEndpoints.isEpoll(self) && (!inEpoll || ((DuplexChannel) self).isInputShutdown())) {
                    // Netty 4.2.18 took the descriptor out of epoll while believing it registered: the peer's end of
                    // stream came before the relay (autoRead off), or a stale event of a closed channel whose number
                    // this one reused emptied its interest set. The first interest change would fail with ENOENT.
                    // Registering the channel again puts it back, with the EPOLLERR flag that keeps it there.
                    reRegister(self, this::prepared, selfIsIn);
                    return;
                }
            }
        } catch (Throwable t) {
            fail(t, selfIsIn);
        }
        prepared();
    }

    /** Any loop: one side is ready (or failed); the last one begins the relay on both channels' loops. */
    private void prepared() {
        if (preparing.decrementAndGet() != 0) {
            return;
        }
        ByteBuf a = toOut;
        ByteBuf b = toIn;
        toOut = null;
        toIn = null;
        onLoop(in, () -> begin(in, out, a, true), t -> {
            ReferenceCountUtil.release(a);
            fail(t, true);
        });
        onLoop(out, () -> begin(out, in, b, false), t -> {
            ReferenceCountUtil.release(b);
            fail(t, false);
        });
    }

    /**
     * Channel's event loop: step two for one side. The read-ahead bytes go first, then the bytes Netty read while the
     * relay took the channel over, then the handler goes in and reading starts.
     */
    private void begin(Channel self, Channel peer, ByteBuf firstToPeer, boolean selfIsIn) {
        assert self.eventLoop().inEventLoop();
        try {
            if (!self.isOpen()) {
                // Closed before we got here (a client's reset before the proxy's reply): the peer goes too.
                // Otherwise Direction.channelInactive reports the close.
                ReferenceCountUtil.release(firstToPeer);
                ReferenceCountUtil.release(EarlyReads.take(self, null));
                peer.close();
                closed(selfIsIn);
                return;
            }
            if (firstToPeer != null && firstToPeer.isReadable()) {
                count(selfIsIn, firstToPeer.readableBytes());
                peer.writeAndFlush(firstToPeer);
            } else if (firstToPeer != null) {
                firstToPeer.release();
            }
            ByteBuf early = EarlyReads.take(self, null);
            if (early != null) {
                count(selfIsIn, early.readableBytes());
                peer.writeAndFlush(early);
            }
            Direction direction = new Direction(peer, selfIsIn);
            self.pipeline().addLast(NAME, direction);
            if (self instanceof DuplexChannel && ((DuplexChannel) self).isInputShutdown()) {
                // The end of stream was read before the relay began (during a handshake): forward it now.
                direction.userEventTriggered(self.pipeline().context(direction), ChannelInputShutdownEvent.INSTANCE);
            }
            self.config().setAutoRead(true);
            self.read();
        } catch (Throwable t) {
            fail(t, selfIsIn);
        }
    }

    /**
     * Channel's event loop: deregisters and registers the channel again, then runs {@code then} (whether that
     * worked or failed) on its loop.
     */
    private void reRegister(Channel ch, Runnable then, boolean selfIsIn) {
        assert ch.eventLoop().inEventLoop();
        ch.deregister().addListener(d -> {
            try {
                ch.eventLoop().register(new DefaultChannelPromise(ch,
                        ImmediateEventExecutor.INSTANCE)).addListener(r -> {
                            if (r.isSuccess()) {
                                // Deregistering reset the channel's epoll flags to their initial set: EPOLLERR again,
                                // and a flush, since a write that waited for EPOLLOUT (a proxy's reply larger than
                                // the socket's buffer) lost that flag too.
                                EpollHalfCloseFix.apply(ch);
                                ch.flush();
                            } else {
                                fail(r.cause(), selfIsIn);
                            }
                            then.run();
                        });
            } catch (Throwable t) {
                fail(t, selfIsIn); // the loop is shutting down
                then.run();
            }
        });
    }

    /**
     * A failure while installing one side: both channels close, and that side reports its close now, since its
     * handler may never see one. The result follows once both sides reported.
     */
    private void fail(Throwable t, boolean selfIsIn) {
        if (error == null) {
            error = t;
        }
        for (Channel ch : new Channel[] {in, out}) {
            try {
                ch.close();
            } catch (Throwable e) {
                ch.unsafe().closeForcibly();
            }
        }
        closed(selfIsIn);
    }

    private void count(boolean fromIn, long n) {
        if (fromIn) {
            bytesInToOut += n;
        } else {
            bytesOutToIn += n;
        }
    }

    /** A side's channel is closed; reported once per side, the result once both are. */
    private void closed(boolean isIn) {
        if (!(isIn ? inReported : outReported).compareAndSet(false, true)) {
            return;
        }
        if (open.decrementAndGet() == 0 && ended.compareAndSet(false, true)) {
            Throwable e = error;
            Outcome outcome = e instanceof TimeoutException ? Outcome.IDLE_TIMEOUT
                    : e instanceof IOException ? Outcome.RESET : e != null ? Outcome.FAILED
                    : inEof && outEof ? Outcome.COMPLETED : idle ? Outcome.IDLE_TIMEOUT : Outcome.CANCELLED;
            promise.trySuccess(new SpliceResult(outcome, bytesInToOut, bytesOutToIn, 0,
                    bytesInToOut + bytesOutToIn, e));
        }
    }

    /**
     * One direction of the relay: the handler on one channel, which forwards what it reads to the peer. Runs on its
     * channel's event loop.
     */
    private final class Direction extends ChannelInboundHandlerAdapter {
        private final Channel peer;
        private final boolean isIn;
        /** This channel's end of stream was seen; its channel's loop only. */
        private boolean endSeen;

        Direction(Channel peer, boolean isIn) {
            this.peer = peer;
            this.isIn = isIn;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf) || !peer.isActive()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            count(isIn, ((ByteBuf) msg).readableBytes());
            // The void promise: no future per write on the hot path; a failed write fires exceptionCaught on the peer.
            peer.write(msg, peer.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            peer.flush();
            // Checked after the flush, which usually empties the peer's buffer into its socket: stop reading only
            // when the peer really cannot keep up (resumed by its writability change), not after every burst.
            if (!peer.isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            // This channel drained: its peer may read again (unless it already reached its end of stream).
            if (ctx.channel().isWritable()
                    && !(peer instanceof DuplexChannel && ((DuplexChannel) peer).isInputShutdown())) {
                peer.config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                if (endSeen) {
                    return; // once per direction, whoever fires it (Netty, or begin() for an end read before)
                }
                endSeen = true;
                if (isIn) {
                    inEof = true;
                } else {
                    outEof = true;
                }
                // Forward the end of stream after the last write completed (shutdownOutput fails pending writes).
                peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
                    // Both channels close only once both ends of stream are forwarded, each after its direction's
                    // last write: the other direction's end being seen is not enough, its bytes may still wait in
                    // its peer's outbound buffer for the socket to drain, and a close would drop them.
                    if (endsForwarded.incrementAndGet() == 2) {
                        closeBoth();
                    } else if (peer instanceof DuplexChannel) {
                        ((DuplexChannel) peer).shutdownOutput();
                    } else {
                        closeAfterBatch(peer);
                    }
                });
                return;
            }
            if (evt instanceof IdleStateEvent) {
                // An idle, read or write timeout handler left in the pipeline: the same rule as for a spliced
                // session, no byte for that long ends the tunnel.
                idle = true;
                closeBoth();
                return;
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            // Our side is gone: flush what we forwarded, then close the peer too.
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> closeAfterBatch(peer));
            ctx.fireChannelInactive();
            closed(isIn); // after the handlers before us saw channelInactive: the result comes last
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (error == null) {
                error = cause;
            }
            if (cause instanceof IOException) {
                // A reset: tell the other peer the tunnel failed the same way.
                try {
                    peer.config().setOption(ChannelOption.SO_LINGER, 0);
                } catch (RuntimeException peerClosed) {
                    // closed already: nothing to reset, but both must still be closed
                }
            }
            closeBoth();
        }
    }

    private void closeBoth() {
        closeAfterBatch(in);
        closeAfterBatch(out);
    }

    /**
     * Closes {@code ch} from its loop's task queue, after the I/O events being handled now: a descriptor closed in the
     * middle of an {@code epoll_wait} batch can be given to a channel accepted or connected later in that batch, and
     * Netty 4.2.18, which routes events by descriptor number, would hand that new channel the closed one's events
     * (docs/architecture.md, "Netty 4.2.18 epoll"). NIO is not affected but is treated alike.
     */
    private static void closeAfterBatch(Channel ch) {
        try {
            ch.eventLoop().execute(() -> ch.close());
        } catch (Throwable shuttingDown) {
            ch.close(); // the loop refuses tasks: close now, as the loop's own shutdown would
        }
    }
}
