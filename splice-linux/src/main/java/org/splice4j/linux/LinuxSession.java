package org.splice4j.linux;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.time.Duration;

import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.support.AbstractSession;

/**
 * One Linux-provider session: our dups of sockets A and B ({@link WatchedSocket}s, each registered once in the loop's
 * epoll set) and two {@link SpliceDirection}s, the pumps. The session wires them, turns what the directions want into
 * epoll interest, and ends: the counters, idle clock and cancel are {@link AbstractSession}'s.
 *
 * <p>Everything runs on the session's loop thread except {@link #cancel()}, which hands its work to the loop and
 * waits for it.
 */
final class LinuxSession extends AbstractSession implements SpliceDirection.Owner {

    private final EpollLoop loop;
    private final WatchedSocket socketA;
    private final WatchedSocket socketB;
    private final SpliceDirection aToB;
    private final SpliceDirection bToA;
    /** Whether both directions end at a byte count ({@link SpliceOptions#withBounds}), not at end of stream. */
    private final boolean bounded;

    /** Takes ownership of the dups {@code a} and {@code b}: from here on only this session closes them. */
    LinuxSession(LinuxSplicer splicer, EpollLoop loop, PipePool pool, OwnedFd a, ByteBuffer alreadyReadA, OwnedFd b,
                 ByteBuffer alreadyReadB, Duration idleTimeout, SpliceOptions options) {
        super(splicer, loop, idleTimeout, options);
        this.loop = loop;
        this.bounded = options.isBounded();
        this.aToB = new SpliceDirection(a, b, alreadyReadA, options.boundAToB(), true, loop, pool, this);
        this.bToA = new SpliceDirection(b, a, alreadyReadB, options.boundBToA(), false, loop, pool, this);
        this.socketA = new WatchedSocket(a, aToB, bToA);
        this.socketB = new WatchedSocket(b, bToA, aToB);
    }

    EpollLoop loop() {
        return loop;
    }

    /** Loop thread: joins the loop and starts both directions (already-read bytes go out first). */
    void register() {
        assert loop.mayTouchSessions();
        if (isEnded()) {
            return;
        }
        if (!loop.isRunning()) {
            abort(Outcome.CANCELLED, null);
            return;
        }
        try {
            loop.attach(this);
            socketA.slot = loop.newSlot(socketA);
            socketB.slot = loop.newSlot(socketB);
            aToB.pump();
            if (!isEnded()) {
                bToA.pump();
            }
            updateInterests();
        } catch (Throwable e) {
            // Anything, an Error too: the session is registered, so it must end here (dups closed, future completed).
            abort(Outcome.FAILED, e);
        }
    }

    @Override
    public void bytesMoved(long n, boolean spliced, boolean isAToB) {
        moved(n, spliced, isAToB);
    }

    @Override
    public void directionFailed(String syscall, int errno) {
        Errno.NativeIoException cause = Errno.exception(syscall, errno);
        abort(Errno.isConnectionAbort(errno) ? Outcome.RESET : Outcome.FAILED, cause);
    }

    @Override
    public void directionFellBack(SpliceFallback reason, String detail) {
        fellBack(reason, detail);
    }

    @Override
    public void directionEnded() {
        if (aToB.done && bToA.done) {
            // Bounded: nothing was shut down and no socket option changed, so both sockets go back as they came.
            finish(bounded ? Outcome.BOUNDS_REACHED : Outcome.COMPLETED, null);
        }
    }

    @Override
    public void sourceEndedBeforeBound(long missing) {
        abort(Outcome.FAILED, new EOFException("end of stream " + missing + " bytes before the bound"));
    }

    /** Both sockets: an event on one can change what the other waits for. */
    private void updateInterests() {
        if (!isEnded()) {
            socketA.updateInterest();
        }
        if (!isEnded()) {
            socketB.updateInterest();
        }
    }

    /** Loop thread: ends the session early and tells the peers as docs/architecture.md says. */
    @Override
    protected void abort(Outcome outcome, Throwable cause) {
        assert loop.mayTouchSessions();
        if (isEnded()) {
            return;
        }
        for (WatchedSocket s : new WatchedSocket[] {socketA, socketB}) {
            if (outcome == Outcome.RESET) {
                s.fd.setLingerZero(); // the caller's close then resets the peer that did not reset
            } else if (outcome == Outcome.CANCELLED) {
                s.fd.shutdownBoth(); // acts on the socket, so the peer sees the close despite the caller's fd
            }
        }
        finish(outcome, cause);
    }

