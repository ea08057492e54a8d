package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The budget and the fair-share rule of {@link PipeBudget}, as plain arithmetic and parsing. */
class PipeBudgetTest {

    private static final int KIB = 1024;
    private static final int MIB = 1024 * KIB;
    private static final int DEFAULT = 64 * KIB;

    @Test
    void theBudgetIsThreeQuartersOfTheSmallerLimitSet() {
        assertEquals(48L * MIB, PipeBudget.ofLimits(16384, 0, 4096), "the default soft limit, 64 MiB");
        assertEquals(3L * MIB, PipeBudget.ofLimits(16384, 1024, 4096), "a hard limit below it");
        assertEquals(3L * MIB, PipeBudget.ofLimits(0, 1024, 4096), "only a hard limit");
        assertEquals(PipeBudget.NONE, PipeBudget.ofLimits(0, 0, 4096), "0 means no limit");
        assertEquals(768L * MIB, PipeBudget.ofLimits(16384, 0, 65536), "pages of 64 KiB");
    }

    @Test
    void theShareIsTheLargestPowerOfTwoWithinPipeSizeAndTheEvenSplit() {
        long budget = 48L * MIB;
        assertEquals(MIB, PipeBudget.fairShare(MIB, budget, 1, DEFAULT), "few pipes: pipeSize");
        assertEquals(MIB, PipeBudget.fairShare(MIB, budget, 48, DEFAULT), "48 MiB over 48: exactly 1 MiB");
        assertEquals(512 * KIB, PipeBudget.fairShare(MIB, budget, 49, DEFAULT), "a little less: the power below");
        assertEquals(512 * KIB, PipeBudget.fairShare(MIB, budget, 64, DEFAULT), "768 KiB each: 512 KiB");
        assertEquals(256 * KIB, PipeBudget.fairShare(MIB, budget, 128, DEFAULT), "384 KiB each: 256 KiB");
        assertEquals(DEFAULT, PipeBudget.fairShare(MIB, budget, 768, DEFAULT), "the default size, exactly");
        assertEquals(DEFAULT, PipeBudget.fairShare(MIB, budget, 5000, DEFAULT), "never below the default");
        assertEquals(MIB, PipeBudget.fairShare(MIB, budget, 0, DEFAULT), "no pipe in use counts as one");
        assertEquals(128 * KIB, PipeBudget.fairShare(200 * KIB, budget, 1, DEFAULT), "pipeSize not a power of two");
    }

    @Test
    void powersOfTwo() {
        assertEquals(0, PipeBudget.largestPowerOfTwoAtMost(0));
        assertEquals(0, PipeBudget.largestPowerOfTwoAtMost(-5));
        assertEquals(1, PipeBudget.largestPowerOfTwoAtMost(1));
        assertEquals(64 * KIB, PipeBudget.largestPowerOfTwoAtMost(128 * KIB - 1));
        assertEquals(1 << 30, PipeBudget.largestPowerOfTwoAtMost(Long.MAX_VALUE));
    }

    @Test
    void onlyCapSysAdminOrCapSysResourceInTheInitialUserNamespaceIsExempt() {
        List<String> initial = List.of("         0          0 4294967295");
        List<String> container = List.of("         0     100000      65536");
        assertTrue(PipeBudget.exempt(status("000001ffffffffff"), initial), "root with every capability");
        assertTrue(PipeBudget.exempt(status("0000000000200000"), initial), "CAP_SYS_ADMIN alone");
        assertTrue(PipeBudget.exempt(status("0000000001000000"), initial), "CAP_SYS_RESOURCE alone");
        assertFalse(PipeBudget.exempt(status("000001fffedfffff"), initial), "root without either");
        assertFalse(PipeBudget.exempt(status("0000000000000000"), initial), "an ordinary user");
        assertFalse(PipeBudget.exempt(status("000001ffffffffff"), container), "root in a user namespace");
        assertFalse(PipeBudget.exempt(List.of("Name:\tjava"), initial), "no CapEff line");
        assertFalse(PipeBudget.exempt(status("zz"), initial), "garbled");
        assertFalse(PipeBudget.exempt(status("000001ffffffffff"), List.of()), "no uid_map");
    }

    private static List<String> status(String capEff) {
        return List.of("Name:\tjava", "CapPrm:\t" + capEff, "CapEff:\t" + capEff, "CapBnd:\t000001ffffffffff");
    }
}
