package org.splice4j.spi.copy;

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
import org.splice4j.spi.support.RelayLoop;

/**
 * One copy-provider session: two {@link Side}s (one per channel) and two {@link Direction}s (A to B, B to A).
 *
 * <p>Everything below runs on the session's loop thread, except {@link #cancel()}.
 */
final class CopySession extends AbstractSession implements RelayLoop.Member {

    /** Reads per wake-up and direction, so one fast stream cannot starve the other sessions of the loop. */
    private static final int MAX_READS_PER_WAKEUP = 4;

    private final CopyLoop loop;
    private final Side sideA;
    private final Side sideB;
    private final Direction aToB;
    private final Direction bToA;
    private final long idleTimeoutNanos;
    private long lastActivity = System.nanoTime();
    /** Loop thread: finish() ran; the end is reported once the keys are deregistered. */
    private boolean finished;

    CopySession(CopySplicer splicer, CopyLoop loop, SpliceEndpoint a, SpliceEndpoint b, Duration idleTimeout,
                SpliceOptions options) {
        super(splicer, options);
        this.loop = loop;
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.sideA = new Side(a.channel());
        this.sideB = new Side(b.channel());
        this.aToB = new Direction(sideA, sideB, a.alreadyRead(), true);
        this.bToA = new Direction(sideB, sideA, b.alreadyRead(), false);
        sideA.out = aToB;
        sideA.in = bToA;
        sideB.out = bToA;
        sideB.in = aToB;
    }

    CopyLoop loop() {
        return loop;
    }

    /** Loop thread: registers both channels and starts both directions. */
    void register() {
        if (finished) {
            return;
        }
        if (!loop.isRunning()) {
            abort(Outcome.CANCELLED, null);
            return;
        }
        try {
            loop.attach(this);
            sideA.key = sideA.channel.register(loop.selector(), 0, sideA);
            sideB.key = sideB.channel.register(loop.selector(), 0, sideB);
            aToB.pump();
            bToA.pump();
            if (!finished) {
                sideA.updateInterest();
                sideB.updateInterest();
            }
        } catch (Throwable e) {
            // Anything, an OutOfMemoryError too: the session is registered, so it must end here.
            fail(e);
        }
    }

    @Override
    public void cancel() {
        // Any thread. Returns once the loop has stopped touching the channels.
        if (isEnded()) {
            return;
        }
        loop.executeAndWait(() -> abort(Outcome.CANCELLED, null)); // returns after the keys are deregistered
    }

    @Override
    public long idleTimeoutNanos() {
        return idleTimeoutNanos;
    }

    @Override
    public long lastActivityNanos() {
        return lastActivity;
    }

    @Override
    public void onIdleTimeout() {
        abort(Outcome.IDLE_TIMEOUT, null);
    }

    @Override
    public void onLoopStop() {
        abort(Outcome.CANCELLED, null);
    }

    private void fail(Throwable e) {
        if (e instanceof ClosedChannelException) {
            // The owner closed a channel under us: a teardown, and the other peer must see the close too.
            abort(Outcome.CANCELLED, e);
        } else if (e instanceof IOException) {
            // Connection reset, broken pipe: the ways a peer aborts a TCP connection.
            abort(Outcome.RESET, e);
        } else {
            abort(Outcome.FAILED, e);
        }
    }

    private void directionDone() {
        if (aToB.done && bToA.done) {
            finish(Outcome.COMPLETED, null);
        }
    }

    /** Loop thread: ends the session early, telling the peers the way DESIGN.md says. */
    private void abort(Outcome outcome, Throwable cause) {
        if (finished) {
            return;
        }
        for (Side s : new Side[] {sideA, sideB}) {
            try {
                if (outcome == Outcome.RESET) {
                    // The caller's close will then send a reset to the peer that did not reset.
                    s.channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                } else if (outcome == Outcome.CANCELLED) {
                    s.channel.shutdownInput();
                    s.channel.shutdownOutput();
                }
            } catch (IOException ignored) {
                // Closed or already reset: nothing more to tell this peer.
            }
        }
        finish(outcome, cause);
    }

    private void finish(Outcome outcome, Throwable cause) {
        finished = true;
        for (Side s : new Side[] {sideA, sideB}) {
            if (s.key != null) {
                s.key.cancel();
            }
        }
        aToB.releaseBuffer();
        bToA.releaseBuffer();
        loop.detach(this);
        loop.afterDeregistration(() -> end(outcome, cause));
    }

    /** One channel of the session, the attachment of its selection key. */
    final class Side {
        final SocketChannel channel;
        SelectionKey key;
        /** The direction that reads from this channel. */
        Direction out;
        /** The direction that writes to this channel. */
        Direction in;

        Side(SocketChannel channel) {
            this.channel = channel;
        }

        void onReady(int readyOps) {
            try {
                if ((readyOps & SelectionKey.OP_READ) != 0) {
                    out.pump();
                }
                if (!finished && (readyOps & SelectionKey.OP_WRITE) != 0) {
                    in.pump();
                }
                if (!finished) {
                    sideA.updateInterest();
                    sideB.updateInterest();
                }
            } catch (IOException | RuntimeException e) {
                fail(e);
            } catch (OutOfMemoryError e) {
                abort(Outcome.FAILED, e); // no buffer for this session; the others go on
            }
        }

        void updateInterest() {
            int ops = (out.wantRead ? SelectionKey.OP_READ : 0) | (in.wantWrite ? SelectionKey.OP_WRITE : 0);
            key.interestOps(ops);
        }
    }

    /** Bytes from one channel to the other, through at most one buffer at a time. */
    final class Direction {
        private final Side src;
        private final Side dst;
        private final boolean isAToB;
        /** Bytes read and not yet written, in read mode; null when nothing is in flight. */
        private ByteBuffer pending;
        boolean wantRead;
        boolean wantWrite;
        private boolean srcEof;
        boolean done;

        Direction(Side src, Side dst, ByteBuffer alreadyRead, boolean isAToB) {
            this.src = src;
            this.dst = dst;
            this.isAToB = isAToB;
            this.pending = alreadyRead.hasRemaining() ? alreadyRead : null;
        }

        /** Writes what is pending, then reads and writes until the source or the destination would block. */
        void pump() throws IOException {
            int reads = 0;
            while (true) {
                if (pending != null) {
                    int n = dst.channel.write(pending);
                    if (n > 0) {
                        moved(n);
                    }
                    if (pending.hasRemaining()) {
                        wantWrite = true;
                        wantRead = false; // back-pressure: read again only once this buffer is written
                        return;
                    }
                    releaseBuffer();
                }
                wantWrite = false;
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
                int n;
                try {
                    n = src.channel.read(b);
                } catch (IOException e) {
                    loop.releaseBuffer(b);
                    throw e;
                }
                if (n < 0) {
                    loop.releaseBuffer(b);
                    srcEof = true;
                } else if (n == 0) {
                    loop.releaseBuffer(b);
                    wantRead = true;
                    return;
                } else {
                    b.flip();
                    pending = b;
                }
            }
        }

        private void moved(int n) {
            lastActivity = System.nanoTime();
            copiedBytes += n;
            if (isAToB) {
                bytesAToB += n;
            } else {
                bytesBToA += n;
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
