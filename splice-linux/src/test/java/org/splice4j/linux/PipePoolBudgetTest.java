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
        PipePool pool = new PipePool(8, MIB, 2 * MIB);
        try {
            int initial = 16 * LibC.getpagesize();
            assertEquals(64 * KIB, initial, "these figures take 4 KiB pages");
            Pipe a = pool.acquire();
            assertNotNull(a);
            assertEquals(initial, a.capacity, "the kernel's default");
            pool.grow(a);
            assertEquals(MIB, a.capacity, "alone in the budget: all of pipeSize");
            Pipe b = pool.acquire();
            assertEquals(initial, b.capacity, "a new pipe keeps the default size");
            pool.grow(b);
            assertEquals(512 * KIB, b.capacity, "a share of 1 MiB, but room for 896 KiB besides a and the reserve");
            Pipe c = pool.acquire();
            pool.grow(c);
            assertEquals(256 * KIB, c.capacity, "room for 320 KiB left");
            assertEquals(MIB + 768 * KIB, pool.capacity());
            pool.release(a);
            assertEquals(512 * KIB, a.capacity, "back while the budget is tight: shrunk to the share of three");
            assertEquals(MIB + 256 * KIB, pool.capacity());
            Pipe again = pool.acquire();
            assertTrue(again == a, "the shrunk pipe is pooled and reused");
            pool.grow(c);
            assertEquals(512 * KIB, c.capacity, "room again: c grows to its share");
            pool.grow(a);
            assertEquals(512 * KIB, a.capacity, "a has its share");
            pool.release(b);
            assertEquals(512 * KIB, b.capacity, "not above its share: pooled as it is");
            assertTrue(pool.peakCapacity() <= 2 * MIB, "within the budget throughout: " + pool.peakCapacity());
            assertEquals(0, pool.growRefusals());
            assertEquals(2 * MIB, pool.budget());
            pool.release(a);
            pool.release(c);
            assertEquals(3, pool.pooled());
        } finally {
            pool.close();
        }
    }

    @Test
    void newPipesKeepTheDefaultSizeEvenPastTheBudgetAndNoneGrows() {
        int initial = 16 * LibC.getpagesize();
        PipePool pool = new PipePool(8, MIB, initial);
        try {
            Pipe a = pool.acquire();
            Pipe b = pool.acquire();
            assertEquals(initial, b.capacity, "never refused nor shrunk below the default: splicing goes on");
            pool.grow(a);
            pool.grow(b);
            assertEquals(initial, a.capacity);
            assertEquals(initial, b.capacity);
            pool.release(a);
            pool.release(b);
            assertEquals(2, pool.pooled(), "pipes at the default size are pooled, not closed");
            assertEquals(0, pool.growRefusals(), "held back by the budget, not refused by the kernel");
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
