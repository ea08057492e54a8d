package org.splice4j.spi.copy;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.time.Duration;

import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.support.AbstractSession;

/**
 * One copy-provider session: two {@link WatchedChannel}s and two {@link CopyDirection}s (A to B, B to A).
 *
 * <p>Everything below runs on the session's loop thread, except {@link #cancel()}.
 */
final class CopySession extends AbstractSession {

    /** Reads per wake-up and direction, so one fast stream cannot starve the other sessions of the loop. */
    private static final int MAX_READS_PER_WAKEUP = 4;

    private final CopyLoop loop;
    private final WatchedChannel channelA;
    private final WatchedChannel channelB;
    private final CopyDirection aToB;
    private final CopyDirection bToA;
    /** Whether both directions end at a byte count ({@link SpliceOptions#withBounds}), not at end of stream. */
    private final boolean bounded;
    /** Loop thread: finish() ran; the end is reported once the keys are deregistered. */
    private boolean finished;

    CopySession(CopySplicer splicer, CopyLoop loop, SpliceEndpoint a, SpliceEndpoint b, Duration idleTimeout,
                SpliceOptions options) {
        super(splicer, loop, idleTimeout, options);
        this.loop = loop;
        this.channelA = new WatchedChannel(a.channel());
        this.channelB = new WatchedChannel(b.channel());
        this.bounded = options.isBounded();
        this.aToB = new CopyDirection(channelA, channelB, a.alreadyRead(), options.boundAToB(), true);
        this.bToA = new CopyDirection(channelB, channelA, b.alreadyRead(), options.boundBToA(), false);
    }

    CopyLoop loop() {
        return loop;
    }

    /** Loop thread: registers both channels and starts both directions. */
    void register() {
        assert loop.mayTouchSessions();
        if (finished) {
            return;
        }
        if (!loop.isRunning()) {
            abort(Outcome.CANCELLED, null);
            return;
        }
        try {
            loop.attach(this);
            channelA.key = channelA.channel.register(loop.selector(), 0, channelA);
            channelB.key = channelB.channel.register(loop.selector(), 0, channelB);
            aToB.pump();
            bToA.pump();
            if (!finished) {
                channelA.updateInterest();
                channelB.updateInterest();
            }
        } catch (Throwable e) {
            // Anything, an OutOfMemoryError too: the session is registered, so it must end here.
            fail(e);
        }
    }

    private void fail(Throwable e) {
        if (e instanceof ClosedChannelException) {
            // The owner closed a channel under us: a teardown, and the other peer must see the close too.
            abort(Outcome.CANCELLED, e);
        } else if (e instanceof EOFException) {
            abort(Outcome.FAILED, e); // a bounded direction's peer closed before its bound: not a reset
        } else if (e instanceof IOException) {
            // Connection reset, broken pipe: the ways a peer aborts a TCP connection.
            abort(Outcome.RESET, e);
        } else {
            abort(Outcome.FAILED, e);
        }
    }

    private void directionDone() {
        if (aToB.done && bToA.done) {
            finish(bounded ? Outcome.BOUNDS_REACHED : Outcome.COMPLETED, null);
        }
    }

    /** Loop thread: ends the session early, telling the peers the way docs/architecture.md says. */
    @Override
    protected void abort(Outcome outcome, Throwable cause) {
        assert loop.mayTouchSessions();
        if (finished) {
            return;
        }
        for (WatchedChannel c : new WatchedChannel[] {channelA, channelB}) {
            try {
                if (outcome == Outcome.RESET) {
                    // The caller's close will then send a reset to the peer that did not reset.
                    c.channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                } else if (outcome == Outcome.CANCELLED) {
                    c.channel.shutdownInput();
                    c.channel.shutdownOutput();
                }
            } catch (IOException ignored) {
                // Closed or already reset: nothing more to tell this peer.
            }
        }
        finish(outcome, cause);
    }

    private void finish(Outcome outcome, Throwable cause) {
        finished = true;
        for (WatchedChannel c : new WatchedChannel[] {channelA, channelB}) {
            if (c.key != null) {
                c.key.cancel();
            }
        }
        aToB.releaseBuffer();
        bToA.releaseBuffer();
        loop.detach(this);
        loop.afterDeregistration(() -> end(outcome, cause));
    }

