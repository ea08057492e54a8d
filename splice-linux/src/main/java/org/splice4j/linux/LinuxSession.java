package org.splice4j.linux;

import java.nio.ByteBuffer;
import java.time.Duration;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.support.AbstractSession;
import org.splice4j.spi.support.RelayLoop;

/**
 * One Linux-provider session: our dups of sockets A and B ({@link Side}s, each registered once in the loop's epoll
 * set) and two {@link Direction}s.
 *
 * <p>Everything runs on the session's loop thread except {@link #cancel()}, which hands its work to the loop and
 * waits for it.
 */
final class LinuxSession extends AbstractSession implements RelayLoop.Member {

    private static final int SPLICE_F_MOVE = 1;
    private static final int SPLICE_F_NONBLOCK = 2;
    /** Never SPLICE_F_MORE: it corks small messages (golang/go#10948). */
    private static final int SPLICE_FLAGS = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
    /**
     * Splice-auto, per direction: a direction copies (read and write through the loop's scratch buffer) until one
     * read fills that buffer, the mark of a bulk stream, and then splices; a splice that brings in less than this
     * goes back to copying. Small interactive messages thus cost a read and a write, never a pipe's overhead, and bulk
     * streams pay one 64 KiB copy when they start. Two small splices in a row are needed to go back, as one is often
     * only the tail of a burst.
     */
    static final int SMALL_READ = 4096;

    private final EpollLoop loop;
    private final PipePool pool;
    private final Side sideA;
    private final Side sideB;
    private final Direction aToB;
    private final Direction bToA;
    private final long idleTimeoutNanos;
    private long lastActivity = System.nanoTime();

    LinuxSession(LinuxSplicer splicer, EpollLoop loop, PipePool pool, OwnedFd a, ByteBuffer alreadyReadA, OwnedFd b,
                 ByteBuffer alreadyReadB, Duration idleTimeout, SpliceOptions options) {
        super(splicer, options);
        this.loop = loop;
        this.pool = pool;
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.sideA = new Side(a);
        this.sideB = new Side(b);
        this.aToB = new Direction(sideA, sideB, alreadyReadA, true);
        this.bToA = new Direction(sideB, sideA, alreadyReadB, false);
        sideA.out = aToB;
        sideA.in = bToA;
        sideB.out = bToA;
        sideB.in = aToB;
    }

    EpollLoop loop() {
        return loop;
    }

