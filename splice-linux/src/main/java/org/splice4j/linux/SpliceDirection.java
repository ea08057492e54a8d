package org.splice4j.linux;

import java.nio.ByteBuffer;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import org.splice4j.spi.SpliceFallback;

/**
 * Bytes from one socket to the other, for a {@link LinuxSession}: the pump. States, per wake-up:
 * <pre>
 *   user bytes pending? --write--> pipe bytes pending? --splice out--> source at EOF? --shutdown(dst, WR)--> done
 *          |                              |                                  |
 *       EAGAIN: wait for OUT           EAGAIN: wait for OUT               one read (splice in, or copy):
 *                                                                          EAGAIN: wait for IN; 0: EOF
 * </pre>
 * It reads only with its pipe and buffer empty, so EAGAIN from the source always means "nothing to read", and it
 * reads at most once per wake-up: level-triggered epoll reports the source again if more is there. Whether a read is
 * spliced or copied is {@link SpliceAuto}'s decision, when its pipe grows {@link PipeGrowth}'s.
 *
 * <p>A bounded direction ({@link org.splice4j.spi.SpliceOptions#withBounds}) reads at most its {@link #remaining}
 * bytes, each read asking for no more than what is left, and is done, without a half-close, once they are written.
 *
 * <p>Loop thread only. It tells its session what happened through {@link Owner}, and never touches epoll: the session
 * reads {@link #wantRead} and {@link #wantWrite} to set each socket's interest.
 */
final class SpliceDirection {

    /** What a direction tells its session. Loop thread. */
    interface Owner {
        /** {@code n} bytes reached the destination. */
        void bytesMoved(long n, boolean spliced, boolean aToB);

        /** A call failed with this errno: the session ends. */
        void directionFailed(String syscall, int errno);

        /** This direction forwarded its end of stream, or relayed its whole bound, and is {@link #done}. */
        void directionEnded();

        /** The source ended {@code missing} bytes before this bounded direction's bound: the session fails. */
        void sourceEndedBeforeBound(long missing);

        /** This direction copies instead of splicing, for this reason (reported once per reason). */
        void directionFellBack(SpliceFallback reason, String detail);
    }

    private final OwnedFd src;
    private final OwnedFd dst;
    private final boolean isAToB;
    private final EpollLoop loop;
    private final PipePool pool;
    private final Owner owner;
    private final SpliceAuto auto = new SpliceAuto();
    private Pipe pipe;
    /** User-space bytes to write (already-read bytes, or a copied burst), or null. */
    private Memory buffer;
    /** The buffer's native address: read and write take it as a number, so no Pointer is made per call. */
    private long bufferAddress;
    private int bufferPos;
    private int bufferLen;
    /** The kernel refused splice for this socket (EINVAL, ENOSYS): copy for the rest of the session. */
    private boolean spliceRefused;
    /** Whether the lack of a pipe was reported: once per direction, however many reads it makes copy. */
    private boolean noPipeReported;
    private boolean srcEof;
    /** Bytes this direction may still read, or {@link org.splice4j.spi.SpliceOptions#UNBOUNDED}. */
    private long remaining;
    boolean wantRead;
    boolean wantWrite;
    boolean done;

    /**
     * @param src         our dup of the socket read from (the session's; this direction never closes it)
     * @param dst         our dup of the socket written to (the session's too)
     * @param alreadyRead bytes the caller read from {@code src} before the hand-over: they go out first
     * @param bound       bytes to read from {@code src} (not counting {@code alreadyRead}), or -1 for no bound
     */
    SpliceDirection(OwnedFd src, OwnedFd dst, ByteBuffer alreadyRead, long bound, boolean isAToB, EpollLoop loop,
                    PipePool pool, Owner owner) {
        this.src = src;
        this.remaining = bound;
        this.dst = dst;
        this.isAToB = isAToB;
        this.loop = loop;
        this.pool = pool;
        this.owner = owner;
        int n = alreadyRead.remaining();
        if (n > 0) {
            buffer = new Memory(n);
            bufferAddress = Pointer.nativeValue(buffer);
            buffer.getByteBuffer(0, n).put(alreadyRead); // one copy, straight into native memory
            bufferLen = n;
        }
    }

