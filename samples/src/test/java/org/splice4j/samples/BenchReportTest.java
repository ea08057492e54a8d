package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;

import org.junit.jupiter.api.Test;
import org.splice4j.samples.BenchResults.Measurement;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * {@link BenchReport} with given figures. The page is written so that it also parses as XML, which is how this test
 * holds it to being well-formed (every element closed, every text escaped) and reads it back.
 */
class BenchReportTest {

    private static final double NAN = Double.NaN;
    private static final String COMMAND = "java -Dx=\"<script>alert('x')</script>\" & -jar bench";
    private static final BenchReport.Setup SETUP = new BenchReport.Setup(COMMAND, "2026-12-02T12:00:00Z",
            "OpenJDK 64-Bit Server VM 17.0.15", "6.18.44-test", 2, 1L << 30, 3);

    private static BenchResults results() {
        BenchResults r = new BenchResults();
        r.add("direct", new Measurement(20, 22, NAN, NAN));
        r.add("direct", new Measurement(30, 24, NAN, NAN));
        r.add("direct", new Measurement(25, 26, NAN, NAN));
        r.add("forward-nio-stock", new Measurement(10, 12, 1.0, 0.9));
        r.add("forward-nio-stock", new Measurement(9, 11, 1.2, 1.0));
        r.add("forward-nio-stock", new Measurement(11, 13, 1.1, 1.1));
        r.add("forward-nio-linux", new Measurement(12, 12.5, 0.4, 0.38));
        r.add("forward-nio-linux", new Measurement(11, 12, 0.5, 0.4));
        r.add("forward-nio-linux", new Measurement(13, 13, 0.45, 0.36));
        r.add("relay-linux", new Measurement(11.2, 10.9, 0.43, 0.45));
        r.add("relay-linux", new Measurement(11.0, 11.5, 0.41, 0.47));
        r.add("relay-linux", new Measurement(11.4, 10.0, 0.44, 0.43));
        return r;
    }

