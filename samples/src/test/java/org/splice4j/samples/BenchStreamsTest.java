package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** {@code bench --streams}: the flags, and a short real run of the spliced row whose table row is sane. */
class BenchStreamsTest {

    @Test
    void defaultsAreTheIssuesSetUp() {
        BenchStreams.Options o = BenchStreams.parse(new String[] {"--streams", "64"});
        assertEquals(64, o.streams());
        assertEquals(TimeUnit.SECONDS.toNanos(10), o.timeNanos());
        assertEquals(3, o.runs());
        assertEquals(List.of("forward-nio-linux", "forward-nio-copy", "forward-nio-stock"), o.rows());
        assertEquals("256m", o.heap());
        BenchStreams.Options p = BenchStreams.parse(new String[] {"--streams", "8", "--time", "1500ms", "--rows",
                "forward-nio-linux", "--proxy", "h=exec haproxy {listen} {target}"});
        assertEquals(TimeUnit.MILLISECONDS.toNanos(1500), p.timeNanos());
        assertEquals(List.of("forward-nio-linux", "h"), p.allRows());
    }

    @Test
    void aShortRunOfTheSplicedRowGivesASaneRow() throws Exception {
        BenchStreams.Options o = BenchStreams.parse(new String[] {"--streams", "4", "--time", "1s", "--runs", "1",
                "--rows", "forward-nio-linux"});
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        BenchProgress progress = new BenchProgress(1, o.allRows(), new PrintStream(log, true, StandardCharsets.UTF_8),
                false, System::nanoTime);
        Map<String, List<BenchStreams.Run>> results = BenchStreams.run(o, progress);
        ByteArrayOutputStream table = new ByteArrayOutputStream();
        BenchStreams.print(o, results, new PrintStream(table, true, StandardCharsets.UTF_8));
        String out = table.toString(StandardCharsets.UTF_8);
        String row = out.lines().filter(l -> l.startsWith("| forward-nio-linux |")).findFirst()
                .orElseThrow(() -> new AssertionError("no row in:\n" + out + "\nlog:\n" + log));
        List<String> cells = Arrays.stream(row.split("\\|")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        assertEquals(BenchStreams.TABLE_HEADER.size(), cells.size(), row);
        double rss = Double.parseDouble(cells.get(1));
        double anon = Double.parseDouble(cells.get(2));
        double pipes = Double.parseDouble(cells.get(4));
        double idleRss = Double.parseDouble(cells.get(5));
        double idleAnon = Double.parseDouble(cells.get(6));
        assertTrue(pipes >= 0 && pipes <= 2, "a spliced stream holds at most a pipe per direction: " + row);
        assertTrue(idleRss > 10 && idleAnon > 0 && idleAnon < idleRss, "a JVM's resident memory: " + row);
        // Per stream, what the streams add; a figure, maybe slightly negative when the JVM gave memory back.
        assertTrue(Double.isFinite(rss) && Double.isFinite(anon), row);
        BenchStreams.Run run = results.get("forward-nio-linux").get(0);
        assertTrue(run.upGbps() > 0 && run.downGbps() > 0, "bytes went both ways: " + run);
        assertTrue(run.peak().rssKib() >= run.idle().rssKib(), "the peak includes the idle figure: " + run);
    }
}
