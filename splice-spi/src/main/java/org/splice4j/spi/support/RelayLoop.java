package org.splice4j.spi.support;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The thread, task queue, idle timer and stop protocol shared by the providers' event loops. A subclass adds the
 * readiness mechanism ({@link #poll(long)}, {@link #wakeup()}): a {@code Selector} for the copy provider, epoll for
 * the Linux one.
 *
 * <p>Provider-internal: public so that providers in other modules can build on it, not for applications; it may
 * change between releases without notice.
 *
 * <p>Only the loop thread touches a loop's sessions and descriptors. Other threads {@link #execute} small tasks; the
 * loop is woken only when it may be asleep. The loop never sleeps except in {@link #poll(long)}.
 */
public abstract class RelayLoop {

    private static final System.Logger LOG = System.getLogger(RelayLoop.class.getName());
    private static final long LOG_THROTTLE_NANOS = 10_000_000_000L;

    /** What the loop needs of a session: its idle clock, and how to end it. */
    public interface Member {
        /** 0 for no idle timeout. */
        long idleTimeoutNanos();

        /** {@link System#nanoTime()} of the last byte moved (or of the start). */
        long lastActivityNanos();

        /** Loop thread: the idle timeout passed. */
        void onIdleTimeout();

        /** Loop thread: the loop is stopping; end as cancelled. */
        void onLoopStop();
    }

    private final Thread thread;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean wakeupPending = new AtomicBoolean();
    private final Set<Member> members = new LinkedHashSet<>();
    private final List<Member> scratch = new ArrayList<>();
    private volatile boolean running = true;
    private long idleScanIntervalNanos = Long.MAX_VALUE;
    private long nextIdleScan = Long.MAX_VALUE;
    private long lastErrorLog;
    private int suppressedErrors;

    protected RelayLoop(String threadName) {
        this.thread = new Thread(this::run, threadName);
        this.thread.setDaemon(true); // loop threads never keep a JVM alive
    }

    /** Starts the thread; call once, after the subclass finished constructing. */
    protected final void startThread() {
        thread.start();
    }

    /** Waits for readiness at most {@code timeoutMillis} (-1: forever) and handles what is ready. Loop thread. */
    protected abstract void poll(long timeoutMillis) throws Exception;

    /** Makes a sleeping {@link #poll} return. Any thread. */
    protected abstract void wakeup();

    /** Releases the loop's own resources after the last iteration. Loop thread. */
    protected abstract void closeResources();

    /** False once the loop has begun to stop; a session registering then must end at once. */
    public final boolean isRunning() {
        return running;
    }

    public final boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /**
     * Whether the current thread may touch this loop's sessions and descriptors: the loop thread, or any thread once
     * the loop thread has ended (its last tasks then run on whoever queues or awaits them). For {@code assert}s of the
     * "Loop thread" rule.
     */
    public final boolean mayTouchSessions() {
        return Thread.currentThread() == thread || !thread.isAlive();
    }

    /** Queues a task for the loop thread. Any thread. */
    public final void execute(Runnable task) {
        tasks.add(task);
        if (!thread.isAlive() && !running) {
            runRemainingTasks(); // the loop is gone: nothing else will ever run it
        } else if (!inLoop() && wakeupPending.compareAndSet(false, true)) {
            wakeup();
        }
    }

    /**
     * Runs {@code task} on the loop thread and returns once it ran: inline when called on the loop thread, else queued
     * and awaited. If the loop has stopped, the task runs on the caller's thread (nothing else touches the loop's
     * state any more).
     */
    public final void executeAndWait(Runnable task) {
        if (inLoop()) {
            task.run();
            return;
        }
        CountDownLatch done = new CountDownLatch(1);
        execute(() -> {
            try {
                task.run();
            } finally {
                done.countDown();
            }
        });
        boolean interrupted = false;
        while (true) {
            try {
                if (!thread.isAlive() && done.getCount() > 0) {
                    // Stopped before running it; the final drain in run() may race with us, so take it ourselves
                    // only if it is still queued.
                    runRemainingTasks();
                }
                if (done.await(100, TimeUnit.MILLISECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Loop thread: a session joins this loop (for idle timing and stop). */
    public final void attach(Member m) {
        assert mayTouchSessions();
        members.add(m);
        long timeout = m.idleTimeoutNanos();
        if (timeout > 0) {
            long interval = idleScanInterval(timeout);
            if (interval < idleScanIntervalNanos) {
                idleScanIntervalNanos = interval;
                nextIdleScan = Math.min(nextIdleScan, System.nanoTime() + interval);
            }
        }
    }

    /** Loop thread: a session ended. */
    public final void detach(Member m) {
        assert mayTouchSessions();
        members.remove(m);
    }

    public final int memberCount() {
        return members.size();
    }

    /**
     * Ends every session on this loop as cancelled, stops the thread and releases the loop's resources; returns once
     * the thread ended. Any thread but the loop's.
     */
    public final void stop() {
        executeAndWait(() -> {
            try {
                endMembers();
            } finally {
                running = false;
            }
        });
        if (!inLoop()) {
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        try {
            while (running) {
                try {
                    runTasks();
                    if (!running) {
                        break;
                    }
                    long now = System.nanoTime();
                    if (now - nextIdleScan >= 0) {
                        scanIdle(now);
                    }
                    long timeout = -1;
                    if (!tasks.isEmpty()) {
                        timeout = 0;
                    } else if (nextIdleScan != Long.MAX_VALUE) {
                        timeout = Math.max(0, (nextIdleScan - now + 999_999) / 1_000_000);
                    }
                    wakeupPending.set(false);
                    if (!tasks.isEmpty()) {
                        timeout = 0; // a task raced in before the flag was cleared: do not sleep past it
                    }
                    poll(timeout);
                } catch (Throwable t) {
                    // Nothing ends the loop but stop(): an OutOfMemoryError or a StackOverflowError thrown by one
                    // session's work must not leave every other session on this loop waiting on a dead thread.
                    logUnexpected(t);
                }
            }
        } finally {
            // Also if the thread ends some other way: no session may be left waiting on a dead thread.
            running = false;
            runRemainingTasks();
            endMembers();
            try {
                closeResources();
            } catch (Throwable t) {
                logUnexpected(t);
            }
        }
    }

    /** Loop thread (or the stopping thread once the loop is gone): ends every session still on this loop. */
    private void endMembers() {
        scratch.clear();
        scratch.addAll(members);
        for (Member m : scratch) {
            try {
                m.onLoopStop();
            } catch (Throwable t) {
                logUnexpected(t);
            }
        }
        scratch.clear();
    }

    private synchronized void runRemainingTasks() {
        runTasks();
    }

    private void runTasks() {
        Runnable task;
        while ((task = tasks.poll()) != null) {
            try {
                task.run();
            } catch (Throwable t) {
                logUnexpected(t);
            }
        }
    }

    private void scanIdle(long now) {
        scratch.clear();
        long smallest = Long.MAX_VALUE;
        for (Member m : members) {
            long timeout = m.idleTimeoutNanos();
            if (timeout > 0) {
                smallest = Math.min(smallest, timeout);
                if (now - m.lastActivityNanos() >= timeout) {
                    scratch.add(m);
                }
            }
        }
        for (Member m : scratch) {
            m.onIdleTimeout();
        }
        scratch.clear();
        if (smallest == Long.MAX_VALUE) {
            idleScanIntervalNanos = Long.MAX_VALUE;
            nextIdleScan = Long.MAX_VALUE;
        } else {
            idleScanIntervalNanos = idleScanInterval(smallest);
            nextIdleScan = now + idleScanIntervalNanos;
        }
    }

    /** Checks a few times per timeout, never more often than every 5 ms nor less often than every second. */
    private static long idleScanInterval(long timeoutNanos) {
        return Math.max(5_000_000L, Math.min(1_000_000_000L, timeoutNanos / 4));
    }

    /** Logs an unexpected error without letting a repeating one flood the log or stall the loop. */
    protected final void logUnexpected(Throwable t) {
        long now = System.nanoTime();
        if (lastErrorLog == 0 || now - lastErrorLog >= LOG_THROTTLE_NANOS) {
            String suppressed = suppressedErrors > 0 ? " (" + suppressedErrors + " similar errors not logged)" : "";
            LOG.log(Level.WARNING, "splice4j: unexpected error in " + thread.getName() + suppressed, t);
            lastErrorLog = now;
            suppressedErrors = 0;
        } else {
            suppressedErrors++;
        }
    }
}
