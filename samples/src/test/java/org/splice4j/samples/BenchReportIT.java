package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A short real {@code bench --html} from the shaded jar (two cheap rows, 1 MiB, two runs: a few seconds), then its
 * page in real headless Chromium: the DOM Chromium built holds a bar per row and direction in both charts, and the
 * screenshot holds as many pixels of the bars' colours as those bars cover, so the page was drawn, not only parsed.
 * The page and the screenshot stay in {@code target/bench-report/} to look at.
 *
 * <p>Without {@code /usr/bin/chromium} the Chromium test is skipped, except in CI ({@code CI=true}, where
 * {@code .ci/run} installs it), where it fails.
 */
class BenchReportIT {

    private static final Path JAR = Path.of("target", "splice4j-samples.jar");
    private static final Path OUT = Path.of("target", "bench-report").toAbsolutePath();
    private static final Path HTML = OUT.resolve("bench.html");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final List<String> ROWS = List.of("direct", "relay-copy", "relay-linux");
    private static final long BENCH_SECONDS = 120;
    private static final long CHROMIUM_SECONDS = 60;

    private static String stdout;
    private static String stderr;

    @BeforeAll
    static void runAShortBench() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        assertTrue(Files.isRegularFile(JAR), "the package phase must have built " + JAR);
        Files.createDirectories(OUT);
        Files.deleteIfExists(HTML);
        Path out = OUT.resolve("bench.out");
        Path err = OUT.resolve("bench.err");
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                JAR.toString(), "bench", "--bytes", "1m", "--runs", "2", "--rows", "relay-copy,relay-linux", "--html",
                HTML.toString());
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        boolean ended = p.waitFor(BENCH_SECONDS, TimeUnit.SECONDS);
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(20, TimeUnit.SECONDS);
        }
        stdout = Files.readString(out);
        stderr = Files.readString(err);
        assertTrue(ended, "bench did not end within " + BENCH_SECONDS + " s; stderr: " + stderr);
        assertEquals(0, p.exitValue(), "stdout: " + stdout + "\nstderr: " + stderr);
    }

    @Test
    void theTableGoesToStdoutProgressToStderrAndThePageHasTheTablesFigures() throws Exception {
        assertFalse(stdout.contains("bench: run "), "progress belongs on stderr: " + stdout);
        // stderr is a file, not a terminal: one plain line per measurement, 2 runs of 3 rows.
        List<String> progress = stderr.lines().filter(l -> l.startsWith("bench: run ")).toList();
        assertEquals(6, progress.size(), stderr);
        assertEquals("bench: run 1/2, row direct (1/3), estimating time left", progress.get(0));
        assertTrue(progress.get(5).matches("bench: run 2/2, row relay-linux \\(3/3\\), ~\\d+s left"), progress.get(5));
        assertTrue(stderr.contains("bench: done in ") && stderr.contains("bench: report written to file:"), stderr);

        String html = Files.readString(HTML);
        for (String row : ROWS) {
            // "| relay-copy | 1.23 | ... |" on stdout is <tr data-row="relay-copy"><td>relay-copy</td><td>1.23</td>...
            String line = stdout.lines().filter(l -> l.startsWith("| " + row + " |")).findFirst()
                    .orElseThrow(() -> new AssertionError("no row " + row + " in " + stdout));
            StringBuilder tr = new StringBuilder("<tr data-row=\"" + row + "\">");
            for (String cell : line.substring(2, line.length() - 2).split(" \\| ")) {
                tr.append("<td>").append(cell).append("</td>");
            }
            assertTrue(html.contains(tr + "</tr>"), "the page must show the table's row " + line);
        }
    }

    @Test
    void chromiumRendersBothChartsWithABarPerRowAndDirection() throws Exception {
        if (!Files.isExecutable(CHROMIUM)) {
            if ("true".equals(System.getenv("CI"))) {
                fail(CHROMIUM + " is missing: .ci/run installs it (apt-get install chromium)");
            }
            Assumptions.abort(CHROMIUM + " is not installed (apt-get install chromium)");
        }
        String dom = chromium("--dump-dom");
        assertTrue(dom.contains("<svg") && dom.contains("id=\"chart-gbps\"") && dom.contains("id=\"chart-cpu\""),
                dom);
        List<Bar> bars = bars(dom);
        for (String direction : List.of("up", "down")) {
            for (String row : ROWS) {
                // Throughput for every row, relay CPU for the relays.
                long n = bars.stream().filter(b -> b.row.equals(row) && b.direction.equals(direction)).count();
                assertEquals(row.equals("direct") ? 1 : 2, n, direction + " bars of " + row + " in " + dom);
            }
        }

        Path png = OUT.resolve("bench.png");
        Files.deleteIfExists(png);
        chromium("--screenshot=" + png, "--window-size=1200,1600", "--hide-scrollbars");
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(1200, image.getWidth());
        for (String direction : List.of("up", "down")) {
            int colour = Integer.parseInt((direction.equals("up") ? BenchReport.UP_COLOUR : BenchReport.DOWN_COLOUR)
                    .substring(1), 16);
            // The bars, plus the two legend squares (14 x 12); a whisker drawn over a bar takes a little of it (here
            // the screenshot holds 95 to 98 % of the area).
            double area = bars.stream().filter(b -> b.direction.equals(direction)).mapToDouble(b -> b.width * b.height)
                    .sum() + 2 * 14 * 12;
            long pixels = pixels(image, colour);
            assertTrue(pixels > area * 0.75 && pixels < area * 1.05 + 50, direction + ": " + pixels
                    + " pixels of its colour where its bars cover " + area);
        }
    }

    /** A bar as Chromium's DOM has it. */
    private record Bar(String row, String direction, double width, double height) {
    }

    private static List<Bar> bars(String dom) {
        List<Bar> bars = new ArrayList<>();
        Matcher m = Pattern.compile("<rect class=\"bar (up|down)\" data-row=\"([^\"]+)\"[^>]*? width=\"([0-9.]+)\""
                + " height=\"([0-9.]+)\"").matcher(dom);
        while (m.find()) {
            bars.add(new Bar(m.group(2), m.group(1), Double.parseDouble(m.group(3)), Double.parseDouble(m.group(4))));
        }
        return bars;
    }

    /** Pixels within a small distance of {@code rgb} (anti-aliased edges are not counted). */
    private static long pixels(BufferedImage image, int rgb) {
        long n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int p = image.getRGB(x, y);
                if (near(p >> 16, rgb >> 16) && near(p >> 8, rgb >> 8) && near(p, rgb)) {
                    n++;
                }
            }
        }
        return n;
    }

    /** The low bytes (one colour channel) of {@code a} and {@code b} within 8 of each other. */
    private static boolean near(int a, int b) {
        return Math.abs((a & 0xff) - (b & 0xff)) <= 8;
    }

    /** Runs headless Chromium on the page with a fresh profile, bounded; returns its stdout. */
    private static String chromium(String... action) throws Exception {
        Path profile = Files.createTempDirectory("bench-chromium");
        Path out = Files.createTempFile("bench-chromium", ".out");
        Path err = Files.createTempFile("bench-chromium", ".err");
        try {
            List<String> cmd = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox",
                    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--force-color-profile=srgb",
                    "--user-data-dir=" + profile));
            cmd.addAll(List.of(action));
            cmd.add(HTML.toUri().toString());
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(CHROMIUM_SECONDS, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(20, TimeUnit.SECONDS);
                fail("chromium " + String.join(" ", action) + " did not end within " + CHROMIUM_SECONDS + " s: "
                        + Files.readString(err));
            }
            assertEquals(0, p.exitValue(), "chromium " + String.join(" ", action) + ": " + Files.readString(err));
            return Files.readString(out);
        } finally {
            deleteTree(profile);
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
