package org.splice4j.samples;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A pool for blocking work a sample must keep off its event loops and accept thread (name resolution, connects),
 * bounded both ways: at most {@code threads} daemon threads, started on demand and gone after 30 s of quiet, and at
 * most {@code queued} waiting tasks; past that {@code execute} throws {@link java.util.concurrent.RejectedExecutionException}
 * and the caller refuses that client. Slow peers can then never make threads or queue entries without limit.
 */
final class BoundedPool {

    private BoundedPool() {
    }

    static ThreadPoolExecutor of(String threadName, int threads, int queued) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(queued), r -> {
                    Thread t = new Thread(r, threadName);
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}
