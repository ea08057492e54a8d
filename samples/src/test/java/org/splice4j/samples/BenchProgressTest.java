package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** {@link BenchProgress} on a clock the test moves: the lines, and the estimate from what each row took. */
class BenchProgressTest {

    private static final long SECOND = 1_000_000_000L;

    private final AtomicLong clock = new AtomicLong();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    private BenchProgress progress(boolean terminal) {
        return new BenchProgress(2, List.of("direct", "a", "b"), new PrintStream(bytes, true, StandardCharsets.UTF_8),
                terminal, clock::get);
    }

    /** Announces {@code row}, then lets it take {@code seconds}. */
    private static void measure(BenchProgress p, AtomicLong clock, int run, String row, long seconds) {
        p.starting(run, row);
        clock.addAndGet(seconds * SECOND);
        p.finished();
    }

    @Test
    void oneLinePerMeasurementWithTheTimeLeftFromEachRowsLastRun() {
        BenchProgress p = progress(false);
        measure(p, clock, 1, "direct", 1);
        // a and b not measured yet: the mean so far (1 s) for each; 5 measurements left.
        measure(p, clock, 1, "a", 3);
        // mean 2 s for b (twice: runs 1 and 2), direct 1 s, a 3 s.
        measure(p, clock, 1, "b", 2);
        measure(p, clock, 2, "direct", 1);
        measure(p, clock, 2, "a", 3);
        measure(p, clock, 2, "b", 2);
        p.allDone();
        assertEquals(List.of(
                "bench: run 1/2, row direct (1/3), estimating time left",
                "bench: run 1/2, row a (2/3), ~5s left",
                "bench: run 1/2, row b (3/3), ~8s left",
                "bench: run 2/2, row direct (1/3), ~6s left",
                "bench: run 2/2, row a (2/3), ~5s left",
                "bench: run 2/2, row b (3/3), ~2s left",
                "bench: done in 12s"), bytes.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @Test
    void onATerminalTheLineIsRewrittenAndAChildsLineGoesAboveIt() {
        BenchProgress p = progress(true);
        measure(p, clock, 1, "direct", 1);
        p.starting(1, "a");
        p.childLine("INFO: x");
        clock.addAndGet(SECOND);
        p.finished();
        p.allDone();
        String first = "bench: run 1/2, row direct (1/3), estimating time left";
        String second = "bench: run 1/2, row a (2/3), ~5s left";
        String third = "bench: done in 2s";
        String expected = "\r" + first
                + "\r" + second + " ".repeat(first.length() - second.length())
                // the child's line over the progress line, then the progress line again
                + "\rINFO: x" + " ".repeat(second.length() - "INFO: x".length()) + "\n" + second
                + "\r" + third + " ".repeat(second.length() - third.length()) + "\n";
        assertEquals(expected, bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aChildsLineWithoutATerminalIsALineOfItsOwn() {
        BenchProgress p = progress(false);
        p.starting(1, "direct");
        p.childLine("INFO: x");
        assertEquals(List.of("bench: run 1/2, row direct (1/3), estimating time left", "INFO: x"),
                bytes.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @Test
    void durations() {
        assertEquals("0s", BenchProgress.duration(0));
        assertEquals("45s", BenchProgress.duration(45 * SECOND));
        assertEquals("1m00s", BenchProgress.duration(59_600_000_000L));
        assertEquals("1m40s", BenchProgress.duration(100 * SECOND));
        assertEquals("59m59s", BenchProgress.duration(3599 * SECOND));
        assertEquals("2h05m", BenchProgress.duration(7500 * SECOND));
        assertTrue(BenchProgress.duration(30 * 3600 * SECOND).startsWith("30h"));
    }
}
