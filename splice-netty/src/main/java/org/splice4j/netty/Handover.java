package org.splice4j.netty;

import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.timeout.WriteTimeoutHandler;

/**
 * Takes one channel out of Netty's I/O, on its own event loop: stop reading, remove timeout handlers (keeping their
 * timeout), flush pending writes, deregister. Bytes Netty still reads meanwhile (epoll reads on EPOLLRDHUP even with
 * autoRead off) are kept by {@link EarlyReads} at the pipeline's tail, to be sent first once splicing starts.
 */
final class Handover {

    private final Channel ch;
    long idleTimeoutMillis;
    volatile Throwable failure;
    private final AtomicBoolean reported = new AtomicBoolean();

    Handover(Channel ch) {
        this.ch = ch;
    }

    /**
     * Any thread; {@code done} runs exactly once, on the channel's loop once it is deregistered or failed, or on the
     * caller's thread if the loop refuses the task (it is shutting down).
     */
    void begin(Runnable whenDone) {
        Runnable done = () -> {
            if (reported.compareAndSet(false, true)) {
                whenDone.run();
            }
        };
        try {
            ch.eventLoop().execute(() -> run(done));
        } catch (RuntimeException | Error e) {
            failure = e; // RejectedExecutionException: the loop is shutting down
            done.run();
        }
    }

    private void run(Runnable done) {
        try {
            ch.config().setAutoRead(false);
            removeTimeoutHandlers();
            EarlyReads.install(ch);
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(flushed -> {
                if (!flushed.isSuccess()) {
                    failure = flushed.cause();
                    done.run();
                    return;
                }
                ch.deregister().addListener(deregistered -> {
                    EarlyReads early = EarlyReads.of(ch);
                    if (!deregistered.isSuccess()) {
                        failure = deregistered.cause();
                    } else if (!ch.isOpen()) {
                        failure = new ClosedChannelException();
                    } else if (early != null && early.failure != null) {
                        failure = early.failure; // a reset reported while flushing
                    }
                    done.run();
                });
            });
        } catch (Throwable t) {
            // Anything (an Error included) before the listeners took over: this hand-over failed, the tunnel ends.
            if (failure == null) {
                failure = t;
            }
            done.run();
        }
    }

    /**
     * Whether {@code h} is one of the timeout handlers a hand-over removes (and {@link SpliceRelay} therefore allows in
     * a pipeline it splices): an {@link IdleStateHandler}, a {@code ReadTimeoutHandler} (one of those) or a
     * {@link WriteTimeoutHandler}.
     */
    static boolean isTimeoutHandler(ChannelHandler h) {
        return h instanceof IdleStateHandler || h instanceof WriteTimeoutHandler;
    }

    private void removeTimeoutHandlers() {
        List<ChannelHandler> timeouts = new ArrayList<>();
        for (var e : ch.pipeline()) {
            ChannelHandler h = e.getValue();
            if (!isTimeoutHandler(h)) {
                continue;
            }
            if (h instanceof IdleStateHandler idle) {
                for (long t : new long[] {idle.getReaderIdleTimeInMillis(), idle.getWriterIdleTimeInMillis(),
                        idle.getAllIdleTimeInMillis()}) {
                    if (t > 0 && (idleTimeoutMillis == 0 || t < idleTimeoutMillis)) {
                        idleTimeoutMillis = t;
                    }
                }
            }
            // Every one goes. The shortest idle or read timeout becomes the session's; a write timeout has no meaning
            // once the kernel writes.
            timeouts.add(h);
        }
        for (ChannelHandler h : timeouts) {
            ch.pipeline().remove(h);
        }
    }

    /**
     * The channel's event loop or after deregistration: {@code first} (may be null) then what was kept while handing
     * over, as one buffer the caller releases, or null if there is nothing. Releases everything if it fails.
     */
    ByteBuf takeCollected(ByteBuf first) {
        return EarlyReads.take(ch, first);
    }
}