    /** Releases everything, in the order the kernel needs: out of epoll, pipes back, then our dups closed. */
    private void finish(Outcome outcome, Throwable cause) {
        socketA.deregister();
        socketB.deregister();
        aToB.releaseAll();
        bToA.releaseAll();
        socketA.fd.close(); // our dup, owned by this session; the caller's socket stays open until the caller closes it
        socketB.fd.close();
        loop.detach(this);
        end(outcome, cause);
    }

    @Override
    public String toString() {
        return "LinuxSession[" + label() + ", a->b " + aToB + ", b->a " + bToA + ", interest a=" + socketA.interest
                + " b=" + socketB.interest + "]";
    }

    /** Our dup of one socket and its epoll registration; hands its ready events to the two directions. */
    private final class WatchedSocket implements EpollLoop.Handler {
        final OwnedFd fd;
        /** The direction reading from this socket. */
        final SpliceDirection reading;
        /** The direction writing to this socket. */
        final SpliceDirection writing;
        int slot = -1;
        /** Whether our dup is in the loop's epoll set; with an empty {@link #interest} only errors are reported. */
        boolean registered;
        int interest;
        /**
         * EPOLLHUP without an error while nothing was wanted of this socket: both of its directions are over, and
         * level-triggered epoll would report it again on every wait. It leaves the epoll set then.
         */
        boolean hungUp;

        WatchedSocket(OwnedFd fd, SpliceDirection reading, SpliceDirection writing) {
            this.fd = fd;
            this.reading = reading;
            this.writing = writing;
        }

        @Override
        public void onEvents(int events) {
            try {
                handle(events);
            } catch (Throwable e) {
                // For instance no native memory for a fallback buffer, or a StackOverflowError: this session ends
                // (left registered, its level-triggered readiness would spin the loop), the others go on.
                abort(Outcome.FAILED, e);
            }
        }

        private void handle(int events) {
            if ((events & LibC.EPOLLERR) != 0) {
                int err = fd.takeSocketError();
                if (err != 0) {
                    directionFailed("epoll", err);
                    return;
                }
            }
            int anyReady = LibC.EPOLLHUP | LibC.EPOLLERR;
            if ((events & anyReady) != 0 && interest == 0) {
                // Hung up, or an error that SO_ERROR does not hold (the owner's error queue): nothing to wait for on
                // this socket, and epoll would report it again on every wait.
                hungUp = true;
            }
            if ((events & (LibC.EPOLLIN | anyReady)) != 0 && reading.wantRead) {
                reading.pump();
            }
            if (!isEnded() && (events & (LibC.EPOLLOUT | anyReady)) != 0 && writing.wantWrite) {
                writing.pump();
            }
            updateInterests();
        }

        /**
         * Applies the wanted interest. A socket nobody waits on stays in the epoll set with an empty interest, so that
         * a reset is still reported (a peer that half-closed and then vanished, while the other peer is silent), until
         * it hangs up for good ({@link #hungUp}).
         */
        void updateInterest() {
            int wanted = (reading.wantRead ? LibC.EPOLLIN : 0) | (writing.wantWrite ? LibC.EPOLLOUT : 0);
            if (wanted == 0 && hungUp) {
                if (registered) {
                    loop.remove(fd.fd());
                    registered = false;
                    interest = 0;
                }
                return;
            }
            if (registered && wanted == interest) {
                return;
            }
            int errno = loop.ctl(fd.fd(), slot, registered, wanted);
            if (errno != 0) {
                directionFailed("epoll_ctl", errno);
                return;
            }
            registered = true;
            interest = wanted;
        }

        void deregister() {
            if (registered) {
                loop.remove(fd.fd()); // EPOLL_CTL_DEL before our dup is closed
                registered = false;
                interest = 0;
            }
            if (slot >= 0) {
                loop.freeSlot(slot);
                slot = -1;
            }
        }
    }
}
