package org.splice4j.spi.contract;

import java.lang.reflect.Method;
import java.nio.channels.SocketChannel;

/**
 * The descriptor number behind a JDK channel, to show that a test really reused numbers. Needs
 * {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} (the tests' JVM flags); without it, -1.
 */
final class FdNumbers {

    private static final Method GET_FD_VAL = find();

    private FdNumbers() {
    }

    static boolean available() {
        return GET_FD_VAL != null;
    }

    static int of(SocketChannel channel) {
        if (GET_FD_VAL == null) {
            return -1;
        }
        try {
            return (int) GET_FD_VAL.invoke(channel);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return -1;
        }
    }

    private static Method find() {
        try {
            Method m = Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal");
            try (SocketChannel probe = SocketChannel.open()) {
                m.invoke(probe);
            }
            return m;
        } catch (Exception | LinkageError e) {
            return null;
        }
    }
}
