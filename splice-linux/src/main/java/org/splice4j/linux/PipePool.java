package org.splice4j.linux;

import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;

import org.splice4j.spi.SpliceConfig;

/**
 * The pipes of one splicer, capped at {@code splice4j.maxPipes} (pooled and in use together). A pipe is created at
 * the kernel's default size and grown with F_SETPIPE_SZ only for a bulk stream, up to {@code splice4j.pipeSize}
 * (clamped to {@code /proc/sys/fs/pipe-max-size}); what counts is the size the kernel really granted, which is smaller
 * for unprivileged users past {@code pipe-user-pages-soft}.
 *
 * <p>Where that per-user limit applies ({@link PipeBudget}: no CAP_SYS_RESOURCE or CAP_SYS_ADMIN, or a grow refused
 * with EPERM), the pool keeps the capacity of all its pipes within a budget, so that it never pushes the user past
 * the limit, where new pipes would get two pages and none could grow: a pipe grows only to its fair share (the budget
 * split over the pipes in use) and only while the total stays within the budget, and when the budget is tight, a pipe
 * larger than the fair share that comes back is shrunk (closed if the kernel will not). New pipes thus keep the
 * kernel's default size, and a stream that gets less than {@code pipeSize} only makes more splice calls.
 *
 * <p>Shared by the splicer's loops, hence synchronized; a borrow or return is a few field updates (and a rare
 * F_SETPIPE_SZ). A pipe that comes back holding bytes belongs to a dead session: it is closed, never reused.
 */
final class PipePool {

    private static final System.Logger LOG = System.getLogger(PipePool.class.getName());

    /** The kernel's default pipe: 16 pages (PIPE_DEF_BUFFERS). Budgeted pipes are never shrunk below it. */
    private static final int DEFAULT_SLOTS = 16;

    private final int maxPipes;
    private final int maxPipeSize;
    private final int defaultPipeSize;
    /** Bytes all our pipes may hold together, or {@link PipeBudget#NONE}; set later if the kernel refuses a grow. */
    private long budget;
    /** The sizes the kernel granted our open pipes, pooled and in use, summed; and the most it ever was. */
    private long capacity;
    private long peakCapacity;
    private final ArrayDeque<Pipe> free = new ArrayDeque<>();
    private int total;
    private boolean closed;
    private boolean warnedCreateFailure;
    /** For tests and metrics: how often the kernel refused to grow a pipe, and the smallest size it granted. */
    private int growRefusals;
    /** Why the kernel last refused a pipe, for the fallback's detail; null if it never did. */
    private String lastCreateFailure;
    private int smallestGranted = Integer.MAX_VALUE;

    PipePool(int maxPipes, int pipeSize) {
        this(maxPipes, pipeSize, PipeBudget.detect());
    }

    /** With a budget given (tests) rather than detected: {@link PipeBudget#NONE} for none. */
    PipePool(int maxPipes, int pipeSize, long budget) {
        this.maxPipes = maxPipes;
        this.maxPipeSize = Math.min(pipeSize, systemPipeMaxSize());
        this.defaultPipeSize = DEFAULT_SLOTS * LibC.getpagesize();
        this.budget = budget;
    }

    int maxPipeSize() {
        return maxPipeSize;
    }

    /** Bytes all this pool's pipes may hold together, or {@link PipeBudget#NONE}. */
    synchronized long budget() {
        return budget;
    }

    /** A pipe, empty, or null if the cap is reached or the kernel refused one (the caller copies instead). */
    synchronized Pipe acquire() {
        Pipe p = free.pollFirst();
        if (p != null || closed || total >= maxPipes) {
            return p;
        }
        Pipe pipe;
        try {
            pipe = Pipe.open(); // both fds are ours from here until destroy()
        } catch (Errno.NativeIoException e) {
            lastCreateFailure = e.getMessage();
            if (!warnedCreateFailure) {
                warnedCreateFailure = true;
                LOG.log(Level.WARNING, "splice4j: cannot create a pipe, copying instead: " + e.getMessage()
                        + " (logged once)");
            }
            return null;
        }
        total++;
        smallestGranted = Math.min(smallestGranted, pipe.capacity);
        added(pipe.capacity);
        return pipe;
    }

    /** Why {@link #acquire} just returned null, in words for an operator. */
    synchronized String whyNoPipe() {
        if (closed) {
            return "the splicer is closing";
        }
        if (total >= maxPipes) {
            return "all " + maxPipes + " pipes are in use (" + SpliceConfig.MAX_PIPES + ")";
        }
        return "the kernel refused a pipe: " + lastCreateFailure;
    }

