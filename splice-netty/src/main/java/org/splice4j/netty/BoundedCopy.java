package org.splice4j.netty;

import java.io.EOFException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.Promise;

import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;

/**
 * A bounded transfer the copying way, where splicing does not apply: both channels stay registered, {@code from} is
 * read one batch at a time (autoRead off) into its {@link HeadReads}, and exactly the bound is written to {@code to}
 * through {@code to}'s {@link HeadReads} context, so no codec of either pipeline sees a byte. {@code to} is not read
 * (its bound is 0): what Netty reads from it anyway is kept for the hand-back.
 *
 * <p>Every field is touched on {@code from}'s event loop only; events of {@code to} are handed over to it.
 */
final class BoundedCopy {

    private final Channel from;
    private final Channel to;
    private final HeadReads fromHead;
    private final HeadReads toHead;
    private final long idleMillis;
    private final Promise<SpliceResult> promise;
    private long left;
    private long moved;
    private int pendingWrites;
    private long lastActivity = System.nanoTime();
    private boolean done;
    private Future<?> idleCheck;
    /** A user's close of either channel ends the transfer; removed when it ends (a connection carries many). */
    private final GenericFutureListener<Future<Void>> closed =
            f -> onLoop(() -> fail(Outcome.CANCELLED, new ClosedChannelException()));

    private BoundedCopy(Channel from, Channel to, long bytes, Duration idleTimeout, Promise<SpliceResult> promise) {
        this.from = from;
        this.to = to;
        this.fromHead = HeadReads.of(from);
        this.toHead = HeadReads.of(to);
        this.left = bytes;
        this.idleMillis = idleTimeout == null ? 0 : idleTimeout.toMillis();
        this.promise = promise;
    }

    /**
     * {@code from}'s event loop, both channels registered with a {@link HeadReads} first in their pipelines (what it
     * holds from {@code from} counts against {@code bytes}).
     */
    static void start(Channel from, Channel to, long bytes, Duration idleTimeout, Promise<SpliceResult> promise) {
        BoundedCopy c = new BoundedCopy(from, to, bytes, idleTimeout, promise);
        // Reading one batch at a time with autoRead off empties an epoll channel's interest set between batches, and
        // Netty 4.2.18 then drops it from epoll: EPOLLERR keeps both channels in (TransferEnd.inEpoll).
        Runnable orElse = () -> TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, 0,
                new IllegalStateException("cannot register the channels back")), promise);
        TransferEnd.onLoopOf(to, orElse, () -> TransferEnd.inEpoll(to, orElse, () -> TransferEnd.onLoopOf(from, orElse,
                () -> TransferEnd.inEpoll(from, orElse, c::run))));
    }

    private void run() {
        if (fromHead == null || toHead == null) {
            // A channel closed before the transfer got it (closing removes every handler).
            fail(Outcome.CANCELLED, new ClosedChannelException());
            return;
        }
        from.config().setAutoRead(false);
        to.config().setAutoRead(false);
        fromHead.onChange = this::pump;
        toHead.onChange = () -> onLoop(this::pump);
        from.closeFuture().addListener(closed);
        to.closeFuture().addListener(closed);
        if (idleMillis > 0) {
            scheduleIdleCheck(idleMillis);
        }
        pump();
    }

    /** {@code from}'s loop: moves what {@code from}'s head holds, up to the bound, and asks for more while writable. */
    private void pump() {
        if (done) {
            return;
        }
        Throwable failure = fromHead.failure != null ? fromHead.failure : toHead.failure;
        if (failure != null) {
            fail(Outcome.FAILED, failure);
            return;
        }
        ByteBuf b = fromHead.take(left);
        if (b != null) {
            int n = b.readableBytes();
            left -= n;
            moved += n;
            pendingWrites++;
            lastActivity = System.nanoTime();
            toHead.context().writeAndFlush(b).addListener(f -> onLoop(() -> written(f)));
        }
        if (left == 0) {
            if (pendingWrites == 0) {
                succeed();
            }
            return;
        }
        if (fromHead.endOfStreamNext() || fromHead.inactive) {
            fail(Outcome.FAILED, new EOFException("end of stream after " + moved + " bytes, " + left
                    + " short of the bound"));
            return;
        }
        if (to.isWritable()) {
            from.read(); // one batch; what goes past the bound stays in fromHead
        }
    }

    private void written(Future<?> f) {
        pendingWrites--;
        lastActivity = System.nanoTime();
        if (!f.isSuccess()) {
            fail(Outcome.FAILED, f.cause());
        } else {
            pump();
        }
    }

    private void scheduleIdleCheck(long delayMillis) {
        idleCheck = from.eventLoop().schedule(() -> {
            if (done) {
                return;
            }
            long idle = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastActivity);
            if (idle >= idleMillis) {
                fail(Outcome.IDLE_TIMEOUT, new TimeoutException("no byte for " + idleMillis + " ms"));
            } else {
                scheduleIdleCheck(idleMillis - idle);
            }
        }, delayMillis, TimeUnit.MILLISECONDS);
    }

    private void succeed() {
        done = true;
        stopIdleCheck();
        TransferEnd.handBack(from, to, new SpliceResult(Outcome.BOUNDS_REACHED, moved, 0, 0, moved, null), promise);
    }

    private void fail(Outcome outcome, Throwable cause) {
        if (done) {
            return;
        }
        done = true;
        stopIdleCheck();
        if (fromHead != null) {
            fromHead.onChange = null;
        }
        if (toHead != null) {
            toHead.onChange = null;
        }
        TransferEnd.closeBoth(from, to, TransferEnd.failed(outcome, moved, cause), promise);
    }

    private void stopIdleCheck() {
        from.closeFuture().removeListener(closed);
        to.closeFuture().removeListener(closed);
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
    }

    /** Runs {@code r} on {@code from}'s loop (inline when already there); a loop shutting down ends the transfer. */
    private void onLoop(Runnable r) {
        if (from.eventLoop().inEventLoop()) {
            r.run();
            return;
        }
        try {
            from.eventLoop().execute(r);
        } catch (RuntimeException e) {
            TransferEnd.closeBoth(from, to, TransferEnd.failed(Outcome.FAILED, moved, e), promise);
        }
    }
}
