package org.splice4j.samples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Relay throughput and relay CPU per GiB on loopback, one row per way of relaying: the Netty {@code forward} sample
 * with splicing off (the stock copying relay), with the {@code copy} provider and with the {@code linux} provider, on
 * NIO and on epoll, and the bare-API {@code relay} sample with each provider. The relay runs in a child JVM so that
 * its CPU time, read from {@code /proc/PID/stat} (all threads, user + system, which includes the kernel's splice or
 * copy work), is its own; this process generates and sinks the traffic. Each run sends {@code --bytes} up (client to
 * target) and then down (target to client) through the relay, after a warm-up of a quarter of that each way. A
 * direct connection is measured too, as the ceiling.
 *
 * <p>stdout carries the table only, so it can be piped; progress (row, run, time left) goes to stderr through
 * {@link BenchProgress}. {@code --html FILE} also writes the figures as a page with charts ({@link BenchReport}); both
 * take them from one {@link BenchResults}.
 */
final class Bench {

    private static final int CHUNK = 1 << 20;
    private static final double GIB = 1024.0 * 1024 * 1024;

    private Bench() {
    }

    static void main(String[] args) throws Exception {
        if (Arrays.asList(args).contains("--streams")) { BenchStreams.main(args); return; }
        if (Arrays.asList(args).contains("--tunnels")) { BenchTunnels.main(args); return; }
        if (Arrays.asList(args).contains("--http")) { BenchHttp.main(args); return; }
        long bytes = 1L << 30;
        int runs = 3;
        Path html = null;
        List<String> rows = new ArrayList<>(ROWS.keySet());
        Map<String, BenchRelay.External> proxies = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) {
                Main.usage(flag + " needs a value");
            }
            String v = args[++i];
            try {
                switch (flag) {
                    case "--bytes" -> bytes = parseSize(v);
                    case "--runs" -> runs = Integer.parseInt(v);
                    case "--rows" -> rows = Arrays.asList(v.split(","));
                    case "--html" -> html = Path.of(v).toAbsolutePath();
                    case "--proxy" -> addProxy(proxies, v);
                    default -> Main.usage("unknown flag for bench: " + flag);
                }
            } catch (NumberFormatException e) {
                Main.usage("bad value for " + flag + ": " + v);
            } catch (IllegalArgumentException e) {
                Main.usage(e.getMessage());
            }
        }
        if (runs < 1 || runs > 20 || bytes < CHUNK || bytes > (64L << 30)) {
            Main.usage("bench needs --runs 1..20 and --bytes 1m..64g");
        }
        checkRows(rows);
        // Before the bench, not after an hour of it.
        if (html != null && (!Files.isDirectory(html.getParent()) || Files.isDirectory(html))) {
            Main.usage("--html " + html + ": not a file in an existing directory");
        }
        BenchResults results = new BenchResults();
        results.addRow(BenchResults.DIRECT);
        rows.forEach(results::addRow);
        proxies.keySet().forEach(results::addRow);
        BenchProgress progress = new BenchProgress(runs, results.rows(), System.err, System.console() != null,
                System::nanoTime);
        String date = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS).toString();
        try (BenchTarget target = new BenchTarget(64, Bench::pump)) {
            System.out.printf(Locale.ROOT, "bench: %d run(s), %.2f GiB each way per run, relay in a child JVM%n",
                    runs, bytes / GIB);
            for (int run = 1; run <= runs; run++) {
                // Round-robin, so slow drift of a shared machine hits every row alike.
                progress.starting(run, BenchResults.DIRECT);
                results.add(BenchResults.DIRECT, measure(target, new Via(target.address(), null), bytes, null));
                progress.finished();
                for (String p : results.rows().subList(1, results.rows().size())) {
                    progress.starting(run, p);
                    try (BenchRelay relay = proxies.containsKey(p)
                            ? BenchRelay.external(proxies.get(p), target.address(), progress)
                            : BenchRelay.sample(p, ROWS.get(p), target.address(), progress)) {
                        transfer(target, relay.via, bytes / 4, true);
                        transfer(target, relay.via, bytes / 4, false);
                        results.add(p, measure(target, relay.via, bytes, relay));
                    }
                    progress.finished();
                }
            }
        }
        progress.allDone();
        print(results);
        if (html != null) {
            BenchReport.Setup setup = new BenchReport.Setup(commandLine(args), date, jvm(), kernel(),
                    Runtime.getRuntime().availableProcessors(), bytes, runs);
            Files.writeString(html, BenchReport.html(setup, results), StandardCharsets.UTF_8);
            System.err.println("bench: report written to " + html.toUri());
        }
    }

    /** The rows: system properties and command of the child relay. */
    static final Map<String, List<String>> ROWS = new LinkedHashMap<>();

    static {
        ROWS.put("forward-nio-stock", List.of("-Dsplice4j.enabled=false", "forward", "--transport", "nio"));
        ROWS.put("forward-nio-copy", List.of("-Dsplice4j.enabled=true", "-Dsplice4j.provider=copy", "forward",
                "--transport", "nio"));
        ROWS.put("forward-nio-linux", List.of("-Dsplice4j.enabled=true", "-Dsplice4j.provider=linux", "forward",
                "--transport", "nio"));
        ROWS.put("forward-epoll-stock", List.of("-Dsplice4j.enabled=false", "forward", "--transport", "epoll"));
        ROWS.put("forward-epoll-linux", List.of("-Dsplice4j.enabled=true", "-Dsplice4j.provider=linux", "forward",
                "--transport", "epoll"));
        // The Jetty sample's CONNECT tunnels: stock ConnectHandler at its default 4 KiB buffer and at 64 KiB (so the
        // gain is not a buffer-size effect), then spliced.
        ROWS.put("connect-stock-4k", List.of("-Dsplice4j.enabled=false", "jetty-proxy", "--buffer", "4k"));
        ROWS.put("connect-stock-64k", List.of("-Dsplice4j.enabled=false", "jetty-proxy", "--buffer", "64k"));
        ROWS.put("connect-linux", List.of("-Dsplice4j.enabled=true", "-Dsplice4j.provider=linux", "jetty-proxy"));
        ROWS.put("relay-copy", List.of("-Dsplice4j.provider=copy", "relay"));
        ROWS.put("relay-linux", List.of("-Dsplice4j.provider=linux", "relay"));
    }

    /** This JVM's command line as the kernel has it (java -jar ... bench ...), or the bench's own flags. */
    private static String commandLine(String[] args) {
        return ProcessHandle.current().info().commandLine()
                .orElse("java -jar splice4j-samples.jar bench " + String.join(" ", args));
    }

    private static String jvm() {
        return System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + ", "
                + System.getProperty("java.vm.vendor") + ", " + System.getProperty("java.home");
    }

    /** What uname -r says. */
    private static String kernel() {
        try {
            return Files.readAllLines(Path.of("/proc/sys/kernel/osrelease")).get(0).trim();
        } catch (IOException | IndexOutOfBoundsException e) {
            return System.getProperty("os.name") + " " + System.getProperty("os.version");
        }
    }

    /** Where the traffic goes: a forwarder's address, or a CONNECT proxy's address and the authority to ask for. */
    record Via(InetSocketAddress address, String connectTo) {
    }

    /** One run of one row; {@code relay} null for the direct connection. */
    private static BenchResults.Measurement measure(BenchTarget target, Via via, long bytes, BenchRelay relay)
            throws Exception {
        double cpu0 = relay == null ? 0 : relay.cpuSeconds();
        double upSeconds = transfer(target, via, bytes, true);
        double cpu1 = relay == null ? 0 : relay.cpuSeconds();
        double downSeconds = transfer(target, via, bytes, false);
        double cpu2 = relay == null ? 0 : relay.cpuSeconds();
        double gib = bytes / GIB;
        boolean direct = relay == null;
        return new BenchResults.Measurement(bytes * 8 / upSeconds / 1e9, bytes * 8 / downSeconds / 1e9,
                direct ? Double.NaN : (cpu1 - cpu0) / gib, direct ? Double.NaN : (cpu2 - cpu1) / gib);
    }

    private static void print(BenchResults results) {
        System.out.println();
        System.out.println("| " + String.join(" | ", BenchResults.TABLE_HEADER) + " |");
        System.out.println("|---".repeat(BenchResults.TABLE_HEADER.size()) + "|");
        for (List<String> row : results.table()) {
            System.out.println("| " + String.join(" | ", row) + " |");
        }
        System.out.println();
        results.comparisons().forEach(System.out::println);
        System.out.println("(medians of " + results.completedRuns() + " runs; CPU is the relay process's own)");
    }

    /** Moves {@code bytes} one way through {@code via}; returns the seconds until the receiver had them all. */
    private static double transfer(BenchTarget target, Via via, long bytes, boolean up) throws Exception {
        try (SocketChannel c = SocketChannel.open(via.address())) {
            if (via.connectTo() != null) {
                connect(c, via.connectTo());
            }
            ByteBuffer header = ByteBuffer.allocate(9).put((byte) (up ? 'U' : 'D')).putLong(bytes).flip();
            while (header.hasRemaining()) {
                c.write(header);
            }
            long start = System.nanoTime();
            if (up) {
                pump(c, bytes);
                c.shutdownOutput();
                ByteBuffer ack = ByteBuffer.allocate(8);
                while (ack.hasRemaining()) {
                    if (c.read(ack) < 0) {
                        throw new IOException("target closed before acknowledging");
                    }
                }
                long got = ack.flip().getLong();
                if (got != bytes) {
                    throw new IOException("target received " + got + " of " + bytes + " bytes");
                }
            } else {
                long got = drain(c);
                if (got != bytes) {
                    throw new IOException("received " + got + " of " + bytes + " bytes");
                }
            }
            return (System.nanoTime() - start) / 1e9;
        }
    }

    /** Opens a CONNECT tunnel on {@code c}: sends the request, reads the answer's head, wants a 200. */
    static void connect(SocketChannel c, String authority) throws IOException {
        ByteBuffer req = StandardCharsets.US_ASCII.encode("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority
                + "\r\n\r\n");
        while (req.hasRemaining()) {
            c.write(req);
        }
        StringBuilder head = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (!head.toString().endsWith("\r\n\r\n")) {
            if (c.read(one.clear()) < 0 || head.length() > 8192) {
                throw new IOException("no CONNECT answer: " + head);
            }
            head.append((char) one.get(0));
        }
        if (!head.toString().startsWith("HTTP/1.1 200")) {
            throw new IOException("CONNECT refused: " + head.toString().lines().findFirst().orElse(""));
        }
    }

    static void pump(SocketChannel c, long bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        for (long left = bytes; left > 0; ) {
            buf.clear().limit((int) Math.min(CHUNK, left));
            while (buf.hasRemaining()) {
                left -= c.write(buf);
            }
        }
    }

    static long drain(SocketChannel c) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        long total = 0;
        for (int n; (n = c.read(buf.clear())) >= 0; ) {
            total += n;
        }
        return total;
    }

    /** Ends with the usage if a {@code --rows} name is not one of {@link #ROWS}. */
    static void checkRows(List<String> rows) {
        checkRows(rows, ROWS);
    }

    /** Ends with the usage if a {@code --rows} name is not one of {@code known}. */
    static void checkRows(List<String> rows, Map<String, List<String>> known) {
        for (String row : rows) {
            if (!known.containsKey(row)) {
                Main.usage("unknown bench row " + row + "; rows: " + String.join(",", known.keySet()));
            }
        }
    }

    /** Adds a {@code --proxy NAME=COMMAND} row; a malformed one or a name already taken ends with the usage. */
    static void addProxy(Map<String, BenchRelay.External> proxies, String spec) {
        BenchRelay.External e = BenchRelay.External.parse(spec);
        if (ROWS.containsKey(e.name()) || BenchHttp.ROWS.containsKey(e.name()) || BenchResults.DIRECT.equals(e.name())
                || proxies.put(e.name(), e) != null) {
            Main.usage("--proxy " + e.name() + ": that row name is taken");
        }
    }

    /** A duration flag's value in nanoseconds: 500ms, 20s, 2m, or whole seconds. */
    static long parseNanos(String v) {
        String t = v.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("ms")) {
            return TimeUnit.MILLISECONDS.toNanos(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        if (t.endsWith("s")) {
            return TimeUnit.SECONDS.toNanos(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        if (t.endsWith("m")) {
            return TimeUnit.MINUTES.toNanos(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        return TimeUnit.SECONDS.toNanos(Long.parseLong(t));
    }

    static long parseSize(String v) {
        String s = v.trim().toLowerCase(Locale.ROOT);
        long unit = s.endsWith("g") ? 1L << 30 : s.endsWith("m") ? 1L << 20 : s.endsWith("k") ? 1L << 10 : 1;
        return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
    }
}
