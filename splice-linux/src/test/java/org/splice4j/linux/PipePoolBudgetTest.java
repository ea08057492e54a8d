package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The pool's rule under a budget, with real pipes: this JVM may be exempt from the kernel's per-user limit (root),
 * so the budget is given and the kernel grants whatever the pool asks; what is checked is what the pool asks for.
 */
class PipePoolBudgetTest {

    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;

    @Test
    void pipesGrowToTheirFairShareAndShrinkWhenTheBudgetTightens() {
        PipePool pool = new PipePool(8, MIB, MIB);
        try {
            int initial = 16 * LibC.getpagesize();
            Pipe a = pool.acquire();
            assertNotNull(a);
            assertEquals(initial, a.capacity, "the kernel's default");
            pool.grow(a);
            assertEquals(MIB, a.capacity, "alone in the budget: all of pipeSize");
            Pipe b = pool.acquire();
            assertEquals(initial, b.capacity, "a new pipe keeps the default size");
            assertEquals(MIB + initial, pool.capacity(), "new pipes are not refused, though the total is over");
            pool.grow(b);
            assertEquals(initial, b.capacity, "no room left: b makes do with the default");
            pool.release(a);
            assertEquals(512 * KIB, a.capacity, "back when the budget is tight: shrunk to the share of two");
            assertEquals(512 * KIB + initial, pool.capacity());
            Pipe again = pool.acquire();
            assertTrue(again == a, "the shrunk pipe is pooled and reused");
            pool.grow(b);
            assertEquals(512 * KIB, b.capacity, "room again: b grows to its share");
            assertEquals(MIB, pool.capacity());
            pool.grow(a);
            assertEquals(512 * KIB, a.capacity, "a's share is still half");
            pool.release(b);
            assertEquals(512 * KIB, b.capacity, "not above its share: pooled as it is");
            assertEquals(0, pool.growRefusals());
            assertEquals(MIB, pool.budget());
            pool.release(a);
            assertEquals(2, pool.pooled());
        } finally {
            pool.close();
        }
    }

    @Test
    void aPoolWithoutBudgetGrowsEveryBulkPipeToPipeSize() {
        PipePool pool = new PipePool(8, 256 * KIB, PipeBudget.NONE);
        try {
            Pipe a = pool.acquire();
            Pipe b = pool.acquire();
            pool.grow(a);
            pool.grow(b);
            assertEquals(256 * KIB, a.capacity);
            assertEquals(256 * KIB, b.capacity);
            pool.release(a);
            assertEquals(256 * KIB, a.capacity, "never shrunk");
            pool.release(b);
        } finally {
            pool.close();
        }
    }
}