    void pump() {
        boolean readOnce = false;
        while (true) {
            // 1. User-space bytes first: they were read before anything now in the socket. 2. Then what is in the pipe.
            if (!writeBuffer() || !drainPipe()) {
                return;
            }
            wantWrite = false;
            // 3. Everything read has been written: the bound is reached, or forward an end of stream, or read again.
            if (remaining == 0) {
                wantRead = false; // what follows the bound is the owner's, and stays in the socket
                if (!done) {
                    done = true;
                    owner.directionEnded();
                }
                return;
            }
            if (srcEof) {
                if (remaining > 0) {
                    wantRead = false;
                    owner.sourceEndedBeforeBound(remaining);
                    return;
                }
                wantRead = false;
                if (!done) {
                    done = true;
                    dst.shutdownOutput();
                    owner.directionEnded();
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

    /** Writes the user-space bytes. False: stop for now (the destination is full, or the session failed). */
    private boolean writeBuffer() {
        while (bufferLen > 0) {
            long n = dst.write(bufferAddress + bufferPos, bufferLen);
            if (n < 0) {
                return blockedOrFailed("write", n);
            }
            bufferPos += (int) n;
            bufferLen -= (int) n;
            moved(n, false);
        }
        freeBuffer(); // written out: a direction holds user-space memory only while its destination is full
        return true;
    }

    /** Splices the pipe's bytes out, then gives the empty pipe back. False: stop for now. */
    private boolean drainPipe() {
        while (pipe != null && pipe.bytes > 0) {
            long n = pipe.drain(dst);
            if (n < 0) {
                return blockedOrFailed("splice", n);
            }
            moved(n, true);
        }
        if (pipe != null) {
            pool.release(pipe); // empty: idle directions hold no pipe
            pipe = null;
        }
        return true;
    }

    /** A write to the destination returned minus {@code errno}: wait for it on EAGAIN, else the session fails. */
    private boolean blockedOrFailed(String syscall, long minusErrno) {
        int errno = (int) -minusErrno;
        if (errno == Errno.EAGAIN) {
            wantWrite = true;
            wantRead = false; // back-pressure: read again only once what we hold is written
        } else {
            owner.directionFailed(syscall, errno);
        }
        return false;
    }

    /**
     * One read from the source: spliced into a pipe when splice-auto says so and a pipe is free, else copied.
     * False: stop for now.
     */
    private boolean readSource() {
        if (auto.spliceNext() && !spliceRefused && havePipe()) {
            long n = pipe.fill(src, remaining < 0 ? Long.MAX_VALUE : remaining);
            if (n > 0) {
                read(n);
                if (PipeGrowth.wanted(pipe, n)) {
                    pool.grow(pipe);
                }
                auto.spliced(n);
                return true;
            }
            if (n == 0) {
                srcEof = true; // the empty pipe goes back in the next step
                return true;
            }
            int errno = (int) -n;
            if (errno == Errno.EAGAIN) {
                pool.release(pipe); // empty
                pipe = null;
                wantRead = true;
                return false;
            }
            if (errno != Errno.EINVAL && errno != Errno.ENOSYS) {
                owner.directionFailed("splice", errno);
                return false;
            }
            // Nothing was consumed: copy from now on.
            spliceRefused = true;
            pool.release(pipe);
            pipe = null;
            owner.directionFellBack(SpliceFallback.SPLICE_REFUSED, "splice(2) refused this socket: "
                    + Errno.exception("splice", errno).getMessage());
        }
        return copySource();
    }

    /** A pipe for this read: the one held, else one from the pool; false if there is none (reported once). */
    private boolean havePipe() {
        if (pipe != null || (pipe = pool.acquire()) != null) {
            return true;
        }
        if (!noPipeReported) {
            noPipeReported = true;
            owner.directionFellBack(SpliceFallback.NO_PIPE, pool.whyNoPipe());
        }
        return false;
    }

    /**
     * Reads into the loop's scratch buffer and writes it to the destination at once; what the destination does not
     * take now is kept in a buffer of this direction's own (step 1 of {@link #pump} writes it later).
     */
    private boolean copySource() {
        long scratch = loop.scratchAddress();
        long n = src.read(scratch, remaining < 0 ? EpollLoop.SCRATCH_SIZE : Math.min(remaining, EpollLoop.SCRATCH_SIZE));
        if (n == 0) {
            srcEof = true;
            return true;
        }
        if (n < 0) {
            if (n == -Errno.EAGAIN) {
                wantRead = true;
            } else {
                owner.directionFailed("read", (int) -n);
            }
            return false;
        }
        read(n);
        auto.copied(n, EpollLoop.SCRATCH_SIZE);
        long written = 0;
        while (written < n) {
            long w = dst.write(scratch + written, n - written);
            if (w == -Errno.EAGAIN) {
                break;
            }
            if (w < 0) {
                owner.directionFailed("write", (int) -w);
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

    /** {@code n} bytes came from the source: they count against the bound. */
    private void read(long n) {
        if (remaining > 0) {
            remaining -= n;
        }
    }

    private void moved(long n, boolean spliced) {
        owner.bytesMoved(n, spliced, isAToB);
    }

    private void freeBuffer() {
        if (buffer != null && bufferLen == 0) {
            buffer.close();
            buffer = null;
            bufferAddress = 0;
            bufferPos = 0;
        }
    }

    /** Gives the pipe back (closed, not pooled, if it still holds bytes) and frees the buffer. */
    void releaseAll() {
        if (pipe != null) {
            pool.release(pipe);
            pipe = null;
        }
        bufferLen = 0;
        freeBuffer();
    }

    @Override
    public String toString() {
        return (done ? "done" : srcEof ? "eof" : "open") + (remaining >= 0 ? " remaining=" + remaining : "") + (wantRead ? " wantRead" : "")
                + (wantWrite ? " wantWrite" : "") + (pipe != null ? " " + pipe : "")
                + (bufferLen > 0 ? " buffered=" + bufferLen : "") + (spliceRefused ? " copying" : "");
    }
}
