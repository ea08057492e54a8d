package org.splice4j.linux;

/**
 * A kernel pipe used as the splice buffer between two sockets, and the bytes we put in it. splice(2) cannot tell how
 * full a pipe is, so {@link #bytes} is tracked here: EAGAIN from socket to pipe means "pipe full" when it is non-zero
 * and "socket empty" when it is zero.
 *
 * <p>Both descriptors belong to the {@link PipePool}, which alone makes ({@link #open()}) and closes
 * ({@link #close()}) them; a direction borrows the pipe only while bytes are in flight. {@link #fill} and
 * {@link #drain} are the hot path's calls: allocation-free, retried on EINTR, an errno returned as a negative value.
 */
final class Pipe {

    /** Non-blocking, and moving pages rather than copying where the kernel can. */
    private static final int SPLICE_FLAGS = LibC.SPLICE_F_MOVE | LibC.SPLICE_F_NONBLOCK;

    /** Read end: splice from it to the destination socket. */
    final int readFd;
    /** Write end: splice from the source socket into it. */
    final int writeFd;
    /** The size the kernel really granted (F_GETPIPE_SZ / F_SETPIPE_SZ result), not the size asked for. */
    int capacity;
    /** Bytes spliced in and not yet spliced out. */
    int bytes;
    /** The kernel refused to grow this pipe (per-user pipe limit): do not ask again. */
    boolean growRefused;

    private Pipe(int readFd, int writeFd, int capacity) {
        this.readFd = readFd;
        this.writeFd = writeFd;
        this.capacity = capacity;
    }

    /**
     * A new non-blocking, close-on-exec pipe at the kernel's default size; its two descriptors are the caller's (the
     * pool's) until {@link #close()}.
     *
     * @throws Errno.NativeIoException if the kernel refuses one (EMFILE, ENFILE, the per-user pipe limit)
     */
    static Pipe open() throws Errno.NativeIoException {
        int[] fds = new int[2];
        if (LibC.pipe2(fds, LibC.O_NONBLOCK | LibC.O_CLOEXEC) < 0) {
            throw Errno.exception("pipe2", Errno.last());
        }
        int size = LibC.fcntl(fds[1], LibC.F_GETPIPE_SZ, 0);
        return new Pipe(fds[0], fds[1], size > 0 ? size : 4096);
    }

    /**
     * Splices from {@code src} into the free room of this pipe, at most {@code max} bytes, in one call: the kernel
     * never consumes more than that from the socket, so a bounded session leaves the bytes past its bound unread.
     *
     * @return the bytes moved in, 0 at the source's end of stream, or minus the errno ({@code -Errno.EAGAIN}: the
     *         socket is empty when the pipe was; EINVAL or ENOSYS: the kernel cannot splice from this socket)
     */
    long fill(OwnedFd src, long max) {
        while (true) {
            int injected = FaultInjection.spliceFromSocketErrno; // tests only; 0 otherwise
            if (injected != 0) {
                return -injected;
            }
            long n = LibC.splice(src.fd(), null, writeFd, null, Math.min(capacity - bytes, max), SPLICE_FLAGS);
            if (n >= 0) {
                bytes += (int) n;
                return n;
            }
            int errno = Errno.last();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /**
     * Splices what this pipe holds to {@code dst}, in one call.
     *
     * @return the bytes moved out, or minus the errno ({@code -Errno.EAGAIN}: the socket's buffer is full)
     */
    long drain(OwnedFd dst) {
        while (true) {
            long n = LibC.splice(readFd, null, dst.fd(), null, bytes, SPLICE_FLAGS);
            if (n > 0) {
                bytes -= (int) n;
                return n;
            }
            if (n == 0) {
                return -Errno.EPIPE; // a pipe holding our bytes has a writer (us): cannot happen
            }
            int errno = Errno.last();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /**
     * Asks the kernel for {@code size} bytes (F_SETPIPE_SZ) and keeps what it really grants. A refusal (EPERM past
     * the per-user limit) leaves the pipe as it is, and it is never asked again.
     *
     * @return 0, or the errno of the refusal
     */
    int grow(int size) {
        int granted = LibC.fcntl(writeFd, LibC.F_SETPIPE_SZ, size);
        if (granted > 0) {
            capacity = granted;
            return 0;
        }
        int errno = Errno.last();
        int real = LibC.fcntl(writeFd, LibC.F_GETPIPE_SZ, 0);
        if (real > 0) {
            capacity = real;
        }
        growRefused = true;
        return errno;
    }

    /**
     * Makes this empty pipe smaller (F_SETPIPE_SZ), giving slots back to the user's pipe allowance. The kernel
     * refuses only a size below what the pipe holds (EBUSY), so an empty pipe is always shrunk.
     *
     * @return false if refused (the pipe is as it was)
     */
    boolean shrink(int size) {
        assert bytes == 0 : this;
        int granted = LibC.fcntl(writeFd, LibC.F_SETPIPE_SZ, size);
        if (granted > 0) {
            capacity = granted;
            return true;
        }
        return false;
    }

    /** Closes both ends (the pool's, nobody else has them); bytes still in the pipe are dropped with it. */
    void close() {
        LibC.close(readFd);
        LibC.close(writeFd);
    }

    @Override
    public String toString() {
        return "pipe[" + readFd + "," + writeFd + " " + bytes + "/" + capacity + "]";
    }
}
