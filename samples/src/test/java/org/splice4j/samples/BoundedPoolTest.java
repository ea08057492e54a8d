package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * The socks5 resolver and the relay's connectors are bounded: slow DNS or a slow target can occupy at most the
 * pool's threads and queue, and the next request is refused at once instead of making another thread.
 */
class BoundedPoolTest {

    @Test
    void blockedWorkFillsTheThreadsAndTheQueueThenIsRefused() throws Exception {
        ThreadPoolExecutor pool = BoundedPool.of("test-blocked", 4, 8);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(4);
        try {
            for (int i = 0; i < 4 + 8; i++) {
                pool.execute(() -> {
                    running.countDown();
                    try {
                        release.await(); // a name lookup that does not come back
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            running.await(10, TimeUnit.SECONDS);
            assertEquals(4, pool.getPoolSize(), "never more threads than the bound");
            assertThrows(RejectedExecutionException.class, () -> pool.execute(() -> { }));
        } finally {
            release.countDown();
            pool.shutdown();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
    }
}
