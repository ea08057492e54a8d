package org.splice4j.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

import com.sun.jna.Memory;

/**
 * A socket descriptor the Linux provider owns: a {@code dup()} of the caller's socket, made on the caller's thread
 * and checked to be the same socket. The caller keeps its own descriptor and closes it when it wants; closing ours
 * never closes the caller's socket, and the caller closing early can never make us splice into a reused descriptor
 * number. {@link #close()} is idempotent.
 */
final class OwnedFd {

    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();

    private OwnedFd(int fd) {
        this.fd = fd;
    }

    int fd() {
        return fd;
    }

    /**
     * Dups the descriptor of an open channel and checks the dup is the same connected, non-blocking TCP socket
     * (same local and remote address). Caller's thread, while the channel is provably open.
     *
     * @throws IllegalArgumentException if the check fails (nothing is left open then)
     */
    static OwnedFd dupOf(SocketChannel channel) {
        // The caller's fd number: owned by the channel. Read it and dup it at once; from here on we touch only the dup.
        int callerFd = FdAccess.fdOf(channel);
        return checked(dup(callerFd), channel.toString(), dup -> {
            SocketAddress local = channel.getLocalAddress();
            SocketAddress remote = channel.getRemoteAddress();
            if (!channel.isOpen() || !local.equals(dup.address(false)) || !remote.equals(dup.address(true))) {
                throw new IllegalArgumentException("the channel was closed while it was being handed over: " + channel);
            }
            dup.checkNonBlocking();
        });
    }

    /**
     * Dups a descriptor whose owner guarantees it is open during this call, and checks it is a connected,
     * non-blocking TCP socket over IPv4 or IPv6.
     *
     * @throws IllegalArgumentException if it is not (nothing is left open then)
     */
    static OwnedFd dupOf(int callerFd) {
        return dupOf(callerFd, null, null);
    }

    /**
     * {@link #dupOf(int)}, and checks the dup's local and remote addresses are the ones the owner recorded for its
     * socket (each when not null): a descriptor its owner closed meanwhile, and the kernel gave to a new connection,
     * has other addresses and is refused.
     *
     * @throws IllegalArgumentException if a check fails (nothing is left open then)
     */
    static OwnedFd dupOf(int callerFd, InetSocketAddress expectedLocal, InetSocketAddress expectedRemote) {
        // callerFd belongs to the caller (for example a Netty epoll channel); we keep only our dup.
        return checked(dup(callerFd), "fd " + callerFd, dup -> {
            int domain;
            try {
                domain = dup.intOption(LibC.SO_DOMAIN);
            } catch (Errno.NativeIoException e) {
                if (e.errno() == Errno.ENOTSOCK) {
                    throw new IllegalArgumentException("fd " + callerFd + " is not a socket");
                }
                throw e;
            }
            if (dup.intOption(LibC.SO_TYPE) != LibC.SOCK_STREAM || dup.intOption(LibC.SO_PROTOCOL) != LibC.IPPROTO_TCP
                    || (domain != LibC.AF_INET && domain != LibC.AF_INET6)) {
                throw new IllegalArgumentException("fd " + callerFd + " is not a TCP socket over IPv4 or IPv6");
            }
            InetSocketAddress remote;
            try {
                remote = dup.address(true);
            } catch (Errno.NativeIoException e) {
                if (e.errno() == Errno.ENOTCONN) {
                    throw new IllegalArgumentException("fd " + callerFd + " is not connected");
                }
                throw e;
            }
            if (expectedRemote != null && !sameAddress(expectedRemote, remote)) {
                throw new IllegalArgumentException("fd " + callerFd + " is connected to " + remote + ", not to "
                        + expectedRemote + ": its owner closed it and the number was reused");
            }
            if (expectedLocal != null && !sameAddress(expectedLocal, dup.address(false))) {
                throw new IllegalArgumentException("fd " + callerFd + " has local address " + dup.address(false)
                        + ", not " + expectedLocal + ": its owner closed it and the number was reused");
            }
            dup.checkNonBlocking();
        });
    }

    /** A check of a fresh dup; throws IllegalArgumentException (or any exception) when the dup is not taken. */
    @FunctionalInterface
    private interface DupCheck {
        void check(OwnedFd dup) throws IOException;
    }

    /**
     * Runs {@code check} on a fresh dup and returns it, or closes the dup (ours: nobody else has it yet) and throws
     * {@link IllegalArgumentException}, whatever the check threw.
     */
    private static OwnedFd checked(OwnedFd dup, String what, DupCheck check) {
        try {
            check.check(dup);
            return dup;
        } catch (IllegalArgumentException e) {
            dup.close();
            throw e;
        } catch (IOException | RuntimeException e) {
            dup.close();
            throw new IllegalArgumentException("cannot take over " + what + ": " + e.getMessage(), e);
        } catch (Error e) {
            dup.close();
            throw e;
        }
    }

    /** Same IP address (an IPv4-mapped IPv6 address equals its IPv4 form) and port. */
    private static boolean sameAddress(InetSocketAddress expected, InetSocketAddress actual) {
        if (expected.getPort() != actual.getPort()) {
            return false;
        }
        InetAddress e = expected.getAddress();
        if (e == null) {
            return false; // unresolved: cannot be a connected socket's address
        }
        return Arrays.equals(ipv4IfMapped(e.getAddress()), ipv4IfMapped(actual.getAddress().getAddress()));
    }

