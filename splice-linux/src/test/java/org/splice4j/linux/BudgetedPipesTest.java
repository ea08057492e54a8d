package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.splice4j.spi.contract.TestScale;

/**
 * Many bulk streams under the kernel's per-user pipe limit: as user {@code nobody} ({@link UnprivilegedChild}), with
 * the default {@code pipe-user-pages-soft} (64 MiB), 64 and then 128 sessions relay 4 MiB each at once to slow
 * destinations through a pool whose pipeSize (1 MiB) would need up to 128 MiB ({@link BudgetedPipesMain}): before
 * the budget, the pipes past 64 MiB got two pages and could not grow. The pool keeps to its budget, every new pipe
 * keeps the kernel's 64 KiB default, the kernel refuses no grow, and every byte arrives.
 */
class BudgetedPipesTest {

    /** Each session's bytes: 4 MiB, 8 MiB with {@code -Dsplice4j.test.scale=full}. */
    private static final long SIZE = TestScale.pick(4, 8) * (1L << 20);

    @Test
    void manyBulkStreamsShareTheUsersPipeAllowanceWithinTheBudget() throws Exception {
        UnprivilegedChild.setprivOrSkip();
        long soft = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/fs/pipe-user-pages-soft")).get(0).trim());
        long hard = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/fs/pipe-user-pages-hard")).get(0).trim());
        long budget = PipeBudget.ofLimits(soft, hard, LibC.getpagesize());
        UnprivilegedChild.Result r = UnprivilegedChild.run(BudgetedPipesMain.class, 180, Long.toString(SIZE), "64",
                "128");
        String out = r.output();
        assertEquals(0, r.exitValue(), out);
        List<String> ok = out.lines().filter(l -> l.startsWith("OK ")).toList();
        assertEquals(2, ok.size(), out);
        for (String line : ok) {
            System.out.println("BudgetedPipesTest child: " + line);
            int sessions = (int) field(line, "sessions");
            assertEquals(budget, field(line, "budget"), "3/4 of the soft limit applies to nobody: " + line);
            if (budget == PipeBudget.NONE) {
                continue; // no limit on this machine: nothing to keep to
            }
            assertTrue(line.contains("within a budget of " + budget + " bytes"), "the start-up line says so: " + line);
            assertTrue(field(line, "smallestGranted") >= 16 * LibC.getpagesize(),
                    "no pipe below the kernel's default: " + line);
            assertTrue(field(line, "peakCapacity") <= budget, "the pool kept to its budget: " + line);
            assertEquals(0, field(line, "growRefusals"), "the kernel never had to refuse a grow: " + line);
            if (sessions == 128) {
                assertTrue(field(line, "pipes") * (1 << 20) > budget,
                        "the run had more pipes at once than the budget holds at pipeSize, so it tested it: " + line);
            }
            assertTrue(field(line, "spliced") >= sessions * SIZE * 9 / 10, "spliced, but splice-auto's first copies: "
                    + line);
        }
    }

    private static long field(String line, String name) {
        for (String kv : line.split(" ")) {
            if (kv.startsWith(name + "=")) {
                return Long.parseLong(kv.substring(name.length() + 1));
            }
        }
        throw new AssertionError(name + " missing in " + line);
    }
}
