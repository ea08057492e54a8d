package org.splice4j.netty;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

import io.netty.channel.Channel;
import io.netty.channel.nio.AbstractNioChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.UnixChannel;

import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.Splicer;

/**
 * Turns a Netty channel into a {@link SpliceEndpoint}: the JDK {@link SocketChannel} behind a NIO channel, the
 * descriptor behind an epoll channel. The channel stays owned by its caller; the provider dups what it is given.
 */
final class ChannelEndpoints {

    private static final MethodHandle JAVA_CHANNEL;
    private static final String NIO_UNAVAILABLE;
    private static final Class<?> EPOLL_SOCKET_CHANNEL;

    static {
        MethodHandle h = null;
        String why = null;
        try {
            // Protected in Netty; reachable by reflection when Netty is on the class path.
            Method m = AbstractNioChannel.class.getDeclaredMethod("javaChannel");
            m.setAccessible(true);
            h = MethodHandles.lookup().unreflect(m);
        } catch (ReflectiveOperationException | RuntimeException e) {
            why = "cannot reach the JDK channel inside a Netty NIO channel (" + e + ")";
        }
        JAVA_CHANNEL = h;
        NIO_UNAVAILABLE = why;
        Class<?> epoll = null;
        try {
            epoll = Class.forName("io.netty.channel.epoll.EpollSocketChannel", false,
                    ChannelEndpoints.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            // No epoll transport on the class path: its channels cannot occur.
        }
        EPOLL_SOCKET_CHANNEL = epoll;
    }

    private ChannelEndpoints() {
    }

    /** Why {@code splicer} cannot take this channel, or null if it can. */
    static String whyNot(Channel ch, Splicer splicer) {
        if (ch instanceof NioSocketChannel) {
            return NIO_UNAVAILABLE;
        }
        if (isEpoll(ch)) {
            return splicer.servesDescriptors() ? null
                    : "the " + splicer.providerName() + " provider cannot serve raw descriptors (epoll channels)";
        }
        return "transport " + ch.getClass().getSimpleName() + " is not NIO or epoll";
    }

    static boolean isEpoll(Channel ch) {
        return EPOLL_SOCKET_CHANNEL != null && EPOLL_SOCKET_CHANNEL.isInstance(ch);
    }

    /**
     * The endpoint for a channel taken out of Netty's I/O. Call while it is open, on the channel's event loop or once
     * it is deregistered (then no loop touches it: the spliced path makes both endpoints on inbound's loop, and
     * outbound may live on another one); the provider dups the socket at once.
     */
    static SpliceEndpoint endpoint(Channel ch, ByteBuffer alreadyRead) {
        assert ch.eventLoop().inEventLoop() || !ch.isRegistered();
        if (isEpoll(ch)) {
            return EpollFd.endpoint(ch, alreadyRead);
        }
        try {
            return SpliceEndpoint.of((SocketChannel) JAVA_CHANNEL.invoke(ch), alreadyRead);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Apart, so that the epoll classes are loaded only for epoll channels. */
    private static final class EpollFd {
        static SpliceEndpoint endpoint(Channel ch, ByteBuffer alreadyRead) {
            // The descriptor belongs to the channel; the provider dups it before splice() returns. The addresses Netty
            // recorded for the channel let the provider check the dup is still this channel's socket: the channel
            // may be closed on its own loop meanwhile and its number given to another client's connection.
            int fd = ((UnixChannel) ch).fd().intValue();
            return SpliceEndpoint.ofDescriptor(fd, (InetSocketAddress) ch.localAddress(),
                    (InetSocketAddress) ch.remoteAddress(), alreadyRead);
        }
    }
}
