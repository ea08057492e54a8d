package org.splice4j.samples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceProvider;

/**
 * {@code doctor}: what this machine and this JVM allow, for splicing: the JVM and kernel, each provider's
 * availability with its reason, the JVM flags the Linux provider needs, the kernel's pipe limits, the descriptor
 * limits and how many tunnels they leave room for, and a one-line verdict. Exit status 0 when splicing would work
 * with {@code -Dsplice4j.enabled=true}, 1 when not (the verdict says why). It reads only: no socket, no pipe kept.
 */
final class Doctor {

    /** Descriptors a spliced tunnel holds in this proxy: two sockets and the provider's dup of each. */
    static final int FDS_PER_IDLE_TUNNEL = 4;
    /** And while both directions have bytes in flight: a pipe (two descriptors) each. */
    static final int FDS_PER_BUSY_TUNNEL = FDS_PER_IDLE_TUNNEL + 4;

    private Doctor() {
    }

    static void main(String[] args) {
        if (args.length > 0) {
            Main.usage("doctor takes no flags, got " + args[0]);
        }
        int status = run(System.out);
        System.out.flush();
        System.exit(status);
    }

    /** Prints the report; returns the exit status (0: splicing would work). */
    static int run(PrintStream out) {
        out.println("splice4j doctor");
        out.println("  JVM: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
                + " (" + System.getProperty("java.vendor") + ")");
        out.println("  OS: " + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", kernel "
                + firstLine("/proc/sys/kernel/osrelease").orElse("unknown"));
        out.println("  splice4j.enabled: " + Splice.enabled() + (Splice.enabled() ? ""
                : " (splicing is off until -Dsplice4j.enabled=true; the verdict says what it would do)"));

        out.println("providers (best first):");
        for (SpliceProvider p : Splice.providers()) {
            Optional<String> why = p.unavailabilityCause();
            out.println("  " + p.name() + " (priority " + p.priority() + "): "
                    + why.map(w -> "not available: " + w).orElse("available"));
        }

        out.println("JVM flags the linux provider needs:");
        boolean exported = Object.class.getModule().isExported("sun.nio.ch", Doctor.class.getModule());
        out.println("  --add-exports java.base/sun.nio.ch=ALL-UNNAMED (a SocketChannel's descriptor): "
                + (exported ? "set" : "NOT set (an executable jar's manifest can say Add-Exports: java.base/sun.nio.ch)"));
        out.println("  --enable-native-access=ALL-UNNAMED (JNA, JDK 22 and later): " + nativeAccess());

        out.println("kernel pipe limits:");
        out.println("  /proc/sys/fs/pipe-max-size: " + firstLine("/proc/sys/fs/pipe-max-size").orElse("unknown")
                + " bytes (the largest pipe splice4j.pipeSize can get)");
        out.println("  /proc/sys/fs/pipe-user-pages-soft: " + firstLine("/proc/sys/fs/pipe-user-pages-soft")
                .orElse("unknown") + " pages (past it a user's new pipes get 2 pages); "
                + (exemptFromPipeLimits() ? "this process is exempt (CAP_SYS_RESOURCE or CAP_SYS_ADMIN)"
                        : "it applies to this process"));
        out.println("  pipes open now in processes this user can see: " + openPipes());

        out.println("descriptors:");
        long[] limits = openFileLimits();
        if (limits != null) {
            out.println("  open files: soft " + limits[0] + ", hard " + limits[1]);
            out.println("  room for about " + limits[0] / FDS_PER_IDLE_TUNNEL + " idle spliced tunnels ("
                    + FDS_PER_IDLE_TUNNEL + " descriptors each: two sockets, two dups), " + limits[0]
                    / FDS_PER_BUSY_TUNNEL + " with bytes in flight both ways (a pipe each way)"
                    + (limits[0] < limits[1] ? "; raise the soft limit up to the hard one with ulimit -n" : ""));
        } else {
            out.println("  open files: unknown (no /proc/self/limits)");
        }

        Optional<String> problem = verdict();
        out.println(problem.map(p -> "verdict: splicing would NOT work here: " + p)
                .orElse("verdict: splicing would work here with -Dsplice4j.enabled=true (provider "
                        + chosenProvider() + ")"));
        return problem.isPresent() ? 1 : 0;
    }