    /** One channel of the session and its selection key (whose attachment it is). */
    final class WatchedChannel {
        final SocketChannel channel;
        SelectionKey key;
        /** The direction that reads from this channel; set once both directions exist. */
        CopyDirection reading;
        /** The direction that writes to this channel. */
        CopyDirection writing;

        WatchedChannel(SocketChannel channel) {
            this.channel = channel;
        }

        void onReady(int readyOps) {
            try {
                if ((readyOps & SelectionKey.OP_READ) != 0) {
                    reading.pump();
                }
                if (!finished && (readyOps & SelectionKey.OP_WRITE) != 0) {
                    writing.pump();
                }
                if (!finished) {
                    channelA.updateInterest();
                    channelB.updateInterest();
                }
            } catch (IOException | RuntimeException e) {
                fail(e);
            } catch (OutOfMemoryError e) {
                abort(Outcome.FAILED, e); // no buffer for this session; the others go on
            }
        }

        void updateInterest() {
            int ops = (reading.wantRead ? SelectionKey.OP_READ : 0) | (writing.wantWrite ? SelectionKey.OP_WRITE : 0);
            key.interestOps(ops);
        }
    }

    /** Bytes from one channel to the other, through at most one buffer at a time. */
    final class CopyDirection {
        private final WatchedChannel src;
        private final WatchedChannel dst;
        private final boolean isAToB;
        /** Bytes read and not yet written, in read mode; null when nothing is in flight. */
        private ByteBuffer pending;
        /** Bytes this direction may still read from its source, or {@link SpliceOptions#UNBOUNDED}. */
        private long remaining;
        boolean wantRead;
        boolean wantWrite;
        private boolean srcEof;
        boolean done;

        CopyDirection(WatchedChannel src, WatchedChannel dst, ByteBuffer alreadyRead, long bound, boolean isAToB) {
            this.src = src;
            this.remaining = bound;
            this.dst = dst;
            src.reading = this;
            dst.writing = this;
            this.isAToB = isAToB;
            this.pending = alreadyRead.hasRemaining() ? alreadyRead : null;
        }

        /**
         * Writes what is pending, then reads and writes until the source or the destination would block. A bounded
         * direction ends once its bound is read and written, without a half-close; it never reads past the bound.
         */
        void pump() throws IOException {
            int reads = 0;
            while (true) {
                if (pending != null) {
                    int n = dst.channel.write(pending);
                    if (n > 0) {
                        moved(n, false, isAToB);
                    }
                    if (pending.hasRemaining()) {
                        wantWrite = true;
                        wantRead = false; // back-pressure: read again only once this buffer is written
                        return;
                    }
                    releaseBuffer();
                }
                wantWrite = false;
                if (remaining == 0) {
                    wantRead = false; // the bytes after the bound are the owner's: they stay in the socket
                    if (!done) {
                        done = true;
                        directionDone();
                    }
                    return;
                }
                if (srcEof) {
                    wantRead = false;
                    if (!done) {
                        done = true;
                        dst.channel.shutdownOutput(); // forward the half-close
                        directionDone();
                    }
                    return;
                }
                if (reads++ == MAX_READS_PER_WAKEUP) {
                    wantRead = true;
                    return;
                }
                ByteBuffer b = loop.acquireBuffer();
                if (remaining > 0 && remaining < b.remaining()) {
                    b.limit(b.position() + (int) remaining);
                }
                int n;
                try {
                    n = src.channel.read(b);
                } catch (IOException e) {
                    loop.releaseBuffer(b);
                    throw e;
                }
                if (n < 0) {
                    loop.releaseBuffer(b);
                    if (remaining > 0) {
                        throw new EOFException("end of stream " + remaining + " bytes before the bound of "
                                + (isAToB ? "a->b" : "b->a"));
                    }
                    srcEof = true;
                } else if (n == 0) {
                    loop.releaseBuffer(b);
                    wantRead = true;
                    return;
                } else {
                    if (remaining > 0) {
                        remaining -= n;
                    }
                    b.flip();
                    pending = b;
                }
            }
        }


        void releaseBuffer() {
            if (pending != null) {
                loop.releaseBuffer(pending);
                pending = null;
            }
        }
    }
}