    private static byte[] ipv4IfMapped(byte[] a) {
        if (a.length == 16) {
            for (int i = 0; i < 10; i++) {
                if (a[i] != 0) {
                    return a;
                }
            }
            if (a[10] == (byte) 0xff && a[11] == (byte) 0xff) {
                return Arrays.copyOfRange(a, 12, 16);
            }
        }
        return a;
    }

    private static OwnedFd dup(int callerFd) {
        int fd = LibC.fcntl(callerFd, LibC.F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            int errno = Errno.last();
            if (errno == Errno.EBADF) {
                throw new IllegalArgumentException("fd " + callerFd + " is not open");
            }
            throw new UncheckedIOException(Errno.exception("fcntl(F_DUPFD_CLOEXEC)", errno));
        }
        return new OwnedFd(fd);
    }

    private void checkNonBlocking() throws IOException {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        if (flags < 0) {
            throw Errno.exception("fcntl(F_GETFL)", Errno.last());
        }
        if ((flags & LibC.O_NONBLOCK) == 0) {
            throw new IllegalArgumentException("the socket is in blocking mode; splicing needs a non-blocking socket");
        }
    }

    private int intOption(int name) throws IOException {
        try (Memory value = new Memory(4)) {
            int[] len = {4};
            if (LibC.getsockopt(fd, LibC.SOL_SOCKET, name, value, len) < 0) {
                throw Errno.exception("getsockopt", Errno.last());
            }
            return value.getInt(0);
        }
    }

    /** The pending socket error (SO_ERROR, which reading clears), 0 if none. Loop thread. */
    int takeSocketError() {
        try {
            return intOption(LibC.SO_ERROR);
        } catch (IOException e) {
            return e instanceof Errno.NativeIoException ? ((Errno.NativeIoException) e).errno() : Errno.EBADF;
        }
    }

    /** The local ({@code peer == false}) or remote address, as the JDK would report it. */
    InetSocketAddress address(boolean peer) throws IOException {
        try (Memory sa = new Memory(128)) {
            int[] len = {128};
            int rc = peer ? LibC.getpeername(fd, sa, len) : LibC.getsockname(fd, sa, len);
            if (rc < 0) {
                throw Errno.exception(peer ? "getpeername" : "getsockname", Errno.last());
            }
            int family = sa.getShort(0) & 0xffff;
            int port = ((sa.getByte(2) & 0xff) << 8) | (sa.getByte(3) & 0xff); // network byte order
            byte[] addr;
            if (family == LibC.AF_INET) {
                addr = sa.getByteArray(4, 4);
            } else if (family == LibC.AF_INET6) {
                addr = sa.getByteArray(8, 16); // an IPv4-mapped address comes back as an Inet4Address, as in the JDK
            } else {
                throw new IOException("not an IP socket (address family " + family + ")");
            }
            try {
                return new InetSocketAddress(InetAddress.getByAddress(addr), port);
            } catch (UnknownHostException e) {
                throw new IOException(e);
            }
        }
    }

    /** SO_LINGER {on, 0}: the last close of the socket (the caller's) then sends a reset. Loop thread. */
    void setLingerZero() {
        try (Memory linger = new Memory(8)) {
            linger.setInt(0, 1);
            linger.setInt(4, 0);
            LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_LINGER, linger, 8); // best effort: the socket may be dead already
        }
    }

    /**
     * read(2) into native memory, retried on EINTR. Allocation-free: the hot path's call.
     *
     * @return the bytes read, 0 at end of stream, or minus the errno ({@code -Errno.EAGAIN}: nothing to read now)
     */
    long read(long address, long count) {
        while (true) {
            long n = LibC.read(fd, address, count);
            if (n >= 0) {
                return n;
            }
            int errno = Errno.last();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /**
     * write(2) from native memory, retried on EINTR. Allocation-free: the hot path's call.
     *
     * @return the bytes written, or minus the errno ({@code -Errno.EAGAIN}: the socket's buffer is full)
     */
    long write(long address, long count) {
        while (true) {
            long n = LibC.write(fd, address, count);
            if (n >= 0) {
                return n;
            }
            int errno = Errno.last();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /** shutdown(2) of our sending side ({@link LibC#SHUT_WR}): the peer reads end of stream. Errors ignored. */
    void shutdownOutput() {
        LibC.shutdown(fd, LibC.SHUT_WR); // acts on the socket itself, so the peer sees it despite the caller's fd
    }

    /**
     * shutdown(2) of both directions: the peer sees the connection end although the caller's descriptor is still
     * open. Errors (not connected any more) ignored.
     */
    void shutdownBoth() {
        LibC.shutdown(fd, LibC.SHUT_RDWR);
    }

    /**
     * Closes our dup (never the caller's descriptor). The owner must have removed it from epoll first. Idempotent.
     */
    void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.close(fd);
        }
    }

    @Override
    public String toString() {
        return "fd " + fd + (closed.get() ? " (closed)" : "");
    }
}
