package org.splice4j.linux;

/**
 * A kernel pipe used as the splice buffer between two sockets, and the bytes we put in it. splice(2) cannot tell how
 * full a pipe is, so {@link #bytes} is tracked here: EAGAIN from socket to pipe means "pipe full" when it is non-zero
 * and "socket empty" when it is zero.
 *
 * <p>Both descriptors belong to the {@link PipePool}; a direction borrows the pipe only while bytes are in flight.
 */
final class Pipe {

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

    Pipe(int readFd, int writeFd, int capacity) {
        this.readFd = readFd;
        this.writeFd = writeFd;
        this.capacity = capacity;
    }

    @Override
    public String toString() {
        return "pipe[" + readFd + "," + writeFd + " " + bytes + "/" + capacity + "]";
    }
}
