package org.splice4j.linux;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The C library calls the Linux provider makes, bound with JNA direct mapping, and every flag and constant they take
 * (the asm-generic values, shared by x86-64 and AArch64). Declarations only, no logic: the typed layer above it is
 * {@link OwnedFd} (our socket dups), {@link Pipe} and {@link EpollLoop}; only they call in here. errno values are in
 * {@link Errno}.
 *
 * <p>Every function returns -1 (or a negative size) on failure with errno set; read it with
 * {@link Native#getLastError()} right after the call. None of them throws for an errno, so EAGAIN on the hot path
 * costs neither a stack trace nor an allocation.
 */
final class LibC {

    // File status flags, fcntl(2) and open(2); pipe2(2), eventfd(2) and epoll_create1(2) take the same values.
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final int EFD_NONBLOCK = O_NONBLOCK;
    static final int EFD_CLOEXEC = O_CLOEXEC;
    static final int EPOLL_CLOEXEC = O_CLOEXEC;

    // fcntl(2) commands.
    static final int F_GETFL = 3;
    static final int F_DUPFD_CLOEXEC = 1030;
    static final int F_SETPIPE_SZ = 1031;
    static final int F_GETPIPE_SZ = 1032;

    // splice(2) flags. Never SPLICE_F_MORE: it corks small messages (golang/go#10948).
    static final int SPLICE_F_MOVE = 1;
    static final int SPLICE_F_NONBLOCK = 2;

    // Sockets: getsockopt(2) and setsockopt(2) levels and names, their values, shutdown(2).
    static final int SOL_SOCKET = 1;
    static final int SO_TYPE = 3;
    static final int SO_ERROR = 4;
    static final int SO_LINGER = 13;
    static final int SO_PROTOCOL = 38;
    static final int SO_DOMAIN = 39;
    static final int SOCK_STREAM = 1;
    static final int IPPROTO_TCP = 6;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    static final int SHUT_WR = 1;
    static final int SHUT_RDWR = 2;

    // epoll(7): event bits and epoll_ctl(2) operations.
    static final int EPOLLIN = 0x001;
    static final int EPOLLOUT = 0x004;
    static final int EPOLLERR = 0x008;
    static final int EPOLLHUP = 0x010;
    static final int EPOLL_CTL_ADD = 1;
    static final int EPOLL_CTL_DEL = 2;
    static final int EPOLL_CTL_MOD = 3;

    static {
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    /** {@code ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags)}, splice(2). */
    static native long splice(int fdIn, Pointer offIn, int fdOut, Pointer offOut, long len, int flags);

    /** {@code int pipe2(int pipefd[2], int flags)}, pipe(2). */
    static native int pipe2(int[] fds, int flags);

    /**
     * {@code int fcntl(int fd, int cmd, ... )}, fcntl(2), with one int argument. Declared with a fixed third argument:
     * direct mapping has no varargs, and on the x86-64 and AArch64 Linux ABIs an int travels in the same register
     * either way.
     */
    static native int fcntl(int fd, int cmd, int arg);

    /** {@code int epoll_create1(int flags)}, epoll_create(2). */
    static native int epoll_create1(int flags);

    /** {@code int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)}, epoll_ctl(2). */
    static native int epoll_ctl(int epfd, int op, int fd, Pointer event);

    /** {@code int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)}, epoll_wait(2). Blocks. */
    static native int epoll_wait(int epfd, Pointer events, int maxEvents, int timeoutMillis);

    /** {@code int eventfd(unsigned int initval, int flags)}, eventfd(2). */
    static native int eventfd(int initval, int flags);

    /**
     * {@code ssize_t read(int fd, void *buf, size_t count)}, read(2). The buffer is a native address
     * ({@code Pointer.nativeValue}): a number costs no object per call, a {@code Pointer} at an offset would.
     */
    static native long read(int fd, long buf, long count);

    /** {@code ssize_t write(int fd, const void *buf, size_t count)}, write(2); the buffer as a native address. */
    static native long write(int fd, long buf, long count);

    /** {@code void *memcpy(void *dest, const void *src, size_t n)}, with native addresses; returns dest. */
    static native long memcpy(long dest, long src, long n);

    /** {@code int getpagesize(void)}, getpagesize(2): the unit the kernel sizes and accounts pipes in. */
    static native int getpagesize();

    /** {@code int close(int fd)}, close(2). */
    static native int close(int fd);

    /** {@code int shutdown(int sockfd, int how)}, shutdown(2). */
    static native int shutdown(int fd, int how);

    /** {@code int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen)}, getsockname(2). */
    static native int getsockname(int fd, Pointer addr, int[] addrLen);

    /** {@code int getpeername(int sockfd, struct sockaddr *addr, socklen_t *addrlen)}, getpeername(2). */
    static native int getpeername(int fd, Pointer addr, int[] addrLen);

    /** {@code int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen)}, getsockopt(2). */
    static native int getsockopt(int fd, int level, int optName, Pointer optVal, int[] optLen);

    /** {@code int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen)}, setsockopt(2). */
    static native int setsockopt(int fd, int level, int optName, Pointer optVal, int optLen);
}
