package org.splice4j.samples;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * {@code bench --http}: HTTP/1.1 bodies over kept-alive connections through reverse proxies to one origin (issue 13).
 * Each row is a proxy in front of the bench's {@link BenchHttpOrigin}; {@code --connections} {@link BenchHttpClient}s GET
 * {@code --body}-sized bodies one after the other on their connection for {@code --time} (after {@code --warmup}),
 * every body checked. Per row: requests per second, throughput, the proxy's CPU seconds per GiB of bodies, the
 * connections the clients and the proxy opened (a proxy that closes after each body makes one per request), and the
 * failed requests. The built-in rows are the two samples in front of the origin, spliced and stock; {@code --proxy}
 * adds any other (HAProxy in {@code mode http} with {@code option splice-response}).
 */
final class BenchHttp {

    private static final double GIB = 1024.0 * 1024 * 1024;

    /** The rows: the samples as reverse proxies; {@code {target}} is replaced by the origin's address. */
    static final Map<String, List<String>> ROWS = new LinkedHashMap<>();

    static {
        ROWS.put("http-jetty-stock", List.of("-Dsplice4j.enabled=false", "jetty-proxy", "--target", "{target}"));
        ROWS.put("http-jetty-linux", List.of("-Dsplice4j.enabled=true", "-Dsplice4j.provider=linux", "jetty-proxy",
                "--target", "{target}"));
        ROWS.put("http-netty-stock", List.of("-Dsplice4j.enabled=false", "http-proxy", "--target", "{target}"));
        ROWS.put("http-netty-linux", List.of("-Dsplice4j.enabled=true", "-Dsplice4j.provider=linux", "http-proxy",
                "--target", "{target}"));
    }

    /** The row the others are compared with: Jetty's stock {@code ProxyServlet} path. */
    static final String STOCK_ROW = "http-jetty-stock";

    static final List<String> TABLE_HEADER = List.of("relay", "req/s", "Gbit/s", "CPU-s/GiB",
            "client conns opened", "origin conns opened", "failed");

    record Options(long bodySize, int connections, long timeNanos, long warmupNanos, int runs, List<String> rows,
                   Map<String, BenchRelay.External> proxies) {

        List<String> allRows() {
            List<String> all = new ArrayList<>(rows);
            all.addAll(proxies.keySet());
            return all;
        }
    }

    /** One measured run of one row. */
    record Run(long requests, long bytes, double seconds, double cpuSeconds, long clientConnections,
               long originConnections, long failed, String lastError) {

        double requestsPerSecond() {
            return requests / seconds;
        }

        double gbps() {
            return bytes * 8 / seconds / 1e9;
        }

        double cpuPerGib() {
            return bytes == 0 ? Double.NaN : cpuSeconds / (bytes / GIB);
        }
    }

    private BenchHttp() {
    }

    static void main(String[] args) throws Exception {
        Options o = parse(args);
        Map<String, List<Run>> results = run(o, new BenchProgress(o.runs(), o.allRows(), System.err,
                System.console() != null, System::nanoTime));
        print(o, results, System.out);
        boolean failed = results.values().stream().flatMap(List::stream).anyMatch(r -> r.failed() > 0);
        if (failed) {
            System.exit(1); // a wrong or missing body is a failed bench, not a figure
        }
    }

