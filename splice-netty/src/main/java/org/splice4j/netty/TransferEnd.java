package org.splice4j.netty;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Promise;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import org.splice4j.spi.SpliceResult;

/**
 * The two ways a bounded transfer ends, shared by its spliced ({@link BoundedTransfer}) and copying
 * ({@link BoundedCopy}) paths: both channels handed back to their pipelines, or both closed.
 */
final class TransferEnd {

    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(TransferEnd.class);

    private TransferEnd() {
    }

    /**
     * {@code from}'s event loop, both channels registered: makes sure each is in its loop's epoll set
     * ({@link #inEpoll}), then completes the promise (its listeners, run on {@code from}'s loop, put the codecs back at
     * the start of a message), then each channel's {@link HeadReads} fires what it kept past the bound and restores
     * autoRead, on the channel's own loop. Until then the collectors stay first in the pipelines and keep every read.
     */
    static void handBack(Channel from, Channel to, SpliceResult result, Promise<SpliceResult> promise) {
        Runnable orElse = () -> closeBoth(from, to, failed(SpliceResult.Outcome.FAILED, result.bytesAToB(),
                new IllegalStateException("cannot register the channels back")), promise);
        onLoopOf(to, orElse, () -> inEpoll(to, orElse, () -> onLoopOf(from, orElse,
                () -> inEpoll(from, orElse, () -> complete(from, to, result, promise)))));
    }

    /** Runs {@code r} on {@code ch}'s loop (inline when already there), {@code orElse} if the loop refuses it. */
    static void onLoopOf(Channel ch, Runnable orElse, Runnable r) {
        if (ch.eventLoop().inEventLoop()) {
            r.run();
            return;
        }
        try {
            ch.eventLoop().execute(r);
        } catch (RuntimeException e) {
            orElse.run(); // its loop is shutting down
        }
    }

    private static void complete(Channel from, Channel to, SpliceResult result, Promise<SpliceResult> promise) {
        HeadReads fromHead = HeadReads.of(from);
        HeadReads toHead = HeadReads.of(to);
        // Marked first: a transfer the listeners start on these channels takes the collectors over, kept bytes and
        // all, and then they are not handed back here.
        int fromMark = fromHead == null ? 0 : fromHead.release();
        int toMark = toHead == null ? 0 : toHead.release();
        try {
            promise.trySuccess(result);
        } finally {
            giveBack(from, fromHead, fromMark);
            onLoopOf(to, () -> to.unsafe().closeForcibly(), () -> giveBack(to, toHead, toMark));
        }
    }

    private static void giveBack(Channel ch, HeadReads head, int mark) {
        try {
            List<Object> kept = head == null ? null : head.detachIfStill(ch, mark);
            if (kept != null) {
                HeadReads.refire(ch, kept, head.autoReadBefore);
            }
        } catch (Throwable t) {
            // A handler behind failed on the bytes fired again: the pipeline's own error, as for any read.
            LOG.debug("splice4j: handing {} back after a bounded transfer", ch, t);
            ch.pipeline().fireExceptionCaught(t);
        }
    }

    /**
     * Channel's event loop: runs {@code then} once the channel is surely in its loop's epoll set (other transports:
     * at once), {@code orElse} if it cannot be registered again. Netty 4.2.18 takes an epoll channel's descriptor out
     * of epoll when its interest set becomes empty (autoRead off through a transfer, a stale event after the
     * deregistration) while believing it registered, and the next interest change (autoRead back on) fails with
     * ENOENT: {@link EpollHalfCloseFix} keeps the set from emptying and tells when that already happened; the channel
     * is then registered once more.
     */
    static void inEpoll(Channel ch, Runnable orElse, Runnable then) {
        if (EpollHalfCloseFix.apply(ch)) {
            then.run();
            return;
        }
        ch.deregister().addListener(d -> SplicedChannels.register(ch, ok -> {
            if (ok) {
                EpollHalfCloseFix.apply(ch); // deregistering reset the flags to their initial set
                ch.flush(); // a write that waited for EPOLLOUT lost that flag too
                then.run();
            } else {
                orElse.run();
            }
        }));
    }

    /** Any thread: registers both channels back where needed, closes them, then completes the promise. */
    static void closeBoth(Channel from, Channel to, SpliceResult result, Promise<SpliceResult> promise) {
        AtomicInteger left = new AtomicInteger(2);
        Runnable closed = () -> {
            if (left.decrementAndGet() == 0) {
                promise.trySuccess(result);
            }
        };
        for (Channel ch : new Channel[] {from, to}) {
            try {
                SplicedChannels.giveBackAndClose(ch, closed);
            } catch (Throwable t) {
                try {
                    ch.unsafe().closeForcibly(); // the socket must not stay open
                } catch (Throwable offLoop) {
                    // Off a loop that is gone (Netty asserts closeForcibly runs on it): its shutdown closes its channels.
                } finally {
                    closed.run(); // and the promise must complete
                }
            }
        }
    }

    static SpliceResult failed(SpliceResult.Outcome outcome, long moved, Throwable cause) {
        return new SpliceResult(outcome, moved, 0, 0, moved, cause);
    }
}
