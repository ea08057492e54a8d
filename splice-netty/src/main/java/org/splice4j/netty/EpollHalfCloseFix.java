package org.splice4j.netty;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;

import io.netty.channel.Channel;
import io.netty.channel.epoll.Native;
import io.netty.channel.unix.Errors;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

/**
 * Works around a Netty 4.2.18 epoll bug that loses the tail of a download to a client that half-closed first: when a
 * channel's interest set becomes empty (input shut down, no pending write) the epoll handler takes the fd out of
 * epoll but still believes it registered, the next interest change fails with ENOENT, and a write waiting for
 * EPOLLOUT becomes a forced output shutdown (docs/architecture.md, "Netty 4.2.18 epoll"). The same state arises
 * without a half-close when a stale event reaches the channel (see {@link #apply}).
 *
 * <p>The fix keeps the interest set from ever becoming empty by adding EPOLLERR, which epoll reports whether asked
 * or not, so no new events appear. The flag setter is protected in Netty: it is reached by reflection on the
 * channel's own class hierarchy, which works when Netty is on the class path (shaded or not) and puts nothing in
 * Netty's packages. Where reflection is refused (Netty as a named module) the fix is skipped with a debug line.
 */
final class EpollHalfCloseFix {

    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(EpollHalfCloseFix.class);
    private static volatile boolean warned;

    private EpollHalfCloseFix() {
    }

    /**
     * The channel's event loop, before relaying starts. No-op for other transports.
     *
     * @return false when Netty's descriptor is not in its epoll set although Netty believes it registered: the
     *         interest change failed with ENOENT (Netty 4.2.18 deletes the descriptor on an empty interest set, for
     *         instance after a stale EPOLLRDHUP meant for a closed channel whose descriptor number this one reused).
     *         The caller must register the channel again. True otherwise, and for other transports.
     */
    static boolean apply(Channel ch) {
        if (!ChannelEndpoints.isEpoll(ch)) {
            return true;
        }
        assert ch.eventLoop().inEventLoop();
        try {
            Method setFlag = find(ch.getClass());
            setFlag.setAccessible(true);
            MethodHandle h = MethodHandles.lookup().unreflect(setFlag);
            h.invoke(ch, Native.EPOLLERR);
            return true;
        } catch (Throwable t) {
            if (isNotInEpoll(t)) {
                LOG.debug("splice4j: {} was out of epoll before the relay (ENOENT); registering it again", ch);
                return false;
            }
            if (!warned) {
                warned = true;
                LOG.debug("splice4j: cannot apply the epoll half-close fix (downloads to a half-closed client may"
                        + " lose their tail on the copying path): {}", t.toString());
            }
            return true;
        }
    }

    private static boolean isNotInEpoll(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Errors.NativeIoException
                    && ((Errors.NativeIoException) c).expectedErr() == Errors.ERRNO_ENOENT_NEGATIVE) {
                return true;
            }
        }
        return false;
    }

    private static Method find(Class<?> c) throws NoSuchMethodException {
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            try {
                return k.getDeclaredMethod("setFlag", int.class);
            } catch (NoSuchMethodException e) {
                // keep walking up
            }
        }
        throw new NoSuchMethodException("setFlag(int) in the hierarchy of " + c.getName());
    }
}