    static Options parse(String[] args) {
        long body = 4L << 20;
        int connections = 10;
        long time = TimeUnit.SECONDS.toNanos(15);
        long warmup = TimeUnit.SECONDS.toNanos(30);
        int runs = 3;
        List<String> rows = new ArrayList<>(ROWS.keySet());
        Map<String, BenchRelay.External> proxies = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (flag.equals("--http")) {
                continue; // the mode itself
            }
            if (i + 1 >= args.length) {
                Main.usage(flag + " needs a value");
            }
            String v = args[++i];
            try {
                switch (flag) {
                    case "--body" -> body = Bench.parseSize(v);
                    case "--connections" -> connections = Integer.parseInt(v.trim());
                    case "--time" -> time = Bench.parseNanos(v);
                    case "--warmup" -> warmup = Bench.parseNanos(v);
                    case "--runs" -> runs = Integer.parseInt(v.trim());
                    case "--rows" -> rows = v.isBlank() ? List.of() : Arrays.asList(v.split(","));
                    case "--proxy" -> Bench.addProxy(proxies, v);
                    default -> Main.usage("unknown flag for bench --http: " + flag);
                }
            } catch (NumberFormatException e) {
                Main.usage("bad value for " + flag + ": " + v);
            } catch (IllegalArgumentException e) {
                Main.usage(e.getMessage());
            }
        }
        if (body < 1 || body > (1L << 30) || connections < 1 || connections > 1000 || runs < 1 || runs > 20
                || time < TimeUnit.MILLISECONDS.toNanos(500) || time > TimeUnit.MINUTES.toNanos(10) || warmup < 0
                || warmup > TimeUnit.MINUTES.toNanos(1)) {
            Main.usage("bench --http needs --body 1..1g, --connections 1..1000, --runs 1..20, --time 500ms..10m"
                    + " and --warmup 0..1m");
        }
        Bench.checkRows(rows, ROWS);
        if (rows.isEmpty() && proxies.isEmpty()) {
            Main.usage("bench --http: no rows");
        }
        return new Options(body, connections, time, warmup, runs, List.copyOf(rows), proxies);
    }

    /** Every run of every row, round-robin so that a shared machine's drift hits the rows alike. */
    static Map<String, List<Run>> run(Options o, BenchProgress progress) throws Exception {
        Map<String, List<Run>> results = new LinkedHashMap<>();
        o.allRows().forEach(r -> results.put(r, new ArrayList<>()));
        try (BenchHttpOrigin origin = new BenchHttpOrigin((int) o.bodySize(), Math.max(64, o.connections()))) {
            for (int run = 1; run <= o.runs(); run++) {
                for (String row : o.allRows()) {
                    progress.starting(run, row);
                    try (BenchRelay relay = o.proxies().containsKey(row)
                            ? BenchRelay.external(o.proxies().get(row), origin.address(), progress)
                            : BenchRelay.sample(row, ROWS.get(row), origin.address(), progress)) {
                        Run r = measure(o, relay, origin);
                        results.get(row).add(r);
                        progress.childLine(String.format(Locale.ROOT, "bench: %s run %d: %.1f req/s, %.3f"
                                        + " CPU-s/GiB, %d client and %d origin connections, %d failed%s", row, run,
                                r.requestsPerSecond(), r.cpuPerGib(), r.clientConnections(), r.originConnections(),
                                r.failed(), r.lastError() == null ? "" : " (last: " + r.lastError() + ")"));
                    }
                    progress.finished();
                }
            }
        }
        progress.allDone();
        return results;
    }

    private static Run measure(Options o, BenchRelay relay, BenchHttpOrigin origin) throws Exception {
        String host = "127.0.0.1:" + origin.address().getPort();
        List<BenchHttpClient> clients = new ArrayList<>();
        for (int i = 0; i < o.connections(); i++) {
            clients.add(new BenchHttpClient(relay.via.address(), "/body", host, origin.bodyCrc()));
        }
        ExecutorService pool = Executors.newFixedThreadPool(o.connections(), r -> {
            Thread t = new Thread(r, "bench-http-client");
            t.setDaemon(true);
            return t;
        });
        try {
            drive(pool, clients, o.warmupNanos()); // the JIT compiles the proxy's paths; not counted
            long[] before = new long[4];
            for (BenchHttpClient c : clients) {
                before[0] += c.requests;
                before[1] += c.bodyBytes;
                before[2] += c.connections;
                before[3] += c.errors;
            }
            long origin0 = origin.connections();
            double cpu0 = relay.cpuSeconds();
            long start = System.nanoTime();
            drive(pool, clients, o.timeNanos());
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpu = relay.cpuSeconds() - cpu0;
            long requests = -before[0];
            long bytes = -before[1];
            long connections = -before[2];
            long failed = -before[3];
            String lastError = null;
            for (BenchHttpClient c : clients) {
                requests += c.requests;
                bytes += c.bodyBytes;
                connections += c.connections;
                failed += c.errors;
                lastError = c.lastError != null ? c.lastError : lastError;
            }
            return new Run(requests, bytes, seconds, cpu, connections, origin.connections() - origin0, failed,
                    lastError);
        } finally {
            clients.forEach(BenchHttpClient::close);
            pool.shutdownNow();
        }
    }

    /** Every client GETs one body after the other until {@code nanos} passed (each finishes the body it is on). */
    private static void drive(ExecutorService pool, List<BenchHttpClient> clients, long nanos) throws Exception {
        long start = System.nanoTime();
        List<Future<?>> running = new ArrayList<>();
        for (BenchHttpClient c : clients) {
            running.add(pool.submit(() -> {
                while (System.nanoTime() - start < nanos) {
                    if (!c.get() && c.errors > 1000) {
                        return; // a row that fails every request: enough said
                    }
                }
            }));
        }
        for (Future<?> f : running) {
            f.get(nanos + TimeUnit.SECONDS.toNanos(60), TimeUnit.NANOSECONDS);
        }
    }

    static List<List<String>> table(Map<String, List<Run>> results) {
        List<List<String>> table = new ArrayList<>();
        for (Map.Entry<String, List<Run>> e : results.entrySet()) {
            List<Run> runs = e.getValue();
            if (runs.isEmpty()) {
                continue;
            }
            table.add(List.of(e.getKey(), f(median(runs, Run::requestsPerSecond), 1), f(median(runs, Run::gbps), 2),
                    f(median(runs, Run::cpuPerGib), 3), f(median(runs, r -> r.clientConnections()), 0),
                    f(median(runs, r -> r.originConnections()), 0), Long.toString(
                            runs.stream().mapToLong(Run::failed).sum())));
        }
        return table;
    }

    static void print(Options o, Map<String, List<Run>> results, PrintStream out) {
        out.printf(Locale.ROOT, "bench --http: %d kept-alive connections GET %d-byte bodies through each reverse"
                        + " proxy for %.1f s (after %.1f s of warm-up), %d run(s)%n", o.connections(), o.bodySize(),
                o.timeNanos() / 1e9, o.warmupNanos() / 1e9, o.runs());
        out.println();
        out.println("| " + String.join(" | ", TABLE_HEADER) + " |");
        out.println("|---".repeat(TABLE_HEADER.size()) + "|");
        for (List<String> row : table(results)) {
            out.println("| " + String.join(" | ", row) + " |");
        }
        out.println();
        List<Run> stock = results.getOrDefault(STOCK_ROW, List.of());
        if (!stock.isEmpty()) {
            double cpu = median(stock, Run::cpuPerGib);
            double rps = median(stock, Run::requestsPerSecond);
            for (Map.Entry<String, List<Run>> e : results.entrySet()) {
                if (e.getKey().equals(STOCK_ROW) || e.getValue().isEmpty()) {
                    continue;
                }
                out.printf(Locale.ROOT, "%s / %s: CPU per GiB %s, requests per second %s%n", e.getKey(), STOCK_ROW,
                        ratio(median(e.getValue(), Run::cpuPerGib), cpu),
                        ratio(median(e.getValue(), Run::requestsPerSecond), rps));
            }
        }
        out.println("(medians of each row's runs; CPU is the proxy's processes only; conns: connections opened"
                + " per run, by the clients to the proxy and by the proxy to the origin; failed: wrong, short or"
                + " refused responses, summed over the runs)");
    }

    private static String ratio(double x, double base) {
        return base <= 0 || Double.isNaN(base) ? "-" : String.format(Locale.ROOT, "%.3f", x / base);
    }

    static double median(List<Run> runs, ToDoubleFunction<Run> figure) {
        double[] v = runs.stream().mapToDouble(figure).sorted().toArray();
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }

    private static String f(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
