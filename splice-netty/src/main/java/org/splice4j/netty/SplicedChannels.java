package org.splice4j.netty;

import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * The two Netty channels of one spliced tunnel: hand both over ({@link Handover}: flush, stop reading, deregister),
 * splice, and when the session ends register both channels back on their own event loops and close them there, so
 * Netty fires {@code channelInactive} as for any other close (it does not for a channel closed while deregistered).
 */
final class SplicedChannels {

    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(SplicedChannels.class);

    private final Splicer splicer;
    private final Channel in;
    private final Channel out;
    private final ByteBuf alreadyRead;
    private final Promise<SpliceResult> promise;
    private final Handover inHandover;
    private final Handover outHandover;
    private final AtomicInteger handoversLeft = new AtomicInteger(2);
    private final Runnable cancelOnLoopShutdown = this::cancel;
    private volatile SpliceSession session;

    private SplicedChannels(Splicer splicer, Channel in, Channel out, ByteBuf alreadyRead,
                          Promise<SpliceResult> promise) {
        this.splicer = splicer;
        this.in = in;
        this.out = out;
        this.alreadyRead = alreadyRead;
        this.promise = promise;
        this.inHandover = new Handover(in);
        this.outHandover = new Handover(out);
    }

    static void start(Splicer splicer, Channel in, Channel out, ByteBuf alreadyRead, Promise<SpliceResult> promise) {
        SplicedChannels c = new SplicedChannels(splicer, in, out, alreadyRead, promise);
        c.inHandover.begin(c::handedOver);
        c.outHandover.begin(c::handedOver);
    }

    /** Any event loop: one channel is out of Netty's I/O (or failed to get there). */
    private void handedOver() {
        if (handoversLeft.decrementAndGet() == 0) {
            try {
                in.eventLoop().execute(this::splice);
            } catch (RuntimeException | Error e) {
                // The loop is shutting down: there is nothing to splice on, end the tunnel.
                fail(e, alreadyRead, null);
            }
        }
    }

    /**
     * Inbound's event loop. Any failure from here on (an {@code UncheckedIOException} when the provider cannot dup a
     * socket for want of descriptors, an {@code OutOfMemoryError}, a provider's bug) ends in one of two ways: the
     * stock copying relay takes the channels, or the tunnel ends with both channels closed. Never an escape to Netty's
     * task runner, which would leave both channels deregistered and open and the future pending.
     */
    private void splice() {
        ByteBuf toOut = null;
        ByteBuf toIn = null;
        try {
            Throwable failed = inHandover.failure != null ? inHandover.failure : outHandover.failure;
            toOut = inHandover.takeCollected(alreadyRead);
            // Outbound's collector is touched here, on inbound's loop, only once outbound is deregistered: after a
            // failed hand-over it may still be registered and reading on its own loop (closing it frees what it kept).
            toIn = outHandover.failure == null ? outHandover.takeCollected(null) : null;
            if (failed != null) {
                // A channel closed or failed while being handed over: the tunnel is over before it began.
                fail(failed, toOut, toIn);
                return;
            }
        } catch (Throwable t) {
            fail(t, toOut, toIn); // takeCollected released what it held
            return;
        }
        SpliceSession s;
        try {
            s = splicer.splice(ChannelEndpoints.endpoint(in, nio(toOut)), ChannelEndpoints.endpoint(out, nio(toIn)),
                    options());
        } catch (Throwable refused) {
            // The provider refused these sockets (IllegalArgumentException, IllegalStateException), could not take
            // them over (UncheckedIOException: no descriptor left for its dups) or failed (an Error): the provider
            // left nothing open, so relay them the stock way, bytes read ahead included.
            LOG.debug("splice4j: copying {} <-> {}: {}", in, out, refused.toString());
            fallBackToCopy(toOut, toIn);
            return;
        }
        // The endpoints copied the bytes read ahead: ours are no longer needed.
        ReferenceCountUtil.release(toOut);
        ReferenceCountUtil.release(toIn);
        session = s;
        try {
            in.closeFuture().addListener(f -> cancel());
            out.closeFuture().addListener(f -> cancel());
            for (EventLoop loop : loops()) {
                if (loop instanceof SingleThreadEventExecutor) {
                    // Deregistered channels are invisible to the loop's shutdown: end the session from its hook.
                    try {
                        ((SingleThreadEventExecutor) loop).addShutdownHook(cancelOnLoopShutdown);
                    } catch (RejectedExecutionException e) {
                        s.cancel(); // already shutting down
                    }
                }
            }
        } catch (Throwable t) {
            // The session runs but could not be wired to the channels: end it; its completion closes both channels.
            s.cancel();
        } finally {
            // Last: a session already over runs finish() at once, and finish() removes the hooks added above.
            s.completion().whenComplete((r, never) -> finish(r));
        }
    }