    /** Loop thread: joins the loop and starts both directions (already-read bytes go out first). */
    void register() {
        if (isEnded()) {
            return;
        }
        if (!loop.isRunning()) {
            abort(Outcome.CANCELLED, null);
            return;
        }
        try {
            loop.attach(this);
            sideA.slot = loop.newSlot(sideA);
            sideB.slot = loop.newSlot(sideB);
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
    public void cancel() {
        // Any thread. When this returns the loop has closed our dups and will not touch the sockets again.
        if (isEnded()) {
            return;
        }
        loop.executeAndWait(() -> abort(Outcome.CANCELLED, null));
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

    /** Both sides: an event on one side can change what the other side waits for. */
    private void updateInterests() {
        if (!isEnded()) {
            sideA.updateInterest();
        }
        if (!isEnded()) {
            sideB.updateInterest();
        }
    }

    private void failed(String syscall, int errno) {
        Errno.NativeIoException cause = Errno.exception(syscall, errno);
        abort(Errno.isConnectionAbort(errno) ? Outcome.RESET : Outcome.FAILED, cause);
    }

    private void directionDone() {
        if (aToB.done && bToA.done) {
            finish(Outcome.COMPLETED, null);
        }
    }

    /** Ends the session early and tells the peers as DESIGN.md says. */
    private void abort(Outcome outcome, Throwable cause) {
        if (isEnded()) {
            return;
        }
        for (Side s : new Side[] {sideA, sideB}) {
            if (outcome == Outcome.RESET) {
                s.fd.setLingerZero(); // the caller's close then resets the peer that did not reset
            } else if (outcome == Outcome.CANCELLED) {
                s.fd.shutdown(OwnedFd.SHUT_RDWR); // acts on the socket, so the peer sees the close despite our dup
            }
        }
        finish(outcome, cause);
    }

    /** Releases everything, in the order the kernel needs: out of epoll, pipes back, then our dups closed. */
    private void finish(Outcome outcome, Throwable cause) {
        sideA.deregister();
        sideB.deregister();
        aToB.releaseAll();
        bToA.releaseAll();
        sideA.fd.close(); // our dup only; the caller's socket stays open until the caller closes it
        sideB.fd.close();
        loop.detach(this);
        end(outcome, cause);
    }

    @Override
    public String toString() {
        return "LinuxSession[" + label() + ", a->b " + aToB + ", b->a " + bToA + ", interest a=" + sideA.interest
                + " b=" + sideB.interest + "]";
    }

    /** Our dup of one socket and its epoll registration. */
    private final class Side implements EpollLoop.Handler {
        final OwnedFd fd;
        int slot = -1;
        /** Whether our dup is in the loop's epoll set; with an empty {@link #interest} only errors are reported. */
        boolean registered;
        int interest;
        /**
         * EPOLLHUP without an error while nothing was wanted of this socket: both of its directions are over, and
         * level-triggered epoll would report it again on every wait. It leaves the epoll set then.
         */
        boolean hungUp;
        /** The direction reading from this socket. */
        Direction out;
        /** The direction writing to this socket. */
        Direction in;

        Side(OwnedFd fd) {
            this.fd = fd;
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
            if ((events & EpollEvents.EPOLLERR) != 0) {
                int err = fd.takeSocketError();
                if (err != 0) {
                    failed("epoll", err);
                    return;
                }
            }
            if ((events & (EpollEvents.EPOLLHUP | EpollEvents.EPOLLERR)) != 0 && interest == 0) {
                // Hung up, or an error that SO_ERROR does not hold (the owner's error queue): nothing to wait for on
                // this socket, and epoll would report it again on every wait.
                hungUp = true;
            }
            int anyReady = EpollEvents.EPOLLHUP | EpollEvents.EPOLLERR;
            if ((events & (EpollEvents.EPOLLIN | anyReady)) != 0 && out.wantRead) {
                out.pump();
            }
            if (!isEnded() && (events & (EpollEvents.EPOLLOUT | anyReady)) != 0 && in.wantWrite) {
                in.pump();
            }
            updateInterests();
        }

        /**
         * Applies the wanted interest. A socket nobody waits on stays in the epoll set with an empty interest, so that
         * a reset is still reported (a peer that half-closed and then vanished, while the other peer is silent), until
         * it hangs up for good ({@link #hungUp}).
         */
        void updateInterest() {
            int wanted = (out.wantRead ? EpollEvents.EPOLLIN : 0) | (in.wantWrite ? EpollEvents.EPOLLOUT : 0);
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
                failed("epoll_ctl", errno);
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

    /**
     * Bytes from one socket to the other. States, per wake-up:
     * <pre>
     *   user bytes pending? --write--> pipe bytes pending? --splice out--> source at EOF? --shutdown(dst, WR)--> done
     *          |                              |                                  |
     *       EAGAIN: wait for OUT           EAGAIN: wait for OUT               one read (splice in, or copy):
     *                                                                          EAGAIN: wait for IN; 0: EOF
     * </pre>
     * It reads only with its pipe and buffer empty, so EAGAIN from the source always means "nothing to read", and it
     * reads at most once per wake-up: level-triggered epoll reports the source again if more is there.
     */
    private final class Direction {
        private final Side src;
        private final Side dst;
        private final boolean isAToB;
        private Pipe pipe;
        /** User-space bytes to write (already-read bytes, or a copied burst), or null. */
        private Memory buffer;
        /** The buffer's native address: read and write take it as a number, so no Pointer is made per call. */
        private long bufferAddress;
        private int bufferPos;
        private int bufferLen;
        /** The kernel refused splice for this socket (EINVAL, ENOSYS): copy for the rest of the session. */
        private boolean spliceRefused;
        /** Splice-auto's state: splice the next read (bulk) or copy it (small messages; every direction starts so). */
        private boolean bulk;
        /** Small splices in a row; two of them switch back to copying (one is often just the tail of a burst). */
        private int smallSplices;
        private boolean srcEof;
        boolean wantRead;
        boolean wantWrite;
        boolean done;

        Direction(Side src, Side dst, ByteBuffer alreadyRead, boolean isAToB) {
            this.src = src;
            this.dst = dst;
            this.isAToB = isAToB;
            int n = alreadyRead.remaining();
            if (n > 0) {
                buffer = new Memory(n);
                bufferAddress = Pointer.nativeValue(buffer);
                byte[] bytes = new byte[n];
                alreadyRead.get(bytes);
                buffer.write(0, bytes, 0, n);
                bufferLen = n;
            }
        }

        void pump() {
            boolean readOnce = false;
            while (true) {
                // 1. User-space bytes first: they were read before anything now in the socket.
                while (bufferLen > 0) {
                    long n = LibC.write(dst.fd.fd(), bufferAddress + bufferPos, bufferLen);
                    if (n < 0) {
                        int errno = Errno.last();
                        if (errno == Errno.EINTR) {
                            continue;
                        }
                        if (errno == Errno.EAGAIN) {
                            waitForDestination();
                            return;
                        }
                        failed("write", errno);
                        return;
                    }
                    bufferPos += (int) n;
                    bufferLen -= (int) n;
                    moved(n, false);
                }
                freeBuffer(); // written out: a direction holds user-space memory only while its destination is full
                // 2. Then what is in the pipe.
                while (pipe != null && pipe.bytes > 0) {
                    long n = LibC.splice(pipe.readFd, null, dst.fd.fd(), null, pipe.bytes, SPLICE_FLAGS);
                    if (n < 0) {
                        int errno = Errno.last();
                        if (errno == Errno.EINTR) {
                            continue;
                        }
                        if (errno == Errno.EAGAIN) {
                            waitForDestination();
                            return;
                        }
                        failed("splice", errno);
                        return;
                    }
                    if (n == 0) {
                        failed("splice", Errno.EPIPE); // a pipe with our bytes and no writer: cannot happen
                        return;
                    }
                    pipe.bytes -= (int) n;
                    moved(n, true);
                }
                if (pipe != null) {
                    pool.release(pipe); // empty: idle directions hold no pipe
                    pipe = null;
                }
                wantWrite = false;
                // 3. Everything read has been written: forward an end of stream, or read again.
                if (srcEof) {
                    wantRead = false;
                    if (!done) {
                        done = true;
                        dst.fd.shutdown(OwnedFd.SHUT_WR);
                        directionDone();
                    }
                    return;
                }
                if (readOnce) {
                    wantRead = true;
                    return;
                }
                readOnce = true;
                if (!readSource()) {
                    return;
                }
            }
        }

        /**
         * One read from the source: spliced into a pipe when the stream is bulk and a pipe is free, else copied.
         * False: stop for now.
         */
        private boolean readSource() {
            if (bulk && !spliceRefused && (pipe != null || (pipe = pool.acquire()) != null)) {
                while (true) {
                    int injected = FaultInjection.spliceFromSocketErrno; // tests only; 0 otherwise
                    long n = injected != 0 ? -1
                            : LibC.splice(src.fd.fd(), null, pipe.writeFd, null, pipe.capacity, SPLICE_FLAGS);
                    if (n > 0) {
                        pipe.bytes = (int) n;
                        if (n >= pipe.capacity / 2) {
                            // Half full or more in one call (a pipe's 16 default slots rarely hold a full 64 KiB of
                            // TCP segments): a bulk stream, so give it a bigger pipe. Small messages never get here.
                            pool.grow(pipe);
                        } else if (n < SMALL_READ && ++smallSplices == 2) {
                            bulk = false; // small messages now: copy the next ones
                        }
                        if (n >= SMALL_READ) {
                            smallSplices = 0;
                        }
                        return true;
                    }
                    if (n == 0) {
                        srcEof = true;
                        return true;
                    }
                    int errno = injected != 0 ? injected : Errno.last();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    if (errno == Errno.EAGAIN) {
                        pool.release(pipe); // empty
                        pipe = null;
                        wantRead = true;
                        return false;
                    }
                    if (errno == Errno.EINVAL || errno == Errno.ENOSYS) {
                        // Nothing was consumed: copy from now on.
                        spliceRefused = true;
                        pool.release(pipe);
                        pipe = null;
                        break;
                    }
                    failed("splice", errno);
                    return false;
                }
            }
            return copySource();
        }

        /**
         * Reads into the loop's scratch buffer and writes it to the destination at once; what the destination does
         * not take now is kept in a buffer of this direction's own (step 1 of {@link #pump} writes it later).
         */
        private boolean copySource() {
            long scratch = loop.scratchAddress();
            long n;
            while (true) {
                n = LibC.read(src.fd.fd(), scratch, EpollLoop.SCRATCH_SIZE);
                if (n > 0) {
                    break;
                }
                if (n == 0) {
                    srcEof = true;
                    return true;
                }
                int errno = Errno.last();
                if (errno == Errno.EINTR) {
                    continue;
                }
                if (errno == Errno.EAGAIN) {
                    wantRead = true;
                    return false;
                }
                failed("read", errno);
                return false;
            }
            if (n == EpollLoop.SCRATCH_SIZE) {
                bulk = true; // a full buffer in one read: splice from the next read on
                smallSplices = 0;
            }
            long written = 0;
            while (written < n) {
                long w = LibC.write(dst.fd.fd(), scratch + written, n - written);
                if (w < 0) {
                    int errno = Errno.last();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    if (errno == Errno.EAGAIN) {
                        break;
                    }
                    failed("write", errno);
                    return false;
                }
                written += w;
                moved(w, false);
            }
            if (written < n) {
                int rest = (int) (n - written);
                buffer = new Memory(rest);
                bufferAddress = Pointer.nativeValue(buffer);
                LibC.memcpy(bufferAddress, scratch + written, rest); // the scratch buffer is the next session's
                bufferPos = 0;
                bufferLen = rest;
            }
            return true;
        }

        private void waitForDestination() {
            wantWrite = true;
            wantRead = false; // back-pressure: read again only once what we hold is written
        }

        private void moved(long n, boolean spliced) {
            lastActivity = System.nanoTime();
            if (spliced) {
                splicedBytes += n;
            } else {
                copiedBytes += n;
            }
            if (isAToB) {
                bytesAToB += n;
            } else {
                bytesBToA += n;
            }
        }

        private void freeBuffer() {
            if (buffer != null && bufferLen == 0) {
                buffer.close();
                buffer = null;
                bufferAddress = 0;
                bufferPos = 0;
            }
        }

        @Override
        public String toString() {
            return (done ? "done" : srcEof ? "eof" : "open") + (wantRead ? " wantRead" : "")
                    + (wantWrite ? " wantWrite" : "") + (pipe != null ? " " + pipe : "")
                    + (bufferLen > 0 ? " buffered=" + bufferLen : "") + (spliceRefused ? " copying" : "");
        }

        void releaseAll() {
            if (pipe != null) {
                pool.release(pipe); // closed, not pooled, if it still holds bytes
                pipe = null;
            }
            bufferLen = 0;
            freeBuffer();
        }
    }
}
