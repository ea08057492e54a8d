package org.splice4j.spi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Objects;

/**
 * One side of a session: a connected, non-blocking TCP socket, plus bytes the server already read from it but did
 * not forward yet.
 *
 * <p>The caller keeps owning the socket: no provider ever closes it. The already-read bytes are copied when the
 * endpoint is made, so the caller may reuse its buffer at once.
 */
public final class SpliceEndpoint {

    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final SocketChannel channel;
    private final int descriptor;
    private final InetSocketAddress localAddress;
    private final InetSocketAddress remoteAddress;
    private final ByteBuffer alreadyRead;

    private SpliceEndpoint(SocketChannel channel, int descriptor, InetSocketAddress localAddress,
                           InetSocketAddress remoteAddress, ByteBuffer alreadyRead) {
        this.channel = channel;
        this.descriptor = descriptor;
        this.localAddress = localAddress;
        this.remoteAddress = remoteAddress;
        this.alreadyRead = alreadyRead;
    }

    /** A channel with nothing read ahead. */
    public static SpliceEndpoint of(SocketChannel channel) {
        return of(channel, null);
    }

    /**
     * A channel, and the bytes read from it that must reach the other side first.
     *
     * @param alreadyRead the remaining bytes of this buffer are copied; its position is not changed; may be null
     * @throws IllegalArgumentException if the channel is closed, blocking, not connected, or not TCP over IPv4/IPv6
     */
    public static SpliceEndpoint of(SocketChannel channel, ByteBuffer alreadyRead) {
        Objects.requireNonNull(channel, "channel");
        if (!channel.isOpen()) {
            throw new IllegalArgumentException("channel is closed: " + channel);
        }
        if (channel.isBlocking()) {
            throw new IllegalArgumentException(
                    "channel is in blocking mode; splicing needs configureBlocking(false): " + channel);
        }
        if (!channel.isConnected()) {
            throw new IllegalArgumentException("channel is not connected: " + channel);
        }
        SocketAddress remote;
        try {
            remote = channel.getRemoteAddress();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the remote address of " + channel, e);
        }
        if (!(remote instanceof InetSocketAddress)) {
            throw new IllegalArgumentException("only TCP over IPv4 or IPv6 can be spliced, not " + remote);
        }
        return new SpliceEndpoint(channel, -1, null, null, copyOf(alreadyRead));
    }

    /**
     * A socket known only by its descriptor (Netty's epoll channels), and the bytes read from it that must reach the
     * other side first. The caller guarantees the descriptor is an open, connected, non-blocking TCP socket while
     * {@link Splicer#splice} runs; a provider that supports descriptors verifies it.
     *
     * <p>Prefer {@link #ofDescriptor(int, InetSocketAddress, InetSocketAddress, ByteBuffer)}: a descriptor number
     * can be reused the moment its owner closes it, and only the addresses let the provider tell that the socket it
     * dups is still the caller's connection and not another client's.
     *
     * @throws IllegalArgumentException if {@code fd} is negative
     */
    public static SpliceEndpoint ofDescriptor(int fd, ByteBuffer alreadyRead) {
        return ofDescriptor(fd, null, null, alreadyRead);
    }

    /**
     * A socket known by its descriptor and by the addresses its owner recorded for it (a Netty channel's
     * {@code localAddress()} and {@code remoteAddress()}). The provider checks its dup of {@code fd} has exactly these
     * addresses and refuses it otherwise, so a descriptor closed by another thread and reused by a new connection is
     * never spliced into the wrong connection.
     *
     * @param localAddress  the socket's local address, or null not to check it
     * @param remoteAddress the socket's remote address, or null not to check it
     * @throws IllegalArgumentException if {@code fd} is negative
     */
    public static SpliceEndpoint ofDescriptor(int fd, InetSocketAddress localAddress, InetSocketAddress remoteAddress,
                                              ByteBuffer alreadyRead) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        return new SpliceEndpoint(null, fd, localAddress, remoteAddress, copyOf(alreadyRead));
    }

    /** For a descriptor endpoint, the local address its dup must have (null: not checked); null for a channel. */
    public InetSocketAddress expectedLocalAddress() {
        return localAddress;
    }

    /** For a descriptor endpoint, the remote address its dup must have (null: not checked); null for a channel. */
    public InetSocketAddress expectedRemoteAddress() {
        return remoteAddress;
    }

    /** The channel, or null for a descriptor endpoint. */
    public SocketChannel channel() {
        return channel;
    }

    /** The descriptor given to {@link #ofDescriptor}, or -1 for a channel endpoint. */
    public int descriptor() {
        return descriptor;
    }

    public boolean isDescriptor() {
        return channel == null;
    }

    /** A read-only view of the already-read bytes (possibly empty); each call returns a fresh view. */
    public ByteBuffer alreadyRead() {
        return alreadyRead.asReadOnlyBuffer();
    }

    @Override
    public String toString() {
        return (channel != null ? channel.toString() : "fd " + descriptor)
                + (alreadyRead.hasRemaining() ? " (+" + alreadyRead.remaining() + " bytes read ahead)" : "");
    }

    private static ByteBuffer copyOf(ByteBuffer src) {
        if (src == null || !src.hasRemaining()) {
            return EMPTY;
        }
        ByteBuffer copy = ByteBuffer.allocate(src.remaining());
        copy.put(src.duplicate()).flip();
        return copy;
    }
}
