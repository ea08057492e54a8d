package org.splice4j.linux;

import java.lang.System.Logger.Level;
import java.util.Locale;
import java.util.Optional;

import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceProvider;
import org.splice4j.spi.Splicer;

/**
 * The {@code linux} provider: splice(2) from socket to pipe to socket, on the provider's own epoll loops, through
 * JNA. Available on Linux x86-64 and AArch64 with JNA on the class path and the JVM flag that lets it read a
 * {@code SocketChannel}'s descriptor ({@value FdAccess#FLAG}); {@link #unavailabilityCause()} says which is missing.
 */
public final class LinuxProvider implements SpliceProvider {

    private static final System.Logger LOG = System.getLogger(LinuxProvider.class.getName());

    /** Worked out once per JVM, by really making the calls the provider needs. */
    private static final class Availability {
        static final String CAUSE = probe();
    }

    @Override
    public String name() {
        return "linux";
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<String> unavailabilityCause() {
        return Optional.ofNullable(Availability.CAUSE);
    }

    @Override
    public Splicer newSplicer(SpliceConfig config) {
        if (Availability.CAUSE != null) {
            throw new IllegalStateException("the linux splice provider is not available: " + Availability.CAUSE);
        }
        return new LinuxSplicer(config);
    }

    private static String probe() {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return "splice(2) exists only on Linux, this is " + os;
        }
        String arch = System.getProperty("os.arch", "");
        if (!arch.equals("amd64") && !arch.equals("x86_64") && !arch.equals("aarch64")) {
            return "only x86-64 and AArch64 are supported, this is " + arch;
        }
        try {
            Class.forName("com.sun.jna.Native", false, LinuxProvider.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return "JNA (net.java.dev.jna:jna) is not on the class path";
        }
        warnIfNativeAccessNotEnabled();
        try {
            int epfd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
            if (epfd < 0) {
                return "epoll_create1 failed: " + Errno.exception("epoll_create1", Errno.last()).getMessage();
            }
            LibC.close(epfd); // our probe's own fd
            int[] fds = new int[2];
            if (LibC.pipe2(fds, LibC.O_NONBLOCK | LibC.O_CLOEXEC) < 0) {
                return "pipe2 failed: " + Errno.exception("pipe2", Errno.last()).getMessage();
            }
            LibC.close(fds[0]); // our probe's own fds
            LibC.close(fds[1]);
        } catch (LinkageError e) {
            return "JNA cannot bind the C library: " + e;
        }
        return FdAccess.unavailabilityCause().orElse(null);
    }

    /**
     * JDK 22 and later warn, and a later JDK will refuse, when JNA loads its native library without native access
     * granted. Say here which flag grants it, rather than leaving the JDK's warning unexplained.
     */
    private static void warnIfNativeAccessNotEnabled() {
        try {
            Module jna = Class.forName("com.sun.jna.Native", false, LinuxProvider.class.getClassLoader()).getModule();
            Object enabled = Module.class.getMethod("isNativeAccessEnabled").invoke(jna);
            if (Boolean.FALSE.equals(enabled)) {
                LOG.log(Level.WARNING, "splice4j: the linux provider loads JNA's native library, and this JVM has not"
                        + " granted native access to " + (jna.isNamed() ? jna.getName() : "the class path")
                        + ": run with --enable-native-access=" + (jna.isNamed() ? jna.getName() : "ALL-UNNAMED")
                        + " (or Enable-Native-Access: ALL-UNNAMED in an executable jar's manifest) to silence the"
                        + " JDK's warning below; a future JDK will refuse without it");
            }
        } catch (NoSuchMethodException e) {
            // JDK 21 or older: native access needs no flag.
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(Level.DEBUG, "splice4j: cannot tell whether native access is enabled", e);
        }
    }
}
