package org.splice4j.samples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
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
 * {@code bench --streams N}: memory per active tunnel (issue 11). For each row, N bulk streams run through the relay
 * at once, first all up (client to target), then all down, each for {@code --time}; while they run, the relay's
 * resident memory and its pipes are sampled from {@code /proc} ({@link RelayFootprint}). What the streams add over
 * the idle relay, divided by N, is the figure: resident memory and its anonymous part (buffers are anonymous memory;
 * the file-backed rest is code) per stream, and the capacity of the pipes per stream (the kernel memory they can pin:
 * a pipe's pages are pinned only while bytes are in it). Throughput over all streams and relay CPU per GiB come with
 * it, so that a row cannot buy memory with speed unseen.
 *
 * <p>Each run of a row starts its relay afresh, relays one stream each way for a second (so that the JIT has compiled
 * the hot paths and its memory is in the idle figure, not in the streams'), lets it settle, reads the idle figures,
 * and then runs the streams. The built-in rows run in a child JVM with a fixed heap ({@code --heap}, default 256m,
 * as -Xms and -Xmx; it also caps direct memory at that), so that no row's figure is the garbage a larger heap lets
 * pile up before a collection.
 */
final class BenchStreams {

    private static final int CHUNK = 1 << 20;
    private static final double GIB = 1024.0 * 1024 * 1024;
    static final List<String> DEFAULT_ROWS = List.of("forward-nio-linux", "forward-nio-copy", "forward-nio-stock");
    /** The row the others are compared with: user-space buffers of 1 MiB per direction. */
    static final String COPY_ROW = "forward-nio-copy";
    private static final long SAMPLE_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long SETTLE_MILLIS = 1000;

    static final List<String> TABLE_HEADER = List.of("relay", "RSS KiB/stream", "RssAnon KiB/stream",
            "pipe KiB/stream", "pipes/stream", "idle RSS MiB", "idle RssAnon MiB", "Gbit/s up", "Gbit/s down",
            "CPU-s/GiB up", "CPU-s/GiB down");

    /** What the command line asked for. */
    record Options(int streams, long timeNanos, int runs, List<String> rows, Map<String, BenchRelay.External> proxies,
                   String heap) {

        List<String> allRows() {
            List<String> all = new ArrayList<>(rows);
            all.addAll(proxies.keySet());
            return all;
        }
    }

    /** One run of one row, as measured. */
    record Run(int streams, RelayFootprint.Snapshot idle, RelayFootprint.Snapshot upPeak,
               RelayFootprint.Snapshot downPeak, double upGbps, double downGbps, double upCpuPerGib,
               double downCpuPerGib) {

        /** The largest figures while the streams ran, either way. */
        RelayFootprint.Snapshot peak() {
            return upPeak.max(downPeak);
        }

        /** One line of what the run measured, each way on its own, for the progress log. */
        String detail(String row, int run) {
            return String.format(Locale.ROOT, "bench: %s run %d: idle RSS %.1f MiB (anon %.1f), %d pipes (%d KiB);"
                            + " streams up +%.1f MiB (anon +%.1f), +%d pipes (+%d KiB); down +%.1f MiB (anon +%.1f),"
                            + " +%d pipes (+%d KiB)", row, run, idle.rssKib() / 1024.0, idle.anonKib() / 1024.0,
                    idle.pipes(), idle.pipeBytes() >> 10, (upPeak.rssKib() - idle.rssKib()) / 1024.0,
                    (upPeak.anonKib() - idle.anonKib()) / 1024.0, upPeak.pipes() - idle.pipes(),
                    (upPeak.pipeBytes() - idle.pipeBytes()) >> 10, (downPeak.rssKib() - idle.rssKib()) / 1024.0,
                    (downPeak.anonKib() - idle.anonKib()) / 1024.0, downPeak.pipes() - idle.pipes(),
                    (downPeak.pipeBytes() - idle.pipeBytes()) >> 10);
        }

        double rssKibPerStream() {
            return (double) (peak().rssKib() - idle.rssKib()) / streams;
        }

        double anonKibPerStream() {
            return (double) (peak().anonKib() - idle.anonKib()) / streams;
        }

        double pipeKibPerStream() {
            return (peak().pipeBytes() - idle.pipeBytes()) / 1024.0 / streams;
        }

        double pipesPerStream() {
            return (double) (peak().pipes() - idle.pipes()) / streams;
        }
    }

    private BenchStreams() {
    }

    static void main(String[] args) throws Exception {
        Options o = parse(args);
        Map<String, List<Run>> results = run(o, new BenchProgress(o.runs(), o.allRows(), System.err,
                System.console() != null, System::nanoTime));
        print(o, results, System.out);
    }

    /** Parses the flags; a bad one prints the usage and exits with status 2 through {@link Main#usage}. */
    static Options parse(String[] args) {
        int streams = 64;
        long time = TimeUnit.SECONDS.toNanos(10);
        int runs = 3;
        String heap = "256m";
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
                    case "--streams" -> streams = Integer.parseInt(v.trim());
                    case "--time" -> time = Bench.parseNanos(v);
                    case "--runs" -> runs = Integer.parseInt(v.trim());
                    case "--heap" -> {
                        Bench.parseSize(v); // a size, or NumberFormatException
                        heap = v.trim();
                    }
                    case "--rows" -> rows = v.isBlank() ? List.of() : Arrays.asList(v.split(","));
                    case "--proxy" -> Bench.addProxy(proxies, v);
                    default -> Main.usage("unknown flag for bench --streams: " + flag);
                }
            } catch (NumberFormatException e) {
                Main.usage("bad value for " + flag + ": " + v);
            } catch (IllegalArgumentException e) {
                Main.usage(e.getMessage());
            }
        }
        if (streams < 1 || streams > 2000 || runs < 1 || runs > 20 || time < TimeUnit.MILLISECONDS.toNanos(500)
                || time > TimeUnit.MINUTES.toNanos(10)) {
            Main.usage("bench --streams needs --streams 1..2000, --runs 1..20 and --time 500ms..10m");
        }
        Bench.checkRows(rows);
        if (rows.isEmpty() && proxies.isEmpty()) {
            Main.usage("bench --streams: no rows");
        }
        return new Options(streams, time, runs, List.copyOf(rows), proxies, heap);
    }

    /** Every run of every row, round-robin so that a shared machine's drift hits the rows alike. */
    static Map<String, List<Run>> run(Options o, BenchProgress progress) throws Exception {
        Map<String, List<Run>> results = new LinkedHashMap<>();
        o.allRows().forEach(r -> results.put(r, new ArrayList<>()));
        List<String> jvm = List.of("-Xms" + o.heap(), "-Xmx" + o.heap());
        try (BenchTarget target = new BenchTarget(Math.max(64, o.streams()), BenchStreams::pumpFor)) {
            for (int run = 1; run <= o.runs(); run++) {
                for (String row : o.allRows()) {
                    progress.starting(run, row);
                    try (BenchRelay relay = o.proxies().containsKey(row)
                            ? BenchRelay.external(o.proxies().get(row), target.address(), progress)
                            : BenchRelay.sample(row, Bench.ROWS.get(row), target.address(), progress, jvm)) {
                        Run r = measure(o, relay);
                        results.get(row).add(r);
                        progress.childLine(r.detail(row, run));
                    }
                    progress.finished();
                }
            }
        }
        progress.allDone();
        return results;
    }

    private static Run measure(Options o, BenchRelay relay) throws Exception {
        long warmUp = Math.min(o.timeNanos(), TimeUnit.SECONDS.toNanos(1));
        streams(relay, 1, warmUp, true, null);
        streams(relay, 1, warmUp, false, null);
        Thread.sleep(SETTLE_MILLIS); // the relay's loops go idle; nothing to wait on from out here
        RelayFootprint.Snapshot idle = RelayFootprint.read(relay.pids());
        RelayFootprint.Snapshot[] upPeak = {idle};
        RelayFootprint.Snapshot[] downPeak = {idle};
        double cpu0 = relay.cpuSeconds();
        Moved up = streams(relay, o.streams(), o.timeNanos(), true, upPeak);
        double cpu1 = relay.cpuSeconds();
        Moved down = streams(relay, o.streams(), o.timeNanos(), false, downPeak);
        double cpu2 = relay.cpuSeconds();
        return new Run(o.streams(), idle, upPeak[0], downPeak[0], up.gbps(), down.gbps(),
                (cpu1 - cpu0) / (up.bytes() / GIB), (cpu2 - cpu1) / (down.bytes() / GIB));
    }

    /** What one direction's streams moved, and the seconds from the first connection to the last stream's end. */
    private record Moved(long bytes, double seconds) {
        double gbps() {
            return bytes * 8 / seconds / 1e9;
        }
    }

    /**
     * Runs {@code n} streams at once one way through the relay, each for {@code nanos}; returns the bytes the
     * receivers got. With {@code peak} given, samples the relay's footprint every 500 ms after the first 2 s (or
     * half the time, if shorter) and keeps the largest figures there.
     */
    private static Moved streams(BenchRelay relay, int n, long nanos, boolean up,
            RelayFootprint.Snapshot[] peak) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n, r -> {
            Thread t = new Thread(r, "bench-stream");
            t.setDaemon(true);
            return t;
        });
        try {
            long start = System.nanoTime();
            List<Future<Long>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                futures.add(pool.submit(() -> stream(relay.via, nanos, up)));
            }
            if (peak != null) {
                long next = start + Math.min(TimeUnit.SECONDS.toNanos(2), nanos / 2);
                while (!futures.stream().allMatch(Future::isDone)) {
                    long wait = next - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(wait) + 1); // sampling at a pace, not waiting
                        continue;
                    }
                    if (System.nanoTime() - start < nanos) { // the streams still all run
                        peak[0] = peak[0].max(RelayFootprint.read(relay.pids()));
                    }
                    next += SAMPLE_EVERY_NANOS;
                }
            }
            long total = 0;
            long bound = nanos + TimeUnit.SECONDS.toNanos(60);
            for (Future<Long> f : futures) {
                total += f.get(Math.max(1, bound - (System.nanoTime() - start)), TimeUnit.NANOSECONDS);
            }
            return new Moved(total, (System.nanoTime() - start) / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One stream through {@code via}: 1 MiB writes until {@code nanos} passed, by the client (up) or the target. */
    private static long stream(Bench.Via via, long nanos, boolean up) throws IOException {
        try (SocketChannel c = SocketChannel.open(via.address())) {
            if (via.connectTo() != null) {
                Bench.connect(c, via.connectTo());
            }
            ByteBuffer header = ByteBuffer.allocate(9).put((byte) (up ? 'U' : 'D')).putLong(nanos).flip();
            while (header.hasRemaining()) {
                c.write(header);
            }
            if (up) {
                pumpFor(c, nanos);
                c.shutdownOutput();
                ByteBuffer ack = ByteBuffer.allocate(8);
                while (ack.hasRemaining()) {
                    if (c.read(ack) < 0) {
                        throw new IOException("target closed before acknowledging");
                    }
                }
                return ack.flip().getLong();
            }
            return Bench.drain(c);
        }
    }

    /**
     * The bytes every sender writes: one direct buffer shared by all senders, each through its own view, so that
     * 2,000 streams do not need 2 GiB of buffers in this process. Nobody reads what it holds.
     */
    private static final ByteBuffer SOURCE = ByteBuffer.allocateDirect(CHUNK);

    private static void pumpFor(SocketChannel c, long nanos) throws IOException {
        ByteBuffer buf = SOURCE.duplicate();
        long start = System.nanoTime();
        while (System.nanoTime() - start < nanos) {
            buf.clear();
            while (buf.hasRemaining()) {
                c.write(buf);
            }
        }
    }


    /** The table's rows: medians over the runs, formatted. */
    static List<List<String>> table(Map<String, List<Run>> results) {
        List<List<String>> table = new ArrayList<>();
        for (Map.Entry<String, List<Run>> e : results.entrySet()) {
            List<Run> runs = e.getValue();
            if (runs.isEmpty()) {
                continue;
            }
            table.add(List.of(e.getKey(), f0(median(runs, Run::rssKibPerStream)),
                    f0(median(runs, Run::anonKibPerStream)),
                    RelayFootprint.readsPipeCapacity() ? f0(median(runs, Run::pipeKibPerStream)) : "-",
                    f2(median(runs, Run::pipesPerStream)), f1(median(runs, r -> r.idle().rssKib() / 1024.0)),
                    f1(median(runs, r -> r.idle().anonKib() / 1024.0)), f2(median(runs, Run::upGbps)),
                    f2(median(runs, Run::downGbps)), f3(median(runs, Run::upCpuPerGib)),
                    f3(median(runs, Run::downCpuPerGib))));
        }
        return table;
    }

    /** The table, the comparisons with the copy row and what that row is expected to hold. */
    static void print(Options o, Map<String, List<Run>> results, PrintStream out) {
        out.printf(Locale.ROOT, "bench --streams: %d streams at once, up then down, %.1f s each way, %d run(s);"
                        + " built-in rows in a child JVM with -Xms%s -Xmx%s%n", o.streams(), o.timeNanos() / 1e9,
                o.runs(), o.heap(), o.heap());
        out.println();
        out.println("| " + String.join(" | ", TABLE_HEADER) + " |");
        out.println("|---".repeat(TABLE_HEADER.size()) + "|");
        for (List<String> row : table(results)) {
            out.println("| " + String.join(" | ", row) + " |");
        }
        out.println();
        List<Run> copy = results.getOrDefault(COPY_ROW, List.of());
        if (!copy.isEmpty()) {
            double copyAnon = median(copy, Run::anonKibPerStream);
            double copyRss = median(copy, Run::rssKibPerStream);
            for (Map.Entry<String, List<Run>> e : results.entrySet()) {
                if (e.getKey().equals(COPY_ROW) || e.getValue().isEmpty()) {
                    continue;
                }
                double anon = median(e.getValue(), Run::anonKibPerStream);
                out.printf(Locale.ROOT, "%s / %s: user-space memory per stream %s (RssAnon), %s (RSS)%n", e.getKey(),
                        COPY_ROW, ratio(anon, copyAnon), ratio(median(e.getValue(), Run::rssKibPerStream), copyRss));
            }
            out.printf(Locale.ROOT, "%s: a direction holds one %d KiB buffer only while its destination has not"
                            + " taken what was read; one written out at once goes back to the loop's pool (16 kept)"
                            + " for the next read of any session. So at most %d buffers at once here (%d MiB, %d KiB"
                            + " per stream), and as few as one when every destination keeps up%n", COPY_ROW,
                    copyBufferSize() >> 10, o.streams(), o.streams() * copyBufferSize() >> 20,
                    copyBufferSize() >> 10);
        }
        out.println("(medians of each row's runs; per stream: the relay's peak while the streams ran minus its idle"
                + " figure, divided by the streams; pipe KiB is capacity, the most the pipes can pin)");
    }

    private static long copyBufferSize() {
        try {
            return Bench.parseSize(System.getProperty("splice4j.copyBufferSize", "1m"));
        } catch (NumberFormatException e) {
            return 1 << 20;
        }
    }

    private static String ratio(double x, double base) {
        return base <= 0 ? "-" : String.format(Locale.ROOT, "%.3f", x / base);
    }

    static double median(List<Run> runs, ToDoubleFunction<Run> figure) {
        double[] v = runs.stream().mapToDouble(figure).sorted().toArray();
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }

    private static String f0(double v) {
        return String.format(Locale.ROOT, "%.0f", v);
    }

    private static String f1(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String f2(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String f3(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }
}
