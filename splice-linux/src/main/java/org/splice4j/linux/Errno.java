package org.splice4j.linux;

import java.io.IOException;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * errno values (the asm-generic ones, shared by x86-64 and AArch64) and the one place where an errno becomes a Java
 * exception, in Netty's {@code Errors} style: "name(..) failed with error(N): text".
 */
final class Errno {

    static final int EPERM = 1;
    static final int EINTR = 4;
    static final int EBADF = 9;
    static final int EAGAIN = 11;
    static final int ENOMEM = 12;
    static final int EBUSY = 16;
    static final int EINVAL = 22;
    static final int ENFILE = 23;
    static final int EMFILE = 24;
    static final int EPIPE = 32;
    static final int ENOSYS = 38;
    static final int ENOTSOCK = 88;
    static final int EOPNOTSUPP = 95;
    static final int ENETUNREACH = 101;
    static final int ECONNABORTED = 103;
    static final int ECONNRESET = 104;
    static final int ENOTCONN = 107;
    static final int ETIMEDOUT = 110;
    static final int EHOSTUNREACH = 113;

    private Errno() {
    }

    /** errno of the last native call on this thread. */
    static int last() {
        return Native.getLastError();
    }

    /** Whether this errno means the peer aborted the connection (the session then ends as RESET). */
    static boolean isConnectionAbort(int errno) {
        switch (errno) {
            case ECONNRESET:
            case EPIPE:
            case ECONNABORTED:
            case ETIMEDOUT:
            case EHOSTUNREACH:
            case ENETUNREACH:
            case ENOTCONN:
                return true;
            default:
                return false;
        }
    }

    /** The exception for a failed call; not for the hot path's expected EAGAIN. */
    static NativeIoException exception(String syscall, int errno) {
        return new NativeIoException(syscall, errno);
    }

    /** A failed call, with the errno and its text, keeping the syscall name. */
    static final class NativeIoException extends IOException {
        private static final long serialVersionUID = 1L;
        private final String syscall;
        private final int errno;

        NativeIoException(String syscall, int errno) {
            super(syscall + "(..) failed with error(" + errno + "): " + text(errno));
            this.syscall = syscall;
            this.errno = errno;
        }

        /** Few distinct values, for counting errors by kind: {@code "splice: Broken pipe"}. */
        String kind() {
            return syscall + ": " + text(errno);
        }

        int errno() {
            return errno;
        }
    }

    private static String text(int errno) {
        try {
            return LibCStrings.strerror(errno).getString(0);
        } catch (RuntimeException | LinkageError e) {
            return "errno " + errno;
        }
    }

    /** strerror is off the hot path, so it lives apart from the direct-mapped {@link LibC}. */
    private static final class LibCStrings {
        static {
            Native.register(LibCStrings.class, Platform.C_LIBRARY_NAME);
        }

        static native Pointer strerror(int errnum);
    }
}
