package org.splice4j.samples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One bench row's relay, in a process of its own so that the CPU time read from {@code /proc} is the relay's alone:
 * either a sample of this jar in a child JVM (the built-in rows, {@link Bench#ROWS}), or a command the user gives with
 * {@code --proxy NAME=COMMAND} (HAProxy, socat, another Java proxy), which then relays the same load in the same run.
 *
 * <p>A command runs as {@code /bin/sh -c COMMAND} after {@code {listen}} and {@code {target}} are replaced by the
 * address it must listen on (a free loopback port the bench picked) and the address it must forward to, as
 * {@code 127.0.0.1:PORT} ({@code {listenPort}} and {@code {targetPort}}: the ports alone). It is ready
 * when a socket listens on that port (read from {@code /proc/net/tcp}, so no probe connection reaches it). Its CPU is
 * that of the shell and everything it started (a proxy that forks workers is counted whole); stopping it ends them
 * all. Its stdout and stderr are printed through {@link BenchProgress#childLine}.
 */
final class BenchRelay implements AutoCloseable {

    /** USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux architecture the provider supports. */
    private static final double TICKS_PER_SECOND = 100.0;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,40}");
    private static final long READY_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** A {@code --proxy NAME=COMMAND} row. */
    record External(String name, String command) {

        /** Parses {@code NAME=COMMAND}; the message of the exception says what is wrong with it. */
        static External parse(String spec) {
            int eq = spec.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("--proxy wants NAME=COMMAND, got: " + spec);
            }
            String name = spec.substring(0, eq).trim();
            String command = spec.substring(eq + 1).trim();
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("--proxy NAME must be 1 to 40 of A-Z a-z 0-9 . _ -, got: " + name);
            }
            if (!(command.contains("{listen}") || command.contains("{listenPort}"))
                    || !(command.contains("{target}") || command.contains("{targetPort}"))) {
                throw new IllegalArgumentException("--proxy " + name + ": the command must contain {listen} (or"
                        + " {listenPort}) and {target} (or {targetPort}): where to listen and where to forward to");
            }
            return new External(name, command);
        }
    }

    final String name;
    final Bench.Via via;
    private final Process process;
    private final List<Thread> output;

    static {
        // A bench ended by a signal (Ctrl-C, kill) stops its relays: a child process outlives its parent otherwise,
        // keeping its port and its CPU. Every process this JVM started is a relay, or one a relay started.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> ProcessHandle.current().descendants()
                .forEach(ProcessHandle::destroy), "bench-relays-stop"));
    }

    private BenchRelay(String name, Process process, Bench.Via via, List<Thread> output) {
        this.name = name;
        this.process = process;
        this.via = via;
        this.output = output;
    }

    /** Starts a built-in row: a sample of this jar in a child JVM, listening on a port it picks and prints. */
    static BenchRelay sample(String name, List<String> row, InetSocketAddress target, BenchProgress progress)
            throws IOException {
        return sample(name, row, target, progress, List.of());
    }

    /** {@link #sample} with options for the child JVM before the row's own, such as a fixed heap. */
    static BenchRelay sample(String name, List<String> row, InetSocketAddress target, BenchProgress progress,
            List<String> jvmOptions) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // splice4j's threading asserts only (never Netty's or Jetty's, which sit on their hot paths); ours
                // run where a session starts and ends, not per system call.
                "-ea:org.splice4j...",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmOptions);
        List<String> props = row.stream().filter(a -> a.startsWith("-D")).toList();
        for (String key : System.getProperties().stringPropertyNames()) {
            boolean set = props.stream().anyMatch(a -> a.startsWith("-D" + key + "="));
            if (key.startsWith("splice4j.") && !set) {
                cmd.add("-D" + key + "=" + System.getProperty(key)); // pass pipeSize, threads, copyBufferSize on
            }
        }
        cmd.addAll(props);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        String targetAddress = "127.0.0.1:" + target.getPort();
        // A row that places {target} itself (a reverse proxy) gets it there; else a forwarder gets --target, and a
        // forward proxy (jetty-proxy) none: its clients name the target in their CONNECT.
        boolean placesTarget = row.contains("{target}");
        List<String> command = row.stream().filter(a -> !a.startsWith("-D"))
                .map(a -> a.equals("{target}") ? targetAddress : a).toList();
        boolean connect = command.get(0).equals("jetty-proxy") && !placesTarget;
        cmd.addAll(command);
        cmd.addAll(List.of("--listen", "127.0.0.1:0"));
        if (!connect && !placesTarget) {
            cmd.addAll(List.of("--target", "127.0.0.1:" + target.getPort()));
        }
        Process p = new ProcessBuilder(cmd).start();
        List<Thread> output = new ArrayList<>(List.of(printLines(p.getErrorStream(), progress, name)));
        BenchRelay relay = new BenchRelay(name, p, null, output);
        String line = firstLine(p.getInputStream());
        if (line == null || !line.contains(" listening on ")) {
            relay.close(); // its stderr says why
            throw new IOException("relay (" + name + ") did not start: " + line);
        }
        output.add(printLines(p.getInputStream(), progress, name)); // the rest of its stdout, if it writes more
        String hostPort = line.substring(line.indexOf(" listening on ") + " listening on ".length()).split(" ")[0];
        Bench.Via via = new Bench.Via(HostPort.parse("relay", hostPort),
                connect ? "127.0.0.1:" + target.getPort() : null);
        return new BenchRelay(name, p, via, output);
    }

    /** Starts a {@code --proxy} row and waits, bounded, until it listens. */
    static BenchRelay external(External spec, InetSocketAddress target, BenchProgress progress)
            throws IOException, InterruptedException {
        int port = freePort();
        String command = spec.command().replace("{listen}", "127.0.0.1:" + port)
                .replace("{listenPort}", Integer.toString(port))
                .replace("{target}", "127.0.0.1:" + target.getPort())
                .replace("{targetPort}", Integer.toString(target.getPort()));
        Process p = new ProcessBuilder("/bin/sh", "-c", command).start();
        p.getOutputStream().close(); // it gets no input from us
        List<Thread> output = List.of(printLines(p.getInputStream(), progress, spec.name()),
                printLines(p.getErrorStream(), progress, spec.name()));
        BenchRelay relay = new BenchRelay(spec.name(), p, new Bench.Via(new InetSocketAddress("127.0.0.1", port),
                null), output);
        long deadline = System.nanoTime() + READY_TIMEOUT_NANOS;
        while (!listening(port)) {
            if (!p.isAlive() || System.nanoTime() - deadline > 0) {
                String why = p.isAlive() ? "nothing listens on port " + port + " after 30 s"
                        : "it exited with status " + p.exitValue();
                relay.close();
                throw new IOException("--proxy " + spec.name() + " did not start (" + why + "): " + command);
            }
            // Polling /proc: a process gives no other sign of having bound; 20 ms against a start of ~100 ms and more.
            Thread.sleep(20);
        }
        return relay;
    }

    /** The relay's process id (the child JVM, or the shell that runs a {@code --proxy} command). */
    long pid() {
        return process.pid();
    }

    /** The relay's processes: its own and every live descendant's (a proxy's forked workers). */
    List<Long> pids() {
        return Stream.concat(Stream.of(process.toHandle()), process.descendants()).map(ProcessHandle::pid).toList();
    }

    /**
     * CPU seconds (user + system, every thread) the relay has used so far: its own, its live descendants', and what
     * the descendants that ended and were waited for used (cutime, cstime).
     */
    double cpuSeconds() throws IOException {
        long ticks = 0;
        for (long pid : pids()) {
            try {
                // Not Files.readString: on JDK 17 it can return only the first byte of a procfs file (size 0).
                String stat = Files.readAllLines(Path.of("/proc/" + pid + "/stat")).get(0);
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
            } catch (java.nio.file.NoSuchFileException e) {
                // A descendant that ended between listing and reading: its parent's cutime has it once waited for.
            }
        }
        return ticks / TICKS_PER_SECOND;
    }

    /** Whether a TCP socket listens on {@code port} of any local address, IPv4 or IPv6. */
    static boolean listening(int port) throws IOException {
        String local = String.format(Locale.ROOT, ":%04X", port);
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path path = Path.of(table);
            if (!Files.exists(path)) {
                continue;
            }
            for (String line : Files.readAllLines(path)) {
                String[] f = line.trim().split("\\s+");
                // sl local_address rem_address st ...; st 0A is LISTEN
                if (f.length > 3 && f[1].endsWith(local) && f[3].equals("0A")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static int freePort() throws IOException {
        // Bound and closed again: the command binds it a moment later. Another process could take it in between;
        // then the command fails to bind and the row says so.
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    /** The first line of {@code in}, read byte by byte so that nothing after it is buffered away from the printer. */
    private static String firstLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b; (b = in.read()) >= 0 && b != '\n'; ) {
            line.append((char) b);
        }
        return line.length() == 0 ? null : line.toString();
    }

    private static Thread printLines(InputStream in, BenchProgress progress, String name) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    progress.childLine(line);
                }
            } catch (IOException e) {
                // The process ended and its stream was closed under us: nothing more to print.
            }
        }, "bench-relay-output");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Ends the relay and everything it started, waits (bounded) for it, and prints its last lines. */
    @Override
    public void close() {
        // Descendants first: a shell that is not exec'ing its proxy would otherwise leave the proxy running.
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
            for (Thread t : output) {
                t.join(5_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