    /** Hands both channels, with what was read ahead, to the stock copying relay; ends the tunnel if that fails. */
    private void fallBackToCopy(ByteBuf toOut, ByteBuf toIn) {
        try {
            long timeout = Math.min(positiveOrMax(inHandover.idleTimeoutMillis),
                    positiveOrMax(outHandover.idleTimeoutMillis));
            registerBoth(() -> {
                if (timeout != Long.MAX_VALUE) {
                    // The hand-over took the timeout handlers away for the session: the copying relay needs one back.
                    in.pipeline().addFirst("splice4j-idle", new IdleStateHandler(0, 0, timeout, TimeUnit.MILLISECONDS));
                }
                CopyRelay.start(in, out, toOut, toIn, promise);
            }, toOut, toIn);
        } catch (Throwable t) {
            fail(t, toOut, toIn);
        }
    }

    /** Ends a tunnel that never started: releases what was read ahead, closes both channels, completes the promise. */
    private void fail(Throwable cause, ByteBuf toOut, ByteBuf toIn) {
        // safeRelease: a buffer already handed on (and released) must not keep the tunnel from ending.
        if (toOut != null && toOut.refCnt() > 0) {
            ReferenceCountUtil.safeRelease(toOut);
        }
        if (toIn != null && toIn.refCnt() > 0) {
            ReferenceCountUtil.safeRelease(toIn);
        }
        finish(new SpliceResult(SpliceResult.Outcome.FAILED, 0, 0, 0, 0, cause));
    }

    private static ByteBuffer nio(ByteBuf b) {
        return b == null ? null : b.nioBuffer();
    }

    /** Any thread: a channel was closed by its user, or its event loop is shutting down. */
    private void cancel() {
        SpliceSession s = session;
        if (s != null) {
            s.cancel();
        }
    }

    private SpliceOptions options() {
        SpliceOptions o = SpliceOptions.defaults().withLabel(label(in, out));
        long timeout = Math.min(positiveOrMax(inHandover.idleTimeoutMillis), positiveOrMax(outHandover.idleTimeoutMillis));
        return timeout == Long.MAX_VALUE ? o : o.withIdleTimeout(Duration.ofMillis(timeout));
    }

    /** A tunnel's label in the splicer's figures, events and log: both channels' short ids. */
    static String label(Channel in, Channel out) {
        return in.id().asShortText() + "<->" + out.id().asShortText();
    }

    private static long positiveOrMax(long v) {
        return v > 0 ? v : Long.MAX_VALUE;
    }

    /** Any thread: gives both channels back to Netty and closes them, then completes the promise. */
    private void finish(SpliceResult result) {
        for (EventLoop loop : loops()) {
            if (loop instanceof SingleThreadEventExecutor) {
                try {
                    ((SingleThreadEventExecutor) loop).removeShutdownHook(cancelOnLoopShutdown);
                } catch (RejectedExecutionException e) {
                    // shutting down: the hook runs and finds the session ended
                }
            }
        }
        AtomicInteger left = new AtomicInteger(2);
        Runnable closed = () -> {
            if (left.decrementAndGet() == 0) {
                promise.trySuccess(result);
            }
        };
        for (Channel ch : new Channel[] {in, out}) {
            try {
                giveBackAndClose(ch, closed);
            } catch (Throwable t) {
                // Whatever failed, the socket must not stay open and the promise must complete.
                LOG.debug("splice4j: closing {} after the tunnel: {}", ch, t.toString());
                ch.unsafe().closeForcibly();
                closed.run();
            }
        }
    }

