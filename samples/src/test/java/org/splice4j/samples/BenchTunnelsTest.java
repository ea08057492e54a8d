package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A short real {@code bench --tunnels} in this JVM (the relays in their own processes, as always): 20 tunnels at
 * 64 KiB/s each way for 2 s after 1 s of warm-up, one run of the direct row, of {@code relay-copy}, and of a
 * {@code --proxy} relay that flips one byte of each tunnel ({@link CorruptingRelay}), so that both a clean row and
 * the loud failure are seen. About 12 s.
 */
class BenchTunnelsTest {

    private static final int TUNNELS = 20;
    private static boolean ok;
    private static String stdout;
    private static String stderr;

    @BeforeAll
    static void runAShortBench() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String corrupt = "corrupt=exec " + java + " -cp " + System.getProperty("java.class.path") + " "
                + CorruptingRelay.class.getName() + " {listenPort} {targetPort}";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ok = BenchTunnels.run(BenchTunnels.parse(new String[] {"--tunnels", Integer.toString(TUNNELS), "--rate",
            "64k", "--time", "2s", "--warmup", "1s", "--runs", "1", "--rows", "relay-copy", "--proxy", corrupt}),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        stdout = out.toString(StandardCharsets.UTF_8);
        stderr = err.toString(StandardCharsets.UTF_8);
    }

    /** The summary table's cells of {@code row}, in the order of {@link BenchTunnels#HEADER}. */
    private static List<String> summary(String row) {
        String line = stdout.lines().filter(l -> l.startsWith("| " + row + " | ")).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + row + " in\n" + stdout));
        return Arrays.asList(line.substring(2, line.length() - 2).split(" \\| "));
    }

    @Test
    void aCleanRowCarriesTheRateWithEveryByteRightAndHasItsRoundTrips() {
        for (String row : List.of("direct", "relay-copy")) {
            List<String> cells = summary(row);
            assertEquals(BenchTunnels.HEADER.size(), cells.size(), cells.toString());
            assertEquals("1/1", cells.get(1), row + " must be valid: " + stdout + stderr);
            // One run: plain figures, no min..max.
            assertTrue(Double.parseDouble(cells.get(2)) >= BenchTunnels.VALID, row + " rate: " + cells);
            assertTrue(Double.parseDouble(cells.get(5)) > 0, row + " p50: " + cells);
            assertTrue(Double.parseDouble(cells.get(6)) >= Double.parseDouble(cells.get(5)), row + " p99: " + cells);
            assertEquals("0", cells.get(9), row + " errors: " + cells);
        }
        assertEquals("-", summary("direct").get(4), "the direct row has no relay CPU");
        assertTrue(Double.parseDouble(summary("relay-copy").get(4)) > 0, stdout);
    }

    @Test
    void wrongBytesFailTheBenchLoudly() {
        assertFalse(ok, "a relay that flips bytes must fail the bench");
        List<String> cells = summary("corrupt");
        assertEquals("0/1", cells.get(1), cells.toString());
        // One flipped byte in each bulk tunnel (at 64 KiB/s every tunnel passes byte 10,000 in the warm-up) and in
        // the ping-pong one (64 bytes every millisecond: past it in well under a second).
        assertEquals(Integer.toString(TUNNELS + 1), cells.get(9), stdout);
        assertTrue(stdout.contains("| 1 | corrupt |") && stdout.contains("ERRORS: " + (TUNNELS + 1) + " bytes wrong"),
                stdout);
        assertTrue(stderr.contains("bench: FAILED: corrupt run 1: " + (TUNNELS + 1) + " bytes did not match"), stderr);
        assertFalse(stderr.contains("FAILED: direct") || stderr.contains("FAILED: relay-copy"), stderr);
    }

    @Test
    void theComparisonIsToTheFirstProxyRow() {
        assertTrue(stdout.contains("relay-copy / corrupt: relay CPU per GiB VOID, ping p99 VOID"), stdout);
    }
}
