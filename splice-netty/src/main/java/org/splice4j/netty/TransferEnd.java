package org.splice4j.netty;

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
     * {@code from}'s event loop, both channels registered: completes the promise first (its listeners, run right here,
     * put the codecs back at the start of a message), then each channel's {@link HeadReads} fires what it kept past the
     * bound and restores autoRead, on the channel's own loop.
     */
    static void handBack(Channel from, Channel to, SpliceResult result, Promise<SpliceResult> promise) {
        assert from.eventLoop().inEventLoop();
        HeadReads fromHead = HeadReads.of(from);
        HeadReads toHead = HeadReads.of(to);
        try {
            promise.trySuccess(result);
        } finally {
            giveBack(from, fromHead);
            if (to.eventLoop().inEventLoop()) {
                giveBack(to, toHead);
            } else {
                try {
                    to.eventLoop().execute(() -> giveBack(to, toHead));
                } catch (RuntimeException e) {
                    to.unsafe().closeForcibly(); // its loop is shutting down: nothing will read it again
                }
            }
        }
    }

    private static void giveBack(Channel ch, HeadReads head) {
        try {
            if (head != null) {
                head.handBack(ch);
            }
        } catch (Throwable t) {
            // A handler behind failed on the bytes fired again: the pipeline's own error, as for any read.
            LOG.debug("splice4j: handing {} back after a bounded transfer", ch, t);
            ch.pipeline().fireExceptionCaught(t);
        }
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
                ch.unsafe().closeForcibly(); // the socket must not stay open, and the promise must complete
                closed.run();
            }
        }
    }

    static SpliceResult failed(SpliceResult.Outcome outcome, long moved, Throwable cause) {
        return new SpliceResult(outcome, moved, 0, 0, moved, cause);
    }
}
