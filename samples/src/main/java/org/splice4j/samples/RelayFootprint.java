package org.splice4j.samples;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * What a relay's processes hold at one moment, read from {@code /proc}: resident memory ({@code VmRSS}), the anonymous
 * part of it ({@code RssAnon}: heap, direct buffers, malloc arenas; the rest is the file-backed code and the JVM's
 * mapped jars), and the pipes among their descriptors with the capacity of each. For {@link BenchStreams}.
 *
 * <p>A pipe is counted once however many descriptors (its two ends, or two processes) refer to it. Its capacity is
 * what {@code fcntl(F_GETPIPE_SZ)} says on a descriptor this process gets by opening {@code /proc/PID/fd/N} with
 * {@code O_RDONLY|O_NONBLOCK}, which opens the same pipe (the kernel pins pages for a pipe only while bytes are in it,
 * so the capacity is the most it can pin, not what it pins now).
 */
final class RelayFootprint {

    /** A snapshot; every figure summed over the processes, pipes counted once each. */
    record Snapshot(long rssKib, long anonKib, int pipes, long pipeBytes) {

        /** The larger of each figure: the peak of several snapshots. */
        Snapshot max(Snapshot o) {
            return new Snapshot(Math.max(rssKib, o.rssKib), Math.max(anonKib, o.anonKib), Math.max(pipes, o.pipes),
                    Math.max(pipeBytes, o.pipeBytes));
        }
    }

    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 04000;
    private static final int F_GETPIPE_SZ = 1032;

    /** The three calls this class needs, bound through JNA (on the classpath through splice-linux). */
    interface LibC extends Library {
        int open(String path, int flags);

        /** {@code fcntl(fd, cmd, ...)} with one int argument, declared fixed as splice-linux does. */
        int fcntl(int fd, int cmd, int arg);

        int close(int fd);
    }

    /** Null where JNA cannot load libc: pipes are then counted, their capacity is not. */
    private static final LibC LIBC = loadLibC();

    private RelayFootprint() {
    }

    private static LibC loadLibC() {
        try {
            return Native.load("c", LibC.class);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }

    /** Whether pipe capacities can be read (JNA loaded libc). */
    static boolean readsPipeCapacity() {
        return LIBC != null;
    }

    /** Reads the snapshot of {@code pids}; a process that ended meanwhile, or a descriptor that closed, is skipped. */
    static Snapshot read(List<Long> pids) throws IOException {
        long rss = 0;
        long anon = 0;
        Map<Long, Path> pipes = new LinkedHashMap<>(); // inode -> one /proc/PID/fd/N that refers to it
        for (long pid : pids) {
            String status;
            try {
                // Not Files.readString: on JDK 17 it can return only the first byte of a procfs file (size 0).
                status = String.join("\n", Files.readAllLines(Path.of("/proc/" + pid + "/status")));
            } catch (NoSuchFileException e) {
                continue; // ended between listing and reading
            }
            rss += statusKib(status, "VmRSS");
            anon += statusKib(status, "RssAnon");
            try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
                for (Path fd : fds) {
                    try {
                        OptionalLong inode = pipeInode(Files.readSymbolicLink(fd).toString());
                        if (inode.isPresent()) {
                            pipes.putIfAbsent(inode.getAsLong(), fd);
                        }
                    } catch (NoSuchFileException e) {
                        // closed between listing and reading the link
                    }
                }
            } catch (NoSuchFileException e) {
                // the process ended meanwhile
            }
        }
        long bytes = 0;
        for (Path fd : pipes.values()) {
            bytes += Math.max(0, capacity(fd));
        }
        return new Snapshot(rss, anon, pipes.size(), bytes);
    }

    /** A pipe's capacity in bytes, or -1 if it cannot be read (no JNA, or the descriptor closed meanwhile). */
    private static int capacity(Path fd) {
        if (LIBC == null) {
            return -1;
        }
        // Ours: opened here, closed here, never read from; it keeps the pipe open only for these two calls.
        int mine = LIBC.open(fd.toString(), O_RDONLY | O_NONBLOCK);
        if (mine < 0) {
            return -1; // the relay closed it between the readlink and the open
        }
        try {
            return LIBC.fcntl(mine, F_GETPIPE_SZ, 0);
        } finally {
            LIBC.close(mine);
        }
    }

    /** The value of a {@code /proc/PID/status} line such as {@code VmRSS:    1234 kB}, in KiB; 0 if absent. */
    static long statusKib(String status, String field) {
        for (String line : status.split("\n")) {
            if (line.startsWith(field + ":")) {
                String[] f = line.substring(field.length() + 1).trim().split("\\s+");
                return Long.parseLong(f[0]);
            }
        }
        return 0; // a kernel thread has no VmRSS; RssAnon is there since Linux 4.5
    }

    /** The inode of a descriptor's link target {@code pipe:[INODE]}; empty for a socket, a file or anything else. */
    static OptionalLong pipeInode(String link) {
        if (!link.startsWith("pipe:[") || !link.endsWith("]")) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(link.substring("pipe:[".length(), link.length() - 1)));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