    private static Document parse(String html) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
    }

    private static final XPath XPATH = XPathFactory.newInstance().newXPath();

    private static NodeList nodes(Document d, String expression) throws Exception {
        return (NodeList) XPATH.evaluate(expression, d, XPathConstants.NODESET);
    }

    private static String text(Document d, String expression) throws Exception {
        return XPATH.evaluate(expression, d);
    }

    private static List<String> cells(Document d, String table, String row) throws Exception {
        NodeList tds = nodes(d, "//table[@id='" + table + "']/tbody/tr[@data-row='" + row + "']/td");
        List<String> cells = new ArrayList<>();
        for (int i = 0; i < tds.getLength(); i++) {
            cells.add(tds.item(i).getTextContent());
        }
        return cells;
    }

    @Test
    void theTableHasTheTextTablesFiguresAndTheHeaderTheMachine() throws Exception {
        BenchResults results = results();
        String html = BenchReport.html(SETUP, results);
        Document d = parse(html);

        assertEquals(4, nodes(d, "//table[@id='results']/tbody/tr").getLength());
        assertEquals(BenchResults.TABLE_HEADER.size(), nodes(d, "//table[@id='results']/thead/tr/th").getLength());
        assertEquals(List.of("direct", "25.00", "24.00", "1.00", "1.00", "-", "-"), cells(d, "results", "direct"));
        assertEquals(List.of("forward-nio-linux", "12.00", "12.50", "0.48", "0.52", "0.450", "0.380"),
                cells(d, "results", "forward-nio-linux"));
        // The same cells as the text table, row by row.
        for (List<String> row : results.table()) {
            assertEquals(row, cells(d, "results", row.get(0)));
        }
        assertEquals("forward-nio-linux / forward-nio-stock: CPU per GiB 0.41 up, 0.38 down; throughput 1.20 up,"
                + " 1.04 down", text(d, "//ul[@class='comparisons']/li"));
        assertEquals(results.comparisons(), List.of(text(d, "//ul[@class='comparisons']/li")));

        assertEquals(12, nodes(d, "//table[@id='runs']/tbody/tr").getLength());
        assertEquals(List.of("direct", "2", "30.00", "24.00", "-", "-"), everyRunRow(d, 1));
        assertEquals(List.of("relay-linux", "3", "11.40", "10.00", "0.440", "0.430"), everyRunRow(d, 11));

        String header = text(d, "//dl[@class='setup']");
        assertTrue(header.contains("6.18.44-test") && header.contains("OpenJDK 64-Bit Server VM 17.0.15")
                && header.contains("2026-12-02T12:00:00Z") && header.contains("1 GiB each way per run"), header);
        assertEquals("2", text(d, "//dl[@class='setup']/dt[.='cores']/following-sibling::dd[1]"));
    }

    /** The every-run table's row at {@code index} (0-based). */
    private static List<String> everyRunRow(Document d, int index) throws Exception {
        NodeList tds = nodes(d, "//table[@id='runs']/tbody/tr[" + (index + 1) + "]/td");
        List<String> cells = new ArrayList<>();
        for (int i = 0; i < tds.getLength(); i++) {
            cells.add(tds.item(i).getTextContent());
        }
        return cells;
    }

    @Test
    void theCommandLineIsEscaped() throws Exception {
        String html = BenchReport.html(SETUP, results());
        assertFalse(html.contains("<script"), "no script element may come from the command line");
        assertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot; &amp; -jar"), html);
        assertEquals(COMMAND, text(parse(html), "//dl[@class='setup']/dt[.='command']/following-sibling::dd[1]"));
        assertEquals("a&amp;b&lt;c&gt;d&quot;e&#39;f", BenchReport.escape("a&b<c>d\"e'f"));
    }

    @Test
    void eachChartHasAnUpAndADownBarPerRowAsLongAsItsMedian() throws Exception {
        Document d = parse(BenchReport.html(SETUP, results()));
        String gbps = "//svg[@id='chart-gbps']";
        String cpu = "//svg[@id='chart-cpu']";
        for (String direction : List.of("up", "down")) {
            assertEquals(4, nodes(d, gbps + "//rect[@class='bar " + direction + "']").getLength());
            // The direct row has no relay, so no CPU bar.
            assertEquals(3, nodes(d, cpu + "//rect[@class='bar " + direction + "']").getLength());
        }
        assertEquals(0, nodes(d, cpu + "//rect[@data-row='direct']").getLength());
        assertEquals(1, nodes(d, cpu + "//rect[@class='bar up'][@data-row='forward-nio-linux']").getLength());

        // Widths in proportion to the medians: direct up 25, forward-nio-stock up 10; CPU up 1.1 against 0.45.
        assertEquals(25.0 / 10, width(d, gbps, "up", "direct") / width(d, gbps, "up", "forward-nio-stock"), 0.01);
        assertEquals(1.1 / 0.45, width(d, cpu, "up", "forward-nio-stock") / width(d, cpu, "up", "forward-nio-linux"),
                0.01);
        assertEquals(24.0 / 12.5, width(d, gbps, "down", "direct") / width(d, gbps, "down", "forward-nio-linux"),
                0.01);

        assertEquals("forward-nio-linux up: median 12.00 Gbit/s, min 11.00, max 13.00 (3 runs)",
                text(d, gbps + "//rect[@class='bar up'][@data-row='forward-nio-linux']/title"));
        assertEquals("relay-linux down: median 0.450 relay CPU seconds per GiB, min 0.430, max 0.470 (3 runs)",
                text(d, cpu + "//rect[@class='bar down'][@data-row='relay-linux']/title"));
        // Axis units, legend and what bar and whisker mean.
        String gbpsText = text(d, gbps);
        assertTrue(gbpsText.contains("Gbit/s") && gbpsText.contains("up (client to target)")
                && gbpsText.contains("down (target to client)")
                && gbpsText.contains("bar: median, whisker: min to max of 3 runs"), gbpsText);
        assertTrue(text(d, cpu).contains("relay CPU seconds per GiB"));
        // The axes, then the unit: 30 is the largest throughput, a fifth of it rounds up to steps of 10; 1.2 the
        // largest CPU figure, steps of 0.5 up to the first step past it.
        assertEquals(List.of("0", "10", "20", "30", "Gbit/s"), axis(d, gbps));
        assertEquals(List.of("0.0", "0.5", "1.0", "1.5", "relay CPU seconds per GiB"),
                axis(d, cpu));
    }

    private static List<String> axis(Document d, String chart) throws Exception {
        NodeList texts = nodes(d, chart + "/g[@class='axis']/text");
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < texts.getLength(); i++) {
            labels.add(texts.item(i).getTextContent());
        }
        return labels;
    }

    private static double width(Document d, String chart, String direction, String row) throws Exception {
        Element rect = (Element) nodes(d, chart + "//rect[@class='bar " + direction + "'][@data-row='" + row + "']")
                .item(0);
        return Double.parseDouble(rect.getAttribute("width"));
    }

    @Test
    void withTheDirectRowOnlyTheCpuChartSaysNoRows() throws Exception {
        BenchResults r = new BenchResults();
        r.add("direct", new Measurement(20, 22, NAN, NAN));
        Document d = parse(BenchReport.html(SETUP, r));
        assertEquals(1, nodes(d, "//svg[@id='chart-gbps']//rect[@class='bar up']").getLength());
        assertEquals(0, nodes(d, "//svg[@id='chart-cpu']//rect[@class='bar up']").getLength());
        assertTrue(text(d, "//svg[@id='chart-cpu']").contains("no rows"));
    }

    @Test
    void tickStepsAreRound() {
        assertEquals(10, BenchReport.tickStep(33.19), 1e-9);
        assertEquals(5, BenchReport.tickStep(25), 1e-9);
        assertEquals(0.5, BenchReport.tickStep(1.76), 1e-9);
        assertEquals(0.2, BenchReport.tickStep(0.9), 1e-9);
        assertEquals(1, BenchReport.tickStep(0), 1e-9);
        assertEquals(1, BenchReport.tickStep(NAN), 1e-9);
    }
}