    /** Why {@code -Dsplice4j.enabled=true} would not splice here, or empty if it would. */
    static Optional<String> verdict() {
        try {
            Optional<String> cause = Splice.unavailabilityCause(SpliceConfig.fromSystemProperties());
            if (cause.isEmpty() && Splice.COPY.equals(chosenProvider())) {
                return Optional.of(SpliceConfig.PROVIDER + "=" + Splice.COPY + " names the portable provider, which"
                        + " copies: nothing would be spliced");
            }
            return cause;
        } catch (IllegalArgumentException malformed) {
            return Optional.of(malformed.getMessage());
        }
    }

    private static String chosenProvider() {
        try {
            return Splice.chooseProvider(SpliceConfig.fromSystemProperties()).map(SpliceProvider::name).orElse("none");
        } catch (RuntimeException e) {
            return "none";
        }
    }

    private static String nativeAccess() {
        if (Runtime.version().feature() < 22) {
            return "not needed on JDK " + Runtime.version().feature();
        }
        try {
            Module jna = Class.forName("com.sun.jna.Native", false, Doctor.class.getClassLoader()).getModule();
            Object enabled = Module.class.getMethod("isNativeAccessEnabled").invoke(jna);
            return Boolean.TRUE.equals(enabled) ? "set" : "NOT set (the JDK warns when JNA loads; a later JDK refuses)";
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return "cannot tell: " + e;
        }
    }

    /**
     * Whether the kernel's per-user pipe limits spare this process: it has CAP_SYS_RESOURCE (bit 24) or CAP_SYS_ADMIN
     * (bit 21) in its effective set ({@code CapEff} in /proc/self/status) and runs in the initial user namespace (an
     * identity {@code /proc/self/uid_map}), where the kernel looks for them: root in a container's user namespace has
     * every bit and is limited all the same. The same rule as the provider's pipe budget.
     */
    private static boolean exemptFromPipeLimits() {
        try {
            List<String> uidMap = Files.readAllLines(Path.of("/proc/self/uid_map"));
            if (uidMap.size() != 1
                    || !List.of(uidMap.get(0).trim().split("\\s+")).equals(List.of("0", "0", "4294967295"))) {
                return false;
            }
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    long caps = Long.parseUnsignedLong(line.substring("CapEff:".length()).trim(), 16);
                    return (caps & (1L << 24 | 1L << 21)) != 0;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return false;
    }

    /** Soft and hard RLIMIT_NOFILE of this JVM, from /proc/self/limits; null if unknown. */
    static long[] openFileLimits() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String[] f = line.substring("Max open files".length()).trim().split("\\s+");
                    return new long[] {parseLimit(f[0]), parseLimit(f[1])};
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no procfs
        }
        return null;
    }

    private static long parseLimit(String s) {
        return s.toLowerCase(Locale.ROOT).equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(s);
    }

    /** Pipe descriptors open in the processes whose /proc/PID/fd this user may read. */
    private static String openPipes() {
        long pipes = 0;
        int processes = 0;
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            List<Path> pids = procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .toList();
            for (Path pid : pids) {
                try (Stream<Path> fds = Files.list(pid.resolve("fd"))) {
                    processes++;
                    for (Path fd : (Iterable<Path>) fds::iterator) {
                        try {
                            if (Files.readSymbolicLink(fd).toString().startsWith("pipe:")) {
                                pipes++;
                            }
                        } catch (IOException gone) {
                            // closed while listing
                        }
                    }
                } catch (IOException | SecurityException notOurs) {
                    // another user's process, or gone
                }
            }
        } catch (IOException e) {
            return "unknown (no /proc)";
        }
        return pipes + " pipe descriptors in " + processes + " processes";
    }

    private static Optional<String> firstLine(String file) {
        try {
            // Not Files.readString: on JDK 17 it returns only the first byte of a procfs file (which reports size 0).
            List<String> lines = Files.readAllLines(Path.of(file));
            return lines.isEmpty() ? Optional.empty() : Optional.of(lines.get(0).trim());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
