package org.splice4j.samples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
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
    /** USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux architecture the provider supports. */
    private static final double TICKS_PER_SECOND = 100.0;

    private Bench() {
    }

    static void main(String[] args) throws Exception {
        long bytes = 1L << 30;
        int runs = 3;
        Path html = null;
        List<String> rows = new ArrayList<>(ROWS.keySet());
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
                    default -> Main.usage("unknown flag for bench: " + flag);
                }
            } catch (NumberFormatException e) {
                Main.usage("bad value for " + flag + ": " + v);
            }
        }
        if (runs < 1 || runs > 20 || bytes < CHUNK || bytes > (64L << 30)) {
            Main.usage("bench needs --runs 1..20 and --bytes 1m..64g");
        }
        for (String row : rows) {
            if (!ROWS.containsKey(row)) {
                Main.usage("unknown bench row " + row + "; rows: " + String.join(",", ROWS.keySet()));
            }
        }
        // Before the bench, not after an hour of it.
        if (html != null && (!Files.isDirectory(html.getParent()) || Files.isDirectory(html))) {
            Main.usage("--html " + html + ": not a file in an existing directory");
        }
        BenchResults results = new BenchResults();
        results.addRow(BenchResults.DIRECT);
        rows.forEach(results::addRow);
        BenchProgress progress = new BenchProgress(runs, results.rows(), System.err, System.console() != null,
                System::nanoTime);
        String date = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS).toString();
        try (Target target = new Target()) {
            System.out.printf(Locale.ROOT, "bench: %d run(s), %.2f GiB each way per run, relay in a child JVM%n",
                    runs, bytes / GIB);
            for (int run = 1; run <= runs; run++) {
                // Round-robin, so slow drift of a shared machine hits every row alike.
                progress.starting(run, BenchResults.DIRECT);
                results.add(BenchResults.DIRECT, measure(target, new Via(target.address(), null), bytes, -1));
                progress.finished();
                for (String p : rows) {
                    progress.starting(run, p);
                    try (Relay relay = Relay.start(p, ROWS.get(p), target.address(), progress)) {
                        transfer(target, relay.via, bytes / 4, true);
                        transfer(target, relay.via, bytes / 4, false);
                        results.add(p, measure(target, relay.via, bytes, relay.pid));
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
    private record Via(InetSocketAddress address, String connectTo) {
    }

    private static BenchResults.Measurement measure(Target target, Via via, long bytes, long relayPid)
            throws Exception {
        double cpu0 = cpuSeconds(relayPid);
        double upSeconds = transfer(target, via, bytes, true);
        double cpu1 = cpuSeconds(relayPid);
        double downSeconds = transfer(target, via, bytes, false);
        double cpu2 = cpuSeconds(relayPid);
        double gib = bytes / GIB;
        boolean direct = relayPid < 0;
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
    private static double transfer(Target target, Via via, long bytes, boolean up) throws Exception {
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
    private static void connect(SocketChannel c, String authority) throws IOException {
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

    private static double cpuSeconds(long pid) throws IOException {
        if (pid < 0) {
            return 0;
        }
        // Not Files.readString: on JDK 17 it can return only the first byte of a procfs file (reported size 0).
        String stat = Files.readAllLines(Path.of("/proc/" + pid + "/stat")).get(0);
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND; // utime, stime
    }

    static long parseSize(String v) {
        String s = v.trim().toLowerCase(Locale.ROOT);
        long unit = s.endsWith("g") ? 1L << 30 : s.endsWith("m") ? 1L << 20 : s.endsWith("k") ? 1L << 10 : 1;
        return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
    }

    /** The traffic's far end: 'U' + length sinks and acknowledges the count, 'D' + length sends that many bytes. */
    private static final class Target implements AutoCloseable {
        private final ServerSocketChannel server;
        private final Thread acceptor;

        Target() throws IOException {
            server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 64);
            acceptor = new Thread(this::acceptLoop, "bench-target");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        InetSocketAddress address() throws IOException {
            return (InetSocketAddress) server.getLocalAddress();
        }

        private void acceptLoop() {
            while (server.isOpen()) {
                try {
                    SocketChannel c = server.accept();
                    Thread t = new Thread(() -> serve(c), "bench-target-conn");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private static void serve(SocketChannel c) {
            try (c) {
                ByteBuffer header = ByteBuffer.allocate(9);
                while (header.hasRemaining()) {
                    if (c.read(header) < 0) {
                        return;
                    }
                }
                header.flip();
                byte mode = header.get();
                long bytes = header.getLong();
                if (mode == 'U') {
                    long got = drain(c);
                    ByteBuffer ack = ByteBuffer.allocate(8).putLong(got).flip();
                    while (ack.hasRemaining()) {
                        c.write(ack);
                    }
                } else {
                    pump(c, bytes);
                }
            } catch (IOException e) {
                System.err.println("bench target: " + e.getMessage());
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /**
     * One row's sample relay in a child JVM. Its stderr (its log, and why it failed if it did) goes through
     * {@link BenchProgress#childLine}, so that it does not run into a progress line.
     */
    private static final class Relay implements AutoCloseable {
        final Process process;
        final long pid;
        final Via via;
        private final Thread stderr;

        private Relay(Process process, Via via, Thread stderr) {
            this.process = process;
            this.pid = process.pid();
            this.via = via;
            this.stderr = stderr;
        }

        static Relay start(String name, List<String> row, InetSocketAddress target, BenchProgress progress)
                throws IOException {
            List<String> cmd = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    // splice4j's threading asserts only (never Netty's or Jetty's, which sit on their hot paths); ours
                    // run where a session starts and ends, not per system call.
                    "-ea:org.splice4j...",
                    "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED"));
            List<String> props = row.stream().filter(a -> a.startsWith("-D")).toList();
            for (String key : System.getProperties().stringPropertyNames()) {
                boolean set = props.stream().anyMatch(a -> a.startsWith("-D" + key + "="));
                if (key.startsWith("splice4j.") && !set) {
                    cmd.add("-D" + key + "=" + System.getProperty(key)); // pass pipeSize, threads, copyBufferSize on
                }
            }
            cmd.addAll(props);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
            List<String> command = row.stream().filter(a -> !a.startsWith("-D")).toList();
            boolean connect = command.get(0).equals("jetty-proxy");
            cmd.addAll(command);
            cmd.addAll(List.of("--listen", "127.0.0.1:0"));
            if (!connect) {
                cmd.addAll(List.of("--target", "127.0.0.1:" + target.getPort()));
            }
            Process p = new ProcessBuilder(cmd).start();
            Thread stderr = new Thread(() -> forward(p, progress), "bench-relay-stderr");
            stderr.setDaemon(true);
            stderr.start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            if (line == null || !line.contains(" listening on ")) {
                p.destroy();
                awaitExit(p, stderr); // its stderr says why
                throw new IOException("relay (" + name + ") did not start: " + line);
            }
            String hostPort = line.substring(line.indexOf(" listening on ") + " listening on ".length()).split(" ")[0];
            return new Relay(p, new Via(HostPort.parse("relay", hostPort),
                    connect ? "127.0.0.1:" + target.getPort() : null), stderr);
        }

        private static void forward(Process p, BenchProgress progress) {
            try (BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = err.readLine()) != null; ) {
                    progress.childLine(line);
                }
            } catch (IOException e) {
                progress.childLine("bench: reading the relay's stderr: " + e.getMessage());
            }
        }

        /** Waits, bounded, for the process to end and for its last stderr lines to be printed. */
        private static void awaitExit(Process p, Thread stderr) {
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
                stderr.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() {
            process.destroy();
            awaitExit(process, stderr);
        }
    }
}
