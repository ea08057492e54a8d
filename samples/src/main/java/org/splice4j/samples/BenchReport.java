package org.splice4j.samples;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.splice4j.samples.BenchResults.Figure;
import org.splice4j.samples.BenchResults.Measurement;
import org.splice4j.samples.BenchResults.Spread;

/**
 * {@link Bench}'s results as one self-contained HTML page ({@code bench --html FILE}): the machine it ran on, the same
 * table the text output prints, every run's figures, and two bar charts, throughput and relay CPU per GiB, with up and
 * down side by side for each row: the bar is the median over the runs, the whisker spans the smallest to the largest
 * run. The charts are inline SVG drawn here, so the page needs no script, font or style sheet from anywhere and opens
 * from {@code file://}. Every text put into the page goes through {@link #escape}.
 */
final class BenchReport {

    /** Where and how the bench ran: the page's header. */
    record Setup(String commandLine, String date, String jvm, String kernel, int cores, long bytesPerRun, int runs) {
    }

    static final String UP_COLOUR = "#1f77b4";
    static final String DOWN_COLOUR = "#ff7f0e";
    private static final String WHISKER_COLOUR = "#222222";

    // Chart geometry, in SVG pixels: row labels left of the plot, value labels right of the whiskers.
    private static final int WIDTH = 960;
    private static final int LABEL_WIDTH = 170;
    private static final int RIGHT_MARGIN = 80;
    private static final int TOP = 64;
    private static final int BOTTOM = 52;
    private static final int ROW_HEIGHT = 40;
    private static final int BAR_HEIGHT = 13;

    private BenchReport() {
    }

    static String html(Setup setup, BenchResults results) {
        StringBuilder h = new StringBuilder(32 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
        h.append("<title>splice4j bench, ").append(escape(setup.date())).append("</title>\n");
        // No '<' or '&' in the style, so the page also parses as XML (BenchReportTest does).
        h.append("<style>\n"
                + "body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1000px; }\n"
                + "table { border-collapse: collapse; margin: 8px 0 16px; }\n"
                + "th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }\n"
                + "th:first-child, td:first-child { text-align: left; }\n"
                + "th { background: #eee; }\n"
                + "dt { font-weight: bold; float: left; clear: left; width: 7em; }\n"
                + "dd { margin: 0 0 4px 8em; }\n"
                + "svg.chart { display: block; margin: 8px 0 24px; font-family: sans-serif; }\n"
                + "</style>\n</head>\n<body>\n");
        h.append("<h1>splice4j bench</h1>\n<dl class=\"setup\">\n");
        definition(h, "command", "<code>" + escape(setup.commandLine()) + "</code>");
        definition(h, "date", escape(setup.date()));
        definition(h, "JVM", escape(setup.jvm()) + " (the relays' child JVMs too)");
        definition(h, "kernel", escape(setup.kernel()));
        definition(h, "cores", Integer.toString(setup.cores()));
        definition(h, "traffic", escape(String.format(Locale.ROOT,
                "%s each way per run, after a warm-up of a quarter of that each way; %d run(s), rows round-robin",
                size(setup.bytesPerRun()), setup.runs())));
        h.append("</dl>\n");

        h.append("<h2>Medians</h2>\n");
        table(h, "results", BenchResults.TABLE_HEADER, results.table());
        List<String> comparisons = results.comparisons();
        if (!comparisons.isEmpty()) {
            h.append("<ul class=\"comparisons\">\n");
            for (String line : comparisons) {
                h.append("<li>").append(escape(line)).append("</li>\n");
            }
            h.append("</ul>\n");
        }
        h.append("<p>(medians of ").append(results.completedRuns())
                .append(" runs; CPU is the relay process's own: user and system time of all its threads, read in")
                .append(escape(String.format(Locale.ROOT, " 10 ms ticks, so at %s each way one tick is %.3f"
                        + " CPU-s/GiB)", size(setup.bytesPerRun()), 0.01 * (1L << 30) / setup.bytesPerRun())))
                .append("</p>\n");

        h.append("<h2>Charts</h2>\n");
        chart(h, "chart-gbps", "Throughput per relay, Gbit/s (higher is better)", "Gbit/s", "%.2f", results,
                results.rows(), Figure.UP_GBPS, Figure.DOWN_GBPS);
        List<String> relays = results.rows().stream().filter(r -> !r.equals(BenchResults.DIRECT)).toList();
        chart(h, "chart-cpu", "Relay CPU seconds per GiB relayed (lower is better)", "relay CPU seconds per GiB",
                "%.3f",
                results, relays, Figure.UP_CPU, Figure.DOWN_CPU);

        h.append("<h2>Every run</h2>\n");
        List<List<String>> everyRun = new ArrayList<>();
        for (String row : results.rows()) {
            List<Measurement> runs = results.runs(row);
            for (int i = 0; i < runs.size(); i++) {
                Measurement m = runs.get(i);
                everyRun.add(List.of(row, Integer.toString(i + 1), number("%.2f", m.upGbps()),
                        number("%.2f", m.downGbps()), number("%.3f", m.upCpuPerGiB()),
                        number("%.3f", m.downCpuPerGiB())));
            }
        }
        table(h, "runs", List.of("relay", "run", "up Gbit/s", "down Gbit/s", "relay CPU-s/GiB up",
                "relay CPU-s/GiB down"), everyRun);
        h.append("</body>\n</html>\n");
        return h.toString();
    }

    /**
     * A horizontal bar chart: one group per row, an up and a down bar (median) with a whisker (min to max) each, the
     * median written after the whisker. Rows without a figure (NaN) get no bar.
     */
    private static void chart(StringBuilder h, String id, String title, String unit, String valueFormat,
            BenchResults results, List<String> rows, Figure up, Figure down) {
        double largest = 0;
        for (String row : rows) {
            for (Figure f : List.of(up, down)) {
                double max = results.spread(row, f).max();
                if (Double.isFinite(max)) {
                    largest = Math.max(largest, max);
                }
            }
        }
        double step = tickStep(largest);
        double axisMax = Math.max(step, Math.ceil(largest / step) * step);
        int plotWidth = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
        int plotHeight = Math.max(1, rows.size()) * ROW_HEIGHT;
        int height = TOP + plotHeight + BOTTOM;
        Scale x = v -> LABEL_WIDTH + v / axisMax * plotWidth;

        h.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"%s\""
                + " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", id, WIDTH, height, WIDTH,
                height));
        h.append("<title>").append(escape(title)).append("</title>\n");
        h.append(text(LABEL_WIDTH, 20, "start", "font-size=\"16\" font-weight=\"bold\"", title));
        legend(h, results.completedRuns());