    /**
     * Grows a pipe towards the largest allowed size ({@link PipeGrowth} says when): {@code pipeSize}, or under a
     * budget its fair share as far as the budget has room. Keeps whatever the kernel grants; a refusal (EPERM past
     * the per-user limit) leaves the pipe as it is and is counted, and puts the pool under a budget if it was not.
     * Loop thread of the direction holding {@code p}.
     */
    void grow(Pipe p) {
        if (p.capacity >= maxPipeSize || p.growRefused) {
            return;
        }
        // F_SETPIPE_SZ under the lock: the total must not move between the budget's check and the kernel's grant.
        // Rare: a pipe grows a few times in its life; a pipe held back costs this check per half-full splice.
        synchronized (this) {
            int target = budget == PipeBudget.NONE ? maxPipeSize : budgetedSize(p);
            if (target <= p.capacity) {
                return; // at its share, or no room in the budget now: this pipe makes do, and may grow later
            }
            int before = p.capacity;
            int errno = p.grow(target);
            added(p.capacity - before);
            if (errno != 0) {
                growRefusals++;
                if (errno == Errno.EPERM && budget == PipeBudget.NONE) {
                    budgetAfterRefusal();
                }
            }
        }
    }

    /**
     * What {@code p} may grow to under the budget: its fair share, as far as the budget has room once the other
     * pipes and the {@link #reserve()} are counted.
     */
    private int budgetedSize(Pipe p) {
        long room = budget - (capacity - p.capacity) - reserve();
        return PipeBudget.largestPowerOfTwoAtMost(Math.min(fairShare(), room));
    }

    /** The fair share of a pipe in use now. */
    private int fairShare() {
        return PipeBudget.fairShare(maxPipeSize, budget, inUse(), defaultPipeSize);
    }

    /**
     * Room growth leaves for new pipes: as many at the kernel's default size as there are pipes in use. A new pipe
     * is never refused (nor shrunk below the default), so streams arriving in a burst that doubles the pipes in use
     * still fit in the budget; pipes above their share give room back as they return ({@link #release}).
     */
    private long reserve() {
        return (long) inUse() * defaultPipeSize;
    }

    private int inUse() {
        return total - free.size();
    }

    /**
     * The kernel refused a grow with EPERM though the pool thought the process exempt (a user namespace, say, or
     * capabilities dropped since): the per-user limit applies after all, so the pool keeps within a budget from now.
     */
    private void budgetAfterRefusal() {
        budget = PipeBudget.ofLimits();
        if (budget != PipeBudget.NONE) {
            LOG.log(Level.INFO, "splice4j: the kernel refused to grow a pipe (EPERM, the per-user pipe limit):"
                    + " keeping this splicer's pipes within " + budget + " bytes from now (3/4 of"
                    + " pipe-user-pages-soft)");
        }
    }

    /**
     * Takes a pipe back: closed if it still holds a dead session's bytes; else pooled, first shrunk to the fair
     * share if it is larger and the budget is tight (no room for one more fair share besides the reserve), or
     * closed if it cannot shrink.
     */
    synchronized void release(Pipe p) {
        if (p.bytes != 0 || closed) {
            destroy(p);
            return;
        }
        if (budget != PipeBudget.NONE && p.capacity > defaultPipeSize) {
            int share = fairShare(); // p still counts as in use: the next borrower takes its place
            if (p.capacity > share && budget - capacity - reserve() < share) {
                int before = p.capacity;
                if (!p.shrink(share)) {
                    destroy(p);
                    return;
                }
                added(p.capacity - before);
            }
        }
        free.addFirst(p);
    }

    private void added(int bytes) {
        capacity += bytes;
        peakCapacity = Math.max(peakCapacity, capacity);
    }

    private void destroy(Pipe p) {
        p.close(); // our own pipe fds: nobody else has them
        total--;
        capacity -= p.capacity;
    }

    /** The sizes the kernel granted the open pipes, summed (for tests). */
    synchronized long capacity() {
        return capacity;
    }

    /** The most {@link #capacity()} ever was (for tests). */
    synchronized long peakCapacity() {
        return peakCapacity;
    }

    synchronized int total() {
        return total;
    }

    synchronized int growRefusals() {
        return growRefusals;
    }

    /** The smallest size a new pipe came with (the kernel's default, or two pages past the per-user limit). */
    synchronized int smallestGranted() {
        return smallestGranted;
    }

    synchronized int pooled() {
        return free.size();
    }

    /** Closes every pooled pipe; pipes still borrowed are closed as they come back. */
    synchronized void close() {
        closed = true;
        Pipe p;
        while ((p = free.pollFirst()) != null) {
            destroy(p);
        }
    }

    private static int systemPipeMaxSize() {
        try {
            // Not Files.readString: on JDK 17 it returns only the first byte of a procfs file (which reports size 0).
            return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/fs/pipe-max-size")).get(0).trim());
        } catch (Exception e) {
            return 1 << 20; // the kernel's default
        }
    }
}