    private EventLoop[] loops() {
        return in.eventLoop() == out.eventLoop() ? new EventLoop[] {in.eventLoop()}
                : new EventLoop[] {in.eventLoop(), out.eventLoop()};
    }

    /** Any thread: registers {@code ch} back if needed and closes it there; {@code then} runs once it is closed. */
    static void giveBackAndClose(Channel ch, Runnable then) {
        if (!ch.isOpen()) {
            then.run(); // closed by its user during the session
            return;
        }
        AtomicBoolean once = new AtomicBoolean();
        Runnable thenOnce = () -> {
            if (once.compareAndSet(false, true)) {
                then.run();
            }
        };
        register(ch, ok -> {
            if (ok) {
                // Complete once the pipeline has seen channelInactive, so the result comes last...
                ch.pipeline().addLast("splice4j-closed", new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        ctx.fireChannelInactive();
                        thenOnce.run();
                    }
                });
                ch.close(immediatePromise(ch)).addListener(f -> {
                    // ...unless the loop is shutting down: then Netty may never get to fire it.
                    if (ch.eventLoop().isShuttingDown()) {
                        thenOnce.run();
                    }
                });
            } else {
                ch.unsafe().closeForcibly(); // the loop is shutting down: close the socket without Netty's events
                thenOnce.run();
            }
        });
    }

    /**
     * Registers both channels back with Netty, each with an {@link EarlyReads} collector in place first (so no read
     * between the registration and the copying relay's start is lost), then runs {@code then}; if a channel cannot be
     * registered (its loop is shutting down) the tunnel ends and {@code toOut}/{@code toIn} are released.
     */
    private void registerBoth(Runnable then, ByteBuf toOut, ByteBuf toIn) {
        AtomicInteger left = new AtomicInteger(2);
        AtomicBoolean allOk = new AtomicBoolean(true);
        for (Channel ch : new Channel[] {in, out}) {
            if (!ch.isRegistered()) {
                EarlyReads.install(ch); // deregistered: no event loop touches its pipeline now
            }
            register(ch, ok -> {
                if (!ok) {
                    allOk.set(false);
                }
                if (left.decrementAndGet() == 0) {
                    if (allOk.get()) {
                        try {
                            then.run();
                        } catch (Throwable t) {
                            fail(t, toOut, toIn);
                        }
                    } else if (!in.isOpen() || !out.isOpen()) {
                        // Its user closed a channel during the hand-over (Netty refuses to register a closed one):
                        // the tunnel ended before it began, for the reason a close during the hand-over has.
                        fail(new ClosedChannelException(), toOut, toIn);
                    } else {
                        fail(new IllegalStateException("cannot register the channels back"), toOut, toIn);
                    }
                }
            });
        }
    }

    /** Registers a deregistered channel back on its own event loop. */
    static void register(Channel ch, Consumer<Boolean> then) {
        if (ch.isRegistered()) {
            then.accept(true);
            return;
        }
        try {
            ch.eventLoop().register(immediatePromise(ch)).addListener(f -> then.accept(f.isSuccess()));
        } catch (RuntimeException e) {
            then.accept(false); // RejectedExecutionException: the loop is shutting down
        }
    }

    /**
     * A promise whose listeners run on the thread that completes it. A channel promise normally notifies on the
     * channel's event loop, which never happens once that loop has terminated: then the tunnel would never finish.
     */
    static ChannelPromise immediatePromise(Channel ch) {
        return new DefaultChannelPromise(ch, ImmediateEventExecutor.INSTANCE);
    }

}
