package org.splice4j.samples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * {@code bench --tunnels N --rate R}: many slow tunnels instead of a few fast ones (issue 11). N tunnels through the
 * relay each carry R bytes per second each way, paced in ticks of 50 ms ({@link TunnelSchedule}), every byte checked
 * ({@link TunnelPattern}); one more tunnel does a 64-byte ping-pong ({@link PingPongTunnel}). The load generator
 * and the target are this process ({@link TunnelLoad}: two selector threads for all the bulk tunnels), the relay a
 * process of its own ({@link BenchRelay}), so that its CPU is its own.
 *
 * <p>Per row and run: the rate achieved per tunnel and direction as a fraction of R (a run under {@value #VALID}
 * is VOID: the generator or the relay fell behind, and its other figures say nothing), the slowest tunnel's, relay
 * CPU seconds per GiB relayed (both directions), the ping-pong's p50 and p99, this process's CPU (what the
 * generator cost), and errors. Bytes that did not match or tunnels that broke make the bench fail (exit status 1)
 * after the table. Rows run round-robin per run, as in {@link Bench}, and the direct row (the same load without a
 * relay) first, as the ceiling.
 */
final class BenchTunnels {

    static final double VALID = 0.95;
    private static final double GIB = 1024.0 * 1024 * 1024;
    private static final List<String> DEFAULT_ROWS = List.of("forward-nio-linux", "forward-nio-stock");

    /** One row's run; {@code failure} non-null when it could not be measured at all. */
    record Run(String row, int run, double rate, double slowest, double cpuPerGiB, double p50, double p99,
               long roundTrips, double benchCpu, double hostBusy, long wrongBytes, long broken, String failure) {

        static Run failed(String row, int run, String why) {
            double nan = Double.NaN;
            return new Run(row, run, nan, nan, nan, nan, nan, 0, nan, nan, 0, 0, why);
        }

        boolean valid() {
            return failure == null && rate >= VALID && errors() == 0;
        }

        long errors() {
            return wrongBytes + broken;
        }
    }

    /** The flags, checked. */
    record Setup(int tunnels, long rate, long timeNanos, long warmupNanos, int runs, List<String> rows,
                 Map<String, BenchRelay.External> proxies) {
    }

    private BenchTunnels() {
    }

    static void main(String[] args) throws Exception {
        if (!run(parse(args), System.out, System.err)) {
            System.exit(1);
        }
    }

    static Setup parse(String[] args) {
        int tunnels = 1000;
        long rate = 100 * 1024;
        long time = TimeUnit.SECONDS.toNanos(20);
        long warmup = TimeUnit.SECONDS.toNanos(5);
        int runs = 3;
        List<String> rows = DEFAULT_ROWS;
        Map<String, BenchRelay.External> proxies = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) {
                Main.usage(flag + " needs a value");
            }
            String v = args[++i];
            try {
                switch (flag) {
                    case "--tunnels" -> tunnels = Integer.parseInt(v);
                    case "--rate" -> rate = Bench.parseSize(v);
                    case "--time" -> time = Bench.parseNanos(v);
                    case "--warmup" -> warmup = Bench.parseNanos(v);
                    case "--runs" -> runs = Integer.parseInt(v);
                    case "--rows" -> rows = v.isEmpty() ? List.of() : Arrays.asList(v.split(","));
                    case "--proxy" -> Bench.addProxy(proxies, v);
                    default -> Main.usage("unknown flag for bench --tunnels: " + flag);
                }
            } catch (NumberFormatException e) {
                Main.usage("bad value for " + flag + ": " + v);
            } catch (IllegalArgumentException e) {
                Main.usage(e.getMessage());
            }
        }
        // Two descriptors per tunnel here, two to six in the relay: 8000 stays under a hard limit of 20,000 here.
        if (tunnels < 1 || tunnels > 8000 || rate < 1024 || rate > (100L << 20) || runs < 1 || runs > 20
                || time < TimeUnit.SECONDS.toNanos(1) || time > TimeUnit.HOURS.toNanos(1)
                || warmup > TimeUnit.MINUTES.toNanos(10)) {
            Main.usage("bench --tunnels needs --tunnels 1..8000, --rate 1k..100m, --runs 1..20, --time 1s..60m"
                    + " and --warmup 0..10m");
        }
        Bench.checkRows(rows);
        return new Setup(tunnels, rate, time, warmup, runs, List.copyOf(rows), proxies);
    }

    /** Runs the bench; the table goes to {@code out}, progress to {@code err}. False when anything went wrong. */
    static boolean run(Setup setup, PrintStream out, PrintStream err) throws InterruptedException {
        List<String> rows = new ArrayList<>();
        rows.add(BenchResults.DIRECT);
        rows.addAll(setup.rows());
        rows.addAll(setup.proxies().keySet());
        BenchProgress progress = new BenchProgress(setup.runs(), rows, err, System.console() != null,
                System::nanoTime);
        out.printf(Locale.ROOT, "bench --tunnels: %d tunnels at %s each way (%.1f MiB/s in all), %s measured after"
                        + " %s warm-up, %d run(s); relay in its own process%n", setup.tunnels(),
                perSecond(setup.rate()), 2.0 * setup.tunnels() * setup.rate() / (1 << 20),
                BenchProgress.duration(setup.timeNanos()), BenchProgress.duration(setup.warmupNanos()),
                setup.runs());
        madeOnFirstUse();
        List<Run> results = new ArrayList<>();
        for (int run = 1; run <= setup.runs(); run++) {
            // Round-robin, so slow drift of a shared machine hits every row alike.
            for (String row : rows) {
                progress.starting(run, row);
                Set<String> fds = descriptors();
                Run r;
                try {
                    r = measure(setup, row, run, progress);
                } catch (IOException e) {
                    r = Run.failed(row, run, e.getMessage());
                }
                Set<String> leaked = descriptors();
                leaked.removeAll(fds);
                if (!leaked.isEmpty() && r.failure() == null) {
                    r = Run.failed(row, run, "descriptors of the run still open after it: " + leaked);
                }
                if (r.failure() != null) {
                    progress.childLine("bench: " + row + " run " + run + " failed: " + r.failure());
                }
                results.add(r);
                progress.finished();
            }
        }
        progress.allDone();
        print(out, rows, setup, results);
        boolean ok = true;
        for (Run r : results) {
            if (r.failure() != null || r.errors() > 0) {
                err.println("bench: FAILED: " + r.row() + " run " + r.run() + ": "
                        + (r.failure() != null ? r.failure() : r.wrongBytes() + " bytes did not match, "
                        + r.broken() + " tunnel(s) broke"));
                ok = false;
            }
        }
        return ok;
    }

    private static Run measure(Setup setup, String row, int run, BenchProgress progress)
            throws IOException, InterruptedException {
        try (TunnelLoad load = new TunnelLoad(setup.tunnels())) {
            BenchRelay relay = null;
            try {
                if (!row.equals(BenchResults.DIRECT)) {
                    relay = setup.proxies().containsKey(row)
                            ? BenchRelay.external(setup.proxies().get(row), load.target(), progress)
                            : BenchRelay.sample(row, Bench.ROWS.get(row), load.target(), progress);
                }
                Bench.Via via = relay == null ? new Bench.Via(load.target(), null) : relay.via;
                // Bounded: 30 s and 20 ms a tunnel (50 s for 1000), whatever the relay does.
                load.open(via, System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
                        + TimeUnit.MILLISECONDS.toNanos(20) * setup.tunnels());
                load.start(setup.rate());
                pause(load, setup.warmupNanos());
                TunnelLoad.Snapshot s0 = load.snapshot();
                double cpu0 = relay == null ? 0 : relay.cpuSeconds();
                double own0 = ownCpuSeconds();
                double host0 = hostBusySeconds();
                load.pingTimes().reset();
                pause(load, setup.timeNanos());
                TunnelLoad.Snapshot s1 = load.snapshot();
                double cpu1 = relay == null ? 0 : relay.cpuSeconds();
                double own1 = ownCpuSeconds();
                double host1 = hostBusySeconds();
                LatencyHistogram ping = load.pingTimes();
                double p50 = ping.percentile(0.50);
                double p99 = ping.percentile(0.99);
                long roundTrips = ping.count();
                load.stop();
                double seconds = (s1.nanos() - s0.nanos()) / 1e9;
                long bytes = s1.total() - s0.total();
                double rate = bytes / (2.0 * setup.tunnels() * setup.rate() * seconds);
                double slowest = Math.min(slowest(s0.up(), s1.up()), slowest(s0.down(), s1.down()))
                        / (setup.rate() * seconds);
                double cpuPerGiB = relay == null ? Double.NaN : (cpu1 - cpu0) / (bytes / GIB);
                TunnelFailures f = load.failures();
                if (f.any()) {
                    progress.childLine("bench: " + row + " run " + run + ": " + f.summary());
                }
                return new Run(row, run, rate, slowest, cpuPerGiB, p50, p99, roundTrips,
                        (own1 - own0) / seconds, (host1 - host0) / seconds, f.wrongBytes(), f.broken(), null);
            } finally {
                load.stop(); // first: the relay's end must not be taken for broken tunnels
                if (relay != null) {
                    relay.close();
                }
            }
        }
    }

    /**
     * Makes the JDK's pre-close socket now: the one socket it keeps for good, made on the first close of a channel a
     * thread blocks on (JDK 17's FileDispatcherImpl, UnixDispatcher from JDK 21 on). Made in the first run, it would
     * be taken for that run's leak.
     */
    private static void madeOnFirstUse() {
        for (String name : List.of("sun.nio.ch.FileDispatcherImpl", "sun.nio.ch.UnixDispatcher")) {
            try {
                Class.forName(name, true, null);
            } catch (ClassNotFoundException | LinkageError e) {
                // Not this JDK's: a first-run leak report names whatever another JDK makes instead.
            }
        }
    }

    /**
     * Waits {@code nanos}, or less once a tunnel broke (the relay died, say: nothing more to measure). Wrong bytes
     * do not end the run, so that all of them are counted.
     */
    private static void pause(TunnelLoad load, long nanos) throws InterruptedException {
        long end = System.nanoTime() + nanos;
        for (long left; (left = end - System.nanoTime()) > 0 && load.failures().broken() == 0; ) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
    }

    private static long slowest(long[] before, long[] after) {
        long min = Long.MAX_VALUE;
        for (int i = 0; i < before.length; i++) {
            min = Math.min(min, after[i] - before[i]);
        }
        return min;
    }

    /** User + system CPU seconds of this process, all threads (the load generator, the target, the JIT, GC). */
    static double ownCpuSeconds() throws IOException {
        String stat = Files.readAllLines(Path.of("/proc/self/stat")).get(0);
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // USER_HZ, as in BenchRelay
    }

    /**
     * CPU seconds the whole machine was busy (every state but idle and iowait, all cores, from /proc/stat): the
     * interrupt and softirq time of loopback TCP is in here and in neither process's own, so a run whose rate fell
     * short while this is at the core count ran out of machine, not of relay.
     */
    static double hostBusySeconds() throws IOException {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
        long busy = 0;
        for (int i = 1; i < f.length && i <= 8; i++) { // user nice system idle iowait irq softirq steal
            busy += i == 4 || i == 5 ? 0 : Long.parseLong(f[i]);
        }
        return busy / 100.0; // USER_HZ
    }

    /** This process's open descriptors as "FD -> what" (socket:[INODE], pipe:[INODE], a path); none without /proc. */
    static Set<String> descriptors() {
        Set<String> fds = new TreeSet<>();
        // The listing's own descriptor shows as this directory, under whatever number was free: not the run's.
        Path listing = Path.of("/proc/" + ProcessHandle.current().pid() + "/fd");
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            s.forEach(fd -> {
                try {
                    Path what = Files.readSymbolicLink(fd);
                    if (!what.equals(listing)) {
                        fds.add(fd.getFileName() + " -> " + what);
                    }
                } catch (IOException e) {
                    // closed between listing and reading
                }
            });
        } catch (IOException e) {
            return fds;
        }
        return fds;
    }

    private static String perSecond(long rate) {
        return rate % (1 << 20) == 0 ? rate / (1 << 20) + " MiB/s"
                : rate % 1024 == 0 ? rate / 1024 + " KiB/s" : rate + " B/s";
    }

    static final List<String> HEADER = List.of("relay", "valid runs", "rate / target", "slowest tunnel / target",
            "relay CPU-s/GiB", "ping p50 us", "ping p99 us", "bench CPU-s/s", "host busy cores", "errors");
    static final List<String> RUN_HEADER = List.of("run", "relay", "rate / target", "slowest tunnel / target",
            "relay CPU-s/GiB", "ping p50 us", "ping p99 us", "round trips", "bench CPU-s/s", "host busy cores", "errors",
            "verdict");

    static void print(PrintStream out, List<String> rows, Setup setup, List<Run> results) {
        out.println();
        line(out, HEADER);
        out.println("|---".repeat(HEADER.size()) + "|");
        for (String row : rows) {
            List<Run> all = results.stream().filter(r -> r.row().equals(row)).toList();
            List<Run> measured = all.stream().filter(r -> r.failure() == null).toList();
            List<Run> valid = all.stream().filter(Run::valid).toList();
            long errors = all.stream().mapToLong(Run::errors).sum();
            boolean direct = row.equals(BenchResults.DIRECT);
            line(out, List.of(row, valid.size() + "/" + all.size(), spread(measured, Run::rate, "%.3f"),
                    spread(valid, Run::slowest, "%.3f"), direct ? "-" : spread(valid, Run::cpuPerGiB, "%.3f"),
                    spread(valid, Run::p50, "%.0f"), spread(valid, Run::p99, "%.0f"),
                    spread(measured, Run::benchCpu, "%.2f"), spread(measured, Run::hostBusy, "%.2f"),
                    Long.toString(errors)));
        }
        out.println();
        line(out, RUN_HEADER);
        out.println("|---".repeat(RUN_HEADER.size()) + "|");
        for (Run r : results) {
            boolean direct = r.row().equals(BenchResults.DIRECT);
            String verdict = r.failure() != null ? "FAILED: " + r.failure()
                    : r.errors() > 0 ? "ERRORS: " + r.wrongBytes() + " bytes wrong, " + r.broken() + " broken"
                    : r.valid() ? "valid" : "VOID";
            line(out, List.of(Integer.toString(r.run()), r.row(), fmt("%.3f", r.rate()), fmt("%.3f", r.slowest()),
                    direct ? "-" : fmt("%.3f", r.cpuPerGiB()), fmt("%.0f", r.p50()), fmt("%.0f", r.p99()),
                    Long.toString(r.roundTrips()), fmt("%.2f", r.benchCpu()), fmt("%.2f", r.hostBusy()),
                    Long.toString(r.errors()),
                    verdict));
        }
        out.println();
        comparisons(rows, setup, results).forEach(out::println);
        out.printf(Locale.ROOT, "(medians of the valid runs, smallest..largest in brackets; a run under %.0f %% of"
                + " the target rate is VOID; CPU is the relay process's own, over the measured time)%n", VALID * 100);
    }

    /**
     * Each relay row's CPU per GiB and ping p99 over the reference row's: the first {@code --proxy} row (the one to
     * beat, HAProxy in the README), else the first relay row.
     */
    static List<String> comparisons(List<String> rows, Setup setup, List<Run> results) {
        List<String> relays = rows.stream().filter(r -> !r.equals(BenchResults.DIRECT)).toList();
        if (relays.size() < 2) {
            return List.of();
        }
        String base = setup.proxies().isEmpty() ? relays.get(0) : setup.proxies().keySet().iterator().next();
        double baseCpu = median(valid(results, base), Run::cpuPerGiB);
        double baseP99 = median(valid(results, base), Run::p99);
        List<String> lines = new ArrayList<>();
        for (String row : relays) {
            if (!row.equals(base)) {
                List<Run> v = valid(results, row);
                lines.add(String.format(Locale.ROOT, "%s / %s: relay CPU per GiB %s, ping p99 %s", row, base,
                        ratio(median(v, Run::cpuPerGiB), baseCpu), ratio(median(v, Run::p99), baseP99)));
            }
        }
        return lines;
    }

    private static List<Run> valid(List<Run> results, String row) {
        return results.stream().filter(r -> r.row().equals(row) && r.valid()).toList();
    }

    private static String ratio(double a, double b) {
        return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "VOID" : String.format(Locale.ROOT, "%.2f", a / b);
    }

    private static void line(PrintStream out, List<String> cells) {
        out.println("| " + String.join(" | ", cells) + " |");
    }

    /** Median (smallest..largest), the median alone for one run, VOID for none. */
    static String spread(List<Run> runs, ToDoubleFunction<Run> figure, String format) {
        if (runs.isEmpty()) {
            return "VOID";
        }
        double[] v = runs.stream().mapToDouble(figure).sorted().toArray();
        String median = fmt(format, median(runs, figure));
        return v.length == 1 ? median : median + " (" + fmt(format, v[0]) + ".." + fmt(format, v[v.length - 1]) + ")";
    }

    static double median(List<Run> runs, ToDoubleFunction<Run> figure) {
        double[] v = runs.stream().mapToDouble(figure).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static String fmt(String format, double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, format, v);
    }
}
