package org.splice4j.linux;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.nio.channels.SocketChannel;
import java.util.Optional;

/**
 * Reads the descriptor number behind a JDK {@link SocketChannel}. The JDK exposes it only through the internal
 * interface {@code sun.nio.ch.SelChImpl#getFDVal()}, so the JVM must export that package to us:
 * {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} (or {@code --add-opens}, or the {@code Add-Exports}
 * attribute of an executable jar's manifest). Without it this class reports why, once, as a value; it never throws a
 * stack of reflection errors.
 */
final class FdAccess {

    static final String FLAG = "--add-exports java.base/sun.nio.ch=ALL-UNNAMED";

    private static final MethodHandle GET_FD_VAL;
    private static final String UNAVAILABILITY;

    static {
        MethodHandle handle = null;
        String cause = null;
        Module javaBase = Object.class.getModule();
        if (!javaBase.isExported("sun.nio.ch", FdAccess.class.getModule())) {
            cause = "reading a SocketChannel's file descriptor needs the JVM flag " + FLAG
                    + " (or, on the module path, --add-exports java.base/sun.nio.ch=org.splice4j.linux;"
                    + " in an executable jar's manifest, Add-Exports: java.base/sun.nio.ch)";
        } else {
            try {
                Class<?> selChImpl = Class.forName("sun.nio.ch.SelChImpl");
                handle = MethodHandles.lookup().unreflect(selChImpl.getMethod("getFDVal"));
            } catch (ReflectiveOperationException | RuntimeException e) {
                cause = "this JDK has no sun.nio.ch.SelChImpl.getFDVal() to read a SocketChannel's descriptor: " + e;
            }
        }
        GET_FD_VAL = handle;
        UNAVAILABILITY = cause;
    }

    private FdAccess() {
    }

    static Optional<String> unavailabilityCause() {
        return Optional.ofNullable(UNAVAILABILITY);
    }

    /**
     * The descriptor number of an open channel. The number belongs to the channel's owner: call this on the owner's
     * thread while the channel is open, and dup it at once.
     */
    static int fdOf(SocketChannel channel) {
        if (GET_FD_VAL == null) {
            throw new IllegalStateException(UNAVAILABILITY);
        }
        try {
            return (int) GET_FD_VAL.invoke(channel);
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("not a JDK socket channel, its descriptor cannot be read: " + channel);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot read the descriptor of " + channel, t);
        }
    }
}
