package org.splice4j.netty;

import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * A bounded transfer that splices: both channels leave Netty's I/O (autoRead off, pending writes flushed past the
 * codecs, deregistered, every read meanwhile caught by a {@link HeadReads} first in the pipeline), a bounded session
 * moves exactly the bound from {@code from} to {@code to} and reads nothing of {@code to}, and both channels are
 * registered back on their own event loops with their pipelines untouched ({@link TransferEnd#handBack}). Any other
 * ending closes both. When the provider refuses the sockets the channels go back to Netty and {@link BoundedCopy}
 * moves the bytes instead.
 *
 * <p>The hand-over itself is bounded too: a peer that stops reading keeps the flush of what the codecs wrote (a
 * response head) pending forever, so the idle timeout, when given, is also the hand-over's deadline, and a user's
 * close during the hand-over ends it at once.
 */
final class BoundedTransfer {

    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(BoundedTransfer.class);

    private final Splicer splicer;
    private final Channel from;
    private final Channel to;
    private final long bytes;
    private final Duration idleTimeout;
    private final Promise<SpliceResult> promise;
    private final AtomicInteger handoversLeft = new AtomicInteger(2);
    private final Runnable cancelOnLoopShutdown = this::cancel;
    private final GenericFutureListener<Future<Void>> closed = f -> closedByUser();
    /** Set once, by whichever comes first: the session's start, the hand-over deadline, or a close meanwhile. */
    private final AtomicBoolean handoverOver = new AtomicBoolean();
    private volatile Future<?> handoverDeadline;
    private volatile Throwable handoverFailure;
    private volatile SpliceSession session;

    private BoundedTransfer(Splicer splicer, Channel from, Channel to, long bytes, Duration idleTimeout,
                            Promise<SpliceResult> promise) {
        this.splicer = splicer;
        this.from = from;
        this.to = to;
        this.bytes = bytes;
        this.idleTimeout = idleTimeout;
        this.promise = promise;
    }

    /** Any thread; both channels have their {@link HeadReads} (the bytes read ahead from {@code from} in front). */
    static void start(Splicer splicer, Channel from, Channel to, long bytes, Duration idleTimeout,
                      Promise<SpliceResult> promise) {
        BoundedTransfer t = new BoundedTransfer(splicer, from, to, bytes, idleTimeout, promise);
        t.watch();
        t.handOver(from);
        t.handOver(to);
    }

    /**
     * Before the hand-over: each channel waits for its flush before it deregisters, and a peer that does not read
     * keeps that flush pending, the other channel already deregistered (where no idle handler of its sees it): the
     * idle timeout bounds the wait, and a close of either channel ends it.
     */
    private void watch() {
        from.closeFuture().addListener(closed);
        to.closeFuture().addListener(closed);
        long ms = idleTimeout == null ? 0 : idleTimeout.toMillis();
        if (ms > 0) {
            try {
                handoverDeadline = from.eventLoop().schedule(() -> endHandover(Outcome.IDLE_TIMEOUT,
                        new TimeoutException("the hand-over took over " + ms + " ms")), ms, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                // from's loop is shutting down: the hand-over fails on it, and that ends the transfer
            }
        }
    }

    /** Any thread: ends a transfer whose session has not started; nothing if it has. */
    private void endHandover(Outcome outcome, Throwable cause) {
        if (handoverOver.compareAndSet(false, true)) {
            stopWatching();
            TransferEnd.closeBoth(from, to, TransferEnd.failed(outcome, 0, cause), promise);
        }
    }

    private void closedByUser() {
        if (session == null) {
            endHandover(Outcome.CANCELLED, new ClosedChannelException());
        }
        cancel(); // the session, if it started meanwhile
    }

    private void stopWatching() {
        from.closeFuture().removeListener(closed);
        to.closeFuture().removeListener(closed);
        Future<?> d = handoverDeadline;
        if (d != null) {
            d.cancel(false);
        }
    }

    /** Any thread: takes {@code ch} out of Netty's I/O on its loop, then counts it as handed over. */
    private void handOver(Channel ch) {
        AtomicBoolean once = new AtomicBoolean();
        Runnable done = () -> {
            if (once.compareAndSet(false, true) && handoversLeft.decrementAndGet() == 0) {
                onLoop(from, this::handedOver);
            }
        };
        try {
            ch.eventLoop().execute(() -> {
                try {
                    HeadReads head = HeadReads.of(ch);
                    if (head == null) {
                        throw new ClosedChannelException(); // closed, and its pipeline emptied, before the transfer
                    }
                    ch.config().setAutoRead(false);
                    // Through the head's context: what the codecs already wrote is flushed, and nothing passes them.
                    head.context().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(flushed -> {
                        if (!flushed.isSuccess()) {
                            failHandover(flushed.cause());
                            done.run();
                            return;
                        }
                        ch.deregister().addListener(deregistered -> {
                            if (!deregistered.isSuccess()) {
                                failHandover(deregistered.cause());
                            } else if (!ch.isOpen()) {
                                failHandover(new ClosedChannelException());
                            }
                            done.run();
                        });
                    });
                } catch (Throwable t) {
                    failHandover(t);
                    done.run();
                }
            });
        } catch (RuntimeException e) {
            failHandover(e); // its loop is shutting down
            done.run();
        }
    }

    private void failHandover(Throwable t) {
        if (handoverFailure == null) {
            handoverFailure = t;
        }
    }

    /** {@code from}'s loop, both channels handed over (or failed): on to the session, unless the deadline came first. */
    private void handedOver() {
        if (!handoverOver.compareAndSet(false, true)) {
            return; // the deadline or a close ended the transfer (and closed both) meanwhile
        }
        Future<?> d = handoverDeadline;
        if (d != null) {
            d.cancel(false); // the session has its own idle timeout
        }
        splice();
    }

    /** {@code from}'s loop, both channels deregistered (or failed): starts the bounded session. */
    private void splice() {
        HeadReads fromHead = HeadReads.of(from);
        HeadReads toHead = HeadReads.of(to);
        Throwable failed = handoverFailure;
        if (failed == null) {
            failed = fromHead.failure != null ? fromHead.failure : toHead.failure; // a reset seen while flushing
        }
        if (failed != null) {
            stopWatching();
            TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, 0, failed), promise);
            return;
        }
        ByteBuf ahead = null;
        try {
            // Bytes Netty read up to the bound are written first and do not count against the session's bound.
            ahead = fromHead.take(bytes);
            long aheadBytes = ahead == null ? 0 : ahead.readableBytes();
            SpliceOptions options = SpliceOptions.defaults().withLabel(SplicedChannels.label(from, to))
                    .withBounds(bytes - aheadBytes, 0);
            if (idleTimeout != null) {
                options = options.withIdleTimeout(idleTimeout);
            }
            SpliceSession s;
            try {
                s = splicer.splice(ChannelEndpoints.endpoint(from, ahead == null ? null : ahead.nioBuffer()),
                        ChannelEndpoints.endpoint(to, null), options);
            } catch (Throwable refused) {
                // Refused or failed before it took anything: copy instead, with the bytes read ahead back in front.
                LOG.debug("splice4j: copying the bounded transfer {} -> {}: {}", from, to, refused.toString());
                fromHead.addFirst(ahead);
                ahead = null;
                fallBackToCopy();
                return;
            }
            ReferenceCountUtil.release(ahead); // the endpoint copied them
            ahead = null;
            session = s;
            wire(s);
        } catch (Throwable t) {
            ReferenceCountUtil.safeRelease(ahead);
            stopWatching();
            TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, 0, t), promise);
        }
    }

    private void wire(SpliceSession s) {
        try {
            // The close listeners are in place since the hand-over; a close before the session was set found none.
            if (!from.isOpen() || !to.isOpen()) {
                s.cancel();
            }
            for (EventLoop loop : loops()) {
                if (loop instanceof SingleThreadEventExecutor st) {
                    // Deregistered channels are invisible to the loop's shutdown: end the session from its hook.
                    try {
                        st.addShutdownHook(cancelOnLoopShutdown);
                    } catch (RejectedExecutionException e) {
                        s.cancel();
                    }
                }
            }
        } catch (Throwable t) {
            s.cancel();
        } finally {
            s.completion().whenComplete((r, never) -> finish(r));
        }
    }

    private void fallBackToCopy() {
        stopWatching(); // the copy watches the channels itself
        registerBoth(ok -> {
            if (ok) {
                BoundedCopy.start(from, to, bytes, idleTimeout, promise);
            } else {
                TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, 0,
                        new IllegalStateException("cannot register the channels back")), promise);
            }
        });
    }

    /** Any thread: the session ended. Bounds reached: both channels go back to their pipelines; else both close. */
    private void finish(SpliceResult r) {
        stopWatching();
        for (EventLoop loop : loops()) {
            if (loop instanceof SingleThreadEventExecutor st) {
                try {
                    st.removeShutdownHook(cancelOnLoopShutdown);
                } catch (RejectedExecutionException e) {
                    // shutting down: the hook runs and finds the session ended
                }
            }
        }
        if (r.outcome() != Outcome.BOUNDS_REACHED) {
            TransferEnd.closeBoth(from, to, r, promise);
            return;
        }
        if (!from.isOpen() || !to.isOpen()) {
            // The bound was reached, but a channel was closed meanwhile: nothing is handed back, so the result must
            // not say so.
            TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.CANCELLED, r.bytesAToB(),
                    new ClosedChannelException()), promise);
            return;
        }
        registerBoth(ok -> {
            if (ok) {
                TransferEnd.handBack(from, to, r, promise);
            } else {
                TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, r.bytesAToB(),
                        new IllegalStateException("cannot register the channels back")), promise);
            }
        });
    }

    /** Registers both channels back; {@code then} runs on {@code from}'s loop with whether both are registered. */
    private void registerBoth(java.util.function.Consumer<Boolean> then) {
        AtomicInteger left = new AtomicInteger(2);
        AtomicBoolean allOk = new AtomicBoolean(true);
        for (Channel ch : new Channel[] {from, to}) {
            SplicedChannels.register(ch, ok -> {
                if (!ok) {
                    allOk.set(false);
                }
                if (left.decrementAndGet() == 0) {
                    onLoop(from, () -> then.accept(allOk.get() && from.isRegistered() && to.isRegistered()));
                }
            });
        }
    }

    private void onLoop(Channel ch, Runnable r) {
        Runnable guarded = () -> {
            try {
                r.run();
            } catch (Throwable t) {
                // Never an escape to Netty's task runner: that would leave a channel deregistered and the future open.
                TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, 0, t), promise);
            }
        };
        if (ch.eventLoop().inEventLoop()) {
            guarded.run();
            return;
        }
        try {
            ch.eventLoop().execute(guarded);
        } catch (RuntimeException e) {
            TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, 0, e), promise);
        }
    }

    /** Any thread: a channel was closed by its user, or its event loop is shutting down. */
    private void cancel() {
        SpliceSession s = session;
        if (s != null) {
            s.cancel();
        }
    }

    private EventLoop[] loops() {
        return from.eventLoop() == to.eventLoop() ? new EventLoop[] {from.eventLoop()}
                : new EventLoop[] {from.eventLoop(), to.eventLoop()};
    }
}
