package org.splice4j.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How much pipe capacity a {@link PipePool} may hold when the kernel's per-user pipe limits apply to this process, and
 * the fair share of it one pipe may grow to. The kernel (fs/pipe.c) counts every slot, a page each, of all the pipes
 * of a user against {@code /proc/sys/fs/pipe-user-pages-soft}; past it a new pipe gets two slots and F_SETPIPE_SZ
 * may not grow one. A process with CAP_SYS_RESOURCE or CAP_SYS_ADMIN in the initial user namespace is exempt.
 *
 * <p>The budget is 3/4 of that allowance (the user's other pipes, in this process or another, count too), or
 * {@link #NONE}. Pure functions and /proc reads only; {@link PipePool} applies them.
 */
final class PipeBudget {

    /** No budget: the limits spare this process, or are off (0). */
    static final long NONE = -1;

    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_SYS_RESOURCE = 24;

    private PipeBudget() {
    }

    /** This process's budget in bytes: {@link #NONE} if it is exempt from the limits or they are off. */
    static long detect() {
        if (exempt(readLines("/proc/self/status"), readLines("/proc/self/uid_map"))) {
            return NONE;
        }
        return ofLimits();
    }

    /** The budget the limits give, exempt or not: what a grow refused with EPERM shows applies after all. */
    static long ofLimits() {
        return ofLimits(readLong("/proc/sys/fs/pipe-user-pages-soft"), readLong("/proc/sys/fs/pipe-user-pages-hard"),
                LibC.getpagesize());
    }

    /**
     * 3/4 of the smaller limit that is set, in bytes; {@link #NONE} if neither is (0 means no limit). The hard limit,
     * off by default, is where the kernel refuses new pipes altogether.
     */
    static long ofLimits(long softPages, long hardPages, long pageSize) {
        long pages = softPages > 0 && hardPages > 0 ? Math.min(softPages, hardPages) : Math.max(softPages, hardPages);
        return pages > 0 ? pages * pageSize / 4 * 3 : NONE;
    }

    /**
     * Whether the per-user pipe limits spare this process: CAP_SYS_RESOURCE or CAP_SYS_ADMIN in its effective set
     * ({@code CapEff} of /proc/self/status), and the initial user namespace (the identity {@code uid_map}), since the
     * kernel asks for the capability there: root in a container's user namespace shows every bit and is limited all
     * the same. Unreadable or unparsable: not exempt, the safe guess (a budget costs a privileged process little).
     */
    static boolean exempt(List<String> status, List<String> uidMap) {
        long caps = 0;
        boolean found = false;
        for (String line : status) {
            if (line.startsWith("CapEff:")) {
                try {
                    caps = Long.parseUnsignedLong(line.substring("CapEff:".length()).trim(), 16);
                    found = true;
                } catch (NumberFormatException e) {
                    return false;
                }
            }
        }
        boolean capable = found && ((caps >>> CAP_SYS_ADMIN & 1) != 0 || (caps >>> CAP_SYS_RESOURCE & 1) != 0);
        return capable && initialUserNamespace(uidMap);
    }

    /** The initial user namespace maps every uid to itself: {@code 0 0 4294967295}, one line. */
    private static boolean initialUserNamespace(List<String> uidMap) {
        if (uidMap.size() != 1) {
            return false;
        }
        String[] f = uidMap.get(0).trim().split("\\s+");
        return f.length == 3 && f[0].equals("0") && f[1].equals("0") && f[2].equals("4294967295");
    }

    /**
     * The size one pipe may grow to: the largest power of two (the kernel rounds a pipe's size up to one, so anything
     * else would overshoot) at most {@code maxPipeSize} and the budget split evenly over {@code pipesInUse}, but never
     * less than {@code floor} (the kernel's default size, which a new pipe gets anyway).
     */
    static int fairShare(int maxPipeSize, long budget, int pipesInUse, int floor) {
        long even = budget / Math.max(1, pipesInUse);
        return Math.max(floor, largestPowerOfTwoAtMost(Math.min(maxPipeSize, even)));
    }

    /** The largest power of two at most {@code n}; 0 if {@code n < 1}. */
    static int largestPowerOfTwoAtMost(long n) {
        return n < 1 ? 0 : (int) Long.highestOneBit(Math.min(n, 1 << 30));
    }

    private static List<String> readLines(String path) {
        try {
            // Not Files.readString: on JDK 17 it returns only the first byte of a procfs file (which reports size 0).
            return Files.readAllLines(Path.of(path));
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }

    private static long readLong(String path) {
        List<String> lines = readLines(path);
        try {
            return lines.isEmpty() ? 0 : Long.parseLong(lines.get(0).trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
