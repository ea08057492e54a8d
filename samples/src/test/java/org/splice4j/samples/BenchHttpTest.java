package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code bench --http}: the flags, and a short real run in which clean rows carry every body on the connections
 * they opened in the warm-up, and a row that flips a byte of each connection's first body is counted as failed.
 */
class BenchHttpTest {

    private static Map<String, List<BenchHttp.Run>> results;
    private static String table;

    @Test
    void defaultsAreTheIssuesSetUp() {
        BenchHttp.Options o = BenchHttp.parse(new String[] {"--http"});
        assertEquals(4L << 20, o.bodySize());
        assertEquals(10, o.connections());
        assertEquals(TimeUnit.SECONDS.toNanos(15), o.timeNanos());
        assertEquals(TimeUnit.SECONDS.toNanos(30), o.warmupNanos());
        assertEquals(List.copyOf(BenchHttp.ROWS.keySet()), o.rows());
        BenchHttp.Options p = BenchHttp.parse(new String[] {"--http", "--body", "1m", "--connections", "3",
            "--rows", "", "--proxy", "h=exec haproxy {listen} {target}"});
        assertEquals(1L << 20, p.bodySize());
        assertEquals(List.of("h"), p.allRows());
    }

    @BeforeAll
    static void runAShortBench() throws Exception {
        String relay = "exec " + Path.of(System.getProperty("java.home"), "bin", "java") + " -cp "
                + System.getProperty("java.class.path") + " " + CorruptingRelay.class.getName()
                + " {listenPort} {targetPort} ";
        BenchHttp.Options o = BenchHttp.parse(new String[] {"--http", "--body", "256k", "--connections", "2",
            "--time", "1s", "--warmup", "500ms", "--runs", "1", "--rows", rows(), "--proxy", "clean=" + relay + "none",
            "--proxy", "corrupt=" + relay + "down"});
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        results = BenchHttp.run(o, new BenchProgress(1, o.allRows(), new PrintStream(log, true,
                StandardCharsets.UTF_8), false, System::nanoTime));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BenchHttp.print(o, results, new PrintStream(out, true, StandardCharsets.UTF_8));
        table = out + "\nlog:\n" + log;
    }

    /** The sample rows that keep connections alive, spliced and stock. */
    private static String rows() {
        return "";
    }

    private static List<String> cells(String row) {
        String line = table.lines().filter(l -> l.startsWith("| " + row + " |")).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + row + " in:\n" + table));
        return Arrays.stream(line.split("\\|")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @Test
    void cleanRowsCarryEveryBodyOnTheirKeptAliveConnections() {
        for (String row : results.keySet()) {
            if (row.equals("corrupt")) {
                continue;
            }
            List<String> c = cells(row);
            assertEquals(BenchHttp.TABLE_HEADER.size(), c.size(), table);
            assertTrue(Double.parseDouble(c.get(1)) > 0, "requests were answered: " + table);
            assertEquals("0", c.get(4), row + " kept the warm-up's client connections alive: " + table);
            assertEquals("0", c.get(6), row + " answered every request right: " + table);
            BenchHttp.Run r = results.get(row).get(0);
            assertEquals(r.requests() * 256 * 1024, r.bytes(), table);
        }
    }

    @Test
    void aWrongByteInABodyCountsAsAFailedRequest() {
        BenchHttp.Run r = results.get("corrupt").get(0);
        assertTrue(r.failed() > 0, "the flipped byte must be seen: " + table);
        assertTrue(r.lastError().contains("CRC-32C"), r.lastError());
    }
}