        // Grid and tick labels.
        h.append("<g class=\"axis\">\n");
        int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
        for (int i = 0; i * step <= axisMax + step / 1e6; i++) {
            double v = i * step;
            h.append(line(x.at(v), TOP, x.at(v), TOP + plotHeight, i == 0 ? "#666666" : "#dddddd"));
            h.append(text(x.at(v), TOP + plotHeight + 16, "middle", "font-size=\"12\"",
                    String.format(Locale.ROOT, "%." + decimals + "f", v)));
        }
        h.append(text(LABEL_WIDTH + plotWidth / 2.0, TOP + plotHeight + 40, "middle", "font-size=\"13\"", unit));
        h.append("</g>\n");

        if (rows.isEmpty()) {
            h.append(text(LABEL_WIDTH + 8, TOP + ROW_HEIGHT / 2.0, "start", "font-size=\"13\"", "no rows"));
        }
        for (int r = 0; r < rows.size(); r++) {
            String row = rows.get(r);
            double top = TOP + r * ROW_HEIGHT;
            h.append("<g class=\"row\" data-row=\"").append(escape(row)).append("\">\n");
            h.append(text(LABEL_WIDTH - 8, top + ROW_HEIGHT / 2.0 + 4, "end", "font-size=\"13\"", row));
            bar(h, row, "up", UP_COLOUR, results.spread(row, up), top + 6, x, valueFormat, unit,
                    results.runs(row).size());
            bar(h, row, "down", DOWN_COLOUR, results.spread(row, down), top + 8 + BAR_HEIGHT, x, valueFormat, unit,
                    results.runs(row).size());
            h.append("</g>\n");
        }
        h.append("</svg>\n");
    }

    private static void bar(StringBuilder h, String row, String direction, String colour, Spread s, double y,
            Scale x, String valueFormat, String unit, int runs) {
        if (!Double.isFinite(s.median())) {
            return;
        }
        String median = String.format(Locale.ROOT, valueFormat, s.median());
        String tip = String.format(Locale.ROOT, "%s %s: median %s %s, min " + valueFormat + ", max " + valueFormat
                + " (%d runs)", row, direction, median, unit, s.min(), s.max(), runs);
        h.append(String.format(Locale.ROOT, "<rect class=\"bar %s\" data-row=\"%s\" x=\"%.1f\" y=\"%.1f\""
                + " width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s</title></rect>\n", direction, escape(row),
                x.at(0), y, x.at(s.median()) - x.at(0), BAR_HEIGHT, colour, escape(tip)));
        double mid = y + BAR_HEIGHT / 2.0;
        h.append("<g class=\"whisker\">");
        h.append(line(x.at(s.min()), mid, x.at(s.max()), mid, WHISKER_COLOUR));
        h.append(line(x.at(s.min()), mid - 4, x.at(s.min()), mid + 4, WHISKER_COLOUR));
        h.append(line(x.at(s.max()), mid - 4, x.at(s.max()), mid + 4, WHISKER_COLOUR));
        h.append("</g>\n");
        h.append(text(x.at(s.max()) + 6, mid + 4, "start", "font-size=\"11\" class=\"value\"", median));
    }

    private static void legend(StringBuilder h, int runs) {
        double y = 38;
        h.append("<g class=\"legend\">\n");
        h.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"14\" height=\"12\" fill=\"%s\"/>\n",
                LABEL_WIDTH, y, UP_COLOUR));
        h.append(text(LABEL_WIDTH + 20, y + 10, "start", "font-size=\"13\"", "up (client to target)"));
        h.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"14\" height=\"12\" fill=\"%s\"/>\n",
                LABEL_WIDTH + 180, y, DOWN_COLOUR));
        h.append(text(LABEL_WIDTH + 200, y + 10, "start", "font-size=\"13\"", "down (target to client)"));
        double wx = LABEL_WIDTH + 380;
        h.append(line(wx, y + 6, wx + 24, y + 6, WHISKER_COLOUR));
        h.append(line(wx, y + 2, wx, y + 10, WHISKER_COLOUR));
        h.append(line(wx + 24, y + 2, wx + 24, y + 10, WHISKER_COLOUR));
        h.append(text(wx + 32, y + 10, "start", "font-size=\"13\"",
                "bar: median, whisker: min to max of " + runs + (runs == 1 ? " run" : " runs")));
        h.append("</g>\n");
    }

    /** A round step (1, 2 or 5 times a power of ten) giving about five grid lines up to {@code max}. */
    static double tickStep(double max) {
        if (!(max > 0) || !Double.isFinite(max)) {
            return 1;
        }
        double raw = max / 5;
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / magnitude;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
    }

    /** A value's x coordinate in the plot. */
    private interface Scale {
        double at(double value);
    }

    private static String line(double x1, double y1, double x2, double y2, String colour) {
        return String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\""
                + " stroke-width=\"1.2\"/>\n", x1, y1, x2, y2, colour);
    }

    private static String text(double x, double y, String anchor, String attributes, String content) {
        return String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>%s</text>\n", x, y,
                anchor, attributes, escape(content));
    }

    private static void definition(StringBuilder h, String term, String escapedValue) {
        h.append("<dt>").append(escape(term)).append("</dt><dd>").append(escapedValue).append("</dd>\n");
    }

    private static void table(StringBuilder h, String id, List<String> header, List<List<String>> rows) {
        h.append("<table id=\"").append(id).append("\">\n<thead><tr>");
        for (String cell : header) {
            h.append("<th>").append(escape(cell)).append("</th>");
        }
        h.append("</tr></thead>\n<tbody>\n");
        for (List<String> row : rows) {
            h.append("<tr data-row=\"").append(escape(row.get(0))).append("\">");
            for (String cell : row) {
                h.append("<td>").append(escape(cell)).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody>\n</table>\n");
    }

    private static String number(String format, double value) {
        return Double.isFinite(value) ? String.format(Locale.ROOT, format, value) : "-";
    }

    private static String size(long bytes) {
        return bytes % (1L << 30) == 0 ? bytes / (1L << 30) + " GiB"
                : bytes % (1L << 20) == 0 ? bytes / (1L << 20) + " MiB" : bytes + " bytes";
    }

    /** Text for HTML content or a quoted attribute: the five characters that could end either. */
    static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
