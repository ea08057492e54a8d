package org.splice4j.samples;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * What {@link Bench} measured: for each row, in the order given, one {@link Measurement} per run. The text table and
 * the HTML report ({@link BenchReport}) both take their figures from here ({@link #table}, {@link #comparisons}), so
 * they cannot disagree.
 */
final class BenchResults {

    /** The ceiling row: client and target connected without a relay, so it has no relay CPU. */
    static final String DIRECT = "direct";

    /** Throughput of one run each way, and the relay's CPU seconds per GiB each way (NaN for {@link #DIRECT}). */
    record Measurement(double upGbps, double downGbps, double upCpuPerGiB, double downCpuPerGiB) {
    }

    /** A figure of a {@link Measurement}, as the table's and the charts' columns name them. */
    enum Figure {
        UP_GBPS(Measurement::upGbps), DOWN_GBPS(Measurement::downGbps),
        UP_CPU(Measurement::upCpuPerGiB), DOWN_CPU(Measurement::downCpuPerGiB);

        private final ToDoubleFunction<Measurement> read;

        Figure(ToDoubleFunction<Measurement> read) {
            this.read = read;
        }

        double of(Measurement m) {
            return read.applyAsDouble(m);
        }
    }

    /** Smallest, median and largest of one figure over the runs. */
    record Spread(double min, double median, double max) {
    }

    private final Map<String, List<Measurement>> rows = new LinkedHashMap<>();

    /** Adds a row with no runs yet; rows keep the order they were added in. */
    void addRow(String row) {
        rows.putIfAbsent(row, new ArrayList<>());
    }

    void add(String row, Measurement m) {
        rows.computeIfAbsent(row, r -> new ArrayList<>()).add(m);
    }

    List<String> rows() {
        return List.copyOf(rows.keySet());
    }

    List<Measurement> runs(String row) {
        return Collections.unmodifiableList(rows.get(row));
    }

    /** Runs of the direct row, which every run measures once: the number of completed runs. */
    int completedRuns() {
        return rows.containsKey(DIRECT) ? rows.get(DIRECT).size() : 0;
    }

    Spread spread(String row, Figure figure) {
        double[] v = rows.get(row).stream().mapToDouble(figure::of).sorted().toArray();
        if (v.length == 0) {
            return new Spread(Double.NaN, Double.NaN, Double.NaN);
        }
        double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        return new Spread(v[0], median, v[v.length - 1]);
    }

    double median(String row, Figure figure) {
        return spread(row, figure).median();
    }

    static final List<String> TABLE_HEADER = List.of("relay", "up Gbit/s", "down Gbit/s", "up / direct",
            "down / direct", "relay CPU-s/GiB up", "relay CPU-s/GiB down");

    /** The table's rows, formatted as printed, in the columns of {@link #TABLE_HEADER}. */
    List<List<String>> table() {
        double directUp = median(DIRECT, Figure.UP_GBPS);
        double directDown = median(DIRECT, Figure.DOWN_GBPS);
        List<List<String>> table = new ArrayList<>();
        for (String row : rows.keySet()) {
            boolean direct = row.equals(DIRECT);
            double up = median(row, Figure.UP_GBPS);
            double down = median(row, Figure.DOWN_GBPS);
            table.add(List.of(row, format("%.2f", up), format("%.2f", down), format("%.2f", up / directUp),
                    format("%.2f", down / directDown),
                    direct ? "-" : format("%.3f", median(row, Figure.UP_CPU)),
                    direct ? "-" : format("%.3f", median(row, Figure.DOWN_CPU))));
        }
        return table;
    }

    /** Each spliced or copying row against its stock relay: "X / STOCK: CPU per GiB ..., throughput ...". */
    List<String> comparisons() {
        List<String> lines = new ArrayList<>();
        for (String name : rows.keySet()) {
            List<String> stocks = name.startsWith("forward-epoll") ? List.of("forward-epoll-stock")
                    : name.startsWith("forward-nio") ? List.of("forward-nio-stock")
                    : name.startsWith("connect-") ? List.of("connect-stock-4k", "connect-stock-64k") : List.of();
            for (String stock : stocks) {
                if (name.equals(stock) || name.startsWith("connect-stock") || !rows.containsKey(stock)) {
                    continue;
                }
                lines.add(String.format(Locale.ROOT,
                        "%s / %s: CPU per GiB %.2f up, %.2f down; throughput %.2f up, %.2f down", name, stock,
                        ratio(name, stock, Figure.UP_CPU), ratio(name, stock, Figure.DOWN_CPU),
                        ratio(name, stock, Figure.UP_GBPS), ratio(name, stock, Figure.DOWN_GBPS)));
            }
        }
        return lines;
    }

    private double ratio(String row, String base, Figure figure) {
        return median(row, figure) / median(base, figure);
    }

    private static String format(String pattern, double value) {
        return String.format(Locale.ROOT, pattern, value);
    }
}
