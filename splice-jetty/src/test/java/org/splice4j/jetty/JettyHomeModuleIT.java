package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import org.splice4j.spi.contract.RawHttp;

/**
 * The {@code splice4j} Jetty module as a jetty-home user runs it: a fresh {@code $JETTY_BASE} holding
 * {@code modules/splice4j.mod}, {@code etc/splice4j.xml} and the four jars in {@code lib/splice4j/};
 * {@code java -jar start.jar --add-modules=http,splice4j}; then {@code java -jar start.jar -Dsplice4j.enabled=...}
 * (the module's {@code [exec]} makes start.jar fork a second JVM with the JVM flags); a CONNECT tunnel through it to
 * a local HTTP server; a body of a few MiB checked by SHA-256. With splicing on, the tunnel must have been spliced
 * (the adapter's DEBUG line, turned on through a JUL config file); off, Jetty's stock relaying carries it.
 *
 * <p>jetty-home comes from the build: {@code maven-dependency-plugin} unpacks
 * {@code org.eclipse.jetty:jetty-home:tar.gz} into {@code target/jetty-home/} (system property
 * {@code splice4j.it.jettyHome} overrides). The module files come from {@code src/main/jetty-base}
 * ({@code splice4j.it.moduleDir} overrides, for instance to test an assembled distribution).
 */
class JettyHomeModuleIT {

    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private static final int BODY_SIZE = (4 << 20) + 12_345; // a few MiB, not a multiple of any buffer size
    private static final long START_TIMEOUT_S = 90; // two JVMs on a 2-core machine, plus jetty-home's XML
    private static final Pattern CONNECTOR_PORT =
            Pattern.compile("Started oejs\\.ServerConnector@\\S*\\{HTTP/1\\.1, \\(http/1\\.1\\)\\}\\{127\\.0\\.0\\.1:(\\d+)\\}");
    private static final Pattern SPLICED = Pattern.compile("spliced=(\\d+)");

    private static Path jettyHome;
    private static Path moduleDir;
    private static HttpServer backend;
    private static String bodySha256;

    @BeforeAll
    static void jettyHomeAndBackend() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        jettyHome = locateJettyHome();
        moduleDir = Path.of(System.getProperty("splice4j.it.moduleDir", "src/main/jetty-base")).toAbsolutePath();
        assertThat(moduleDir.resolve("modules/splice4j.mod")).isRegularFile();
        assertThat(moduleDir.resolve("etc/splice4j.xml")).isRegularFile();

        byte[] body = new byte[BODY_SIZE];
        new SplittableRandom(20260101).nextBytes(body);
        bodySha256 = sha256(body);
        backend = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        backend.createContext("/blob", exchange -> {
            exchange.getResponseHeaders().add("Content-Type", "application/octet-stream");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        backend.start();
    }

    @AfterAll
    static void stopBackend() {
        if (backend != null) {
            backend.stop(0);
        }
    }

    @ParameterizedTest(name = "splice4j.enabled={0}")
    @ValueSource(booleans = {true, false})
    void connectTunnelThroughJettyHome(boolean enabled, @TempDir Path base) throws Exception {
        prepareBase(base);

        Path julConfig = base.resolve("jul.properties");
        Files.writeString(julConfig, String.join("\n",
                "handlers=java.util.logging.ConsoleHandler",
                "java.util.logging.ConsoleHandler.level=ALL",
                "java.util.logging.SimpleFormatter.format=JUL %4$s %3$s: %5$s%6$s%n",
                "org.splice4j.level=FINE",
                ""));
        try (JettyProcess jetty = JettyProcess.start(base,
                "-Dsplice4j.enabled=" + enabled,
                "-Djava.util.logging.config.file=" + julConfig,
                "jetty.http.host=127.0.0.1",
                "jetty.http.port=0",
                "jetty.server.dumpAfterStart=true")) {
            Matcher m = CONNECTOR_PORT.matcher(jetty.awaitLine(l -> CONNECTOR_PORT.matcher(l).find(), START_TIMEOUT_S));
            assertThat(m.find()).isTrue();
            int proxyPort = Integer.parseInt(m.group(1));
            // The dump (jetty.server.dumpAfterStart) ends with its legend: by then the whole tree has been printed.
            jetty.awaitLine(l -> l.startsWith("legend:"), START_TIMEOUT_S);

            List<String> started = jetty.output();
            assertThat(started)
                    .as("the module forks a JVM for its [exec] flags")
                    .anyMatch(l -> l.contains("Forking second JVM due to forking module(s): [splice4j]"))
                    .as("no stock ConnectHandler anywhere")
                    .noneMatch(l -> l.contains("oejsh.ConnectHandler@"));
            // The dump's tree: Contexts > SpliceConnectHandler > SpliceUpgradeHandler > the proxy's context.
            int connect = firstLine(started, "+= osj.SpliceConnectHandler@");
            int upgrade = firstLine(started, "+= osj.SpliceUpgradeHandler@");
            int context = firstLine(started, "+= oeje10s.ServletContextHandler@");
            assertThat(connect).as("SpliceConnectHandler in the dump").isNotNegative();
            assertThat(upgrade).as("SpliceUpgradeHandler right under it").isEqualTo(connect + 1);
            assertThat(context).as("the proxy context right under that").isEqualTo(upgrade + 1);

            if (enabled) {
                assertThat(jetty.output()).anyMatch(l -> l.contains("splice4j: using provider linux"));
            }

            int backendPort = backend.getAddress().getPort();
            try (Socket s = RawHttp.connect(proxyPort)) {
                assertThat(RawHttp.connectTunnel(s, "127.0.0.1:" + backendPort, new byte[0])).isEqualTo(200);
                OutputStream out = s.getOutputStream();
                out.write(("GET /blob HTTP/1.1\r\nHost: 127.0.0.1:" + backendPort + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = s.getInputStream();
                String head = RawHttp.readHead(in);
                assertThat(RawHttp.status(head)).as(head).isEqualTo(200);
                assertThat(contentLength(head)).as(head).isEqualTo(BODY_SIZE);
                assertThat(sha256(in, BODY_SIZE)).isEqualTo(bodySha256);
                assertThat(in.read()).as("the tunnel ends after the response (Connection: close)").isEqualTo(-1);
            }

            if (enabled) {
                String ended = jetty.awaitLine(l -> l.contains("splice4j: tunnel") && l.contains(" ended: "), 30);
                Matcher spliced = SPLICED.matcher(ended);
                assertThat(spliced.find()).as(ended).isTrue();
                // Splice-auto copies the first 64 KiB of a burst before it splices the rest.
                assertThat(Long.parseLong(spliced.group(1))).as(ended).isGreaterThanOrEqualTo(BODY_SIZE - (1 << 20));
            } else {
                assertThat(jetty.output())
                        // SpliceUpgradeHandler's own copy splicer starts (its relay when splicing is off); no other
                        .noneMatch(l -> l.contains("splice4j: using provider") && !l.contains("using provider copy"))
                        .noneMatch(l -> l.contains("splice4j: tunnel"));
            }
        }
    }

    /** The module files, the four jars, then {@code --add-modules=http,splice4j} as a user would run it. */
    private void prepareBase(Path base) throws Exception {
        Files.createDirectories(base.resolve("modules"));
        Files.createDirectories(base.resolve("etc"));
        Files.copy(moduleDir.resolve("modules/splice4j.mod"), base.resolve("modules/splice4j.mod"));
        Files.copy(moduleDir.resolve("etc/splice4j.xml"), base.resolve("etc/splice4j.xml"));
        Path lib = Files.createDirectories(base.resolve("lib/splice4j"));
        jarOf(SpliceConnectHandler.class, lib, "splice-jetty.jar");
        jarOf(Class.forName("org.splice4j.spi.Splice"), lib, "splice-spi.jar");
        jarOf(Class.forName("org.splice4j.linux.LinuxProvider"), lib, "splice-linux.jar");
        jarOf(Class.forName("com.sun.jna.Native"), lib, "jna.jar");

        Process add = new ProcessBuilder(JAVA, "-jar", jettyHome.resolve("start.jar").toString(),
                "jetty.home=" + jettyHome, "jetty.base=" + base, "--add-modules=http,splice4j")
                .directory(base.toFile()).redirectErrorStream(true)
                .redirectOutput(base.resolve("add-modules.log").toFile()).start();
        boolean exited = add.waitFor(START_TIMEOUT_S, TimeUnit.SECONDS);
        if (!exited) {
            add.destroyForcibly();
        }
        String log = Files.readString(base.resolve("add-modules.log"));
        assertThat(exited).as(log).isTrue();
        assertThat(add.exitValue()).as(log).isZero();
        assertThat(base.resolve("start.d/splice4j.ini")).isRegularFile();
    }

    /**
     * Copies the jar a class was loaded from into {@code lib} under {@code name}; when it was loaded from a classes
     * directory (a build that stopped before {@code package}), jars that directory, services files included.
     */
    private static void jarOf(Class<?> type, Path lib, String name) throws IOException, URISyntaxException {
        Path from = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path to = lib.resolve(name);
        if (Files.isRegularFile(from)) {
            Files.copy(from, to);
            return;
        }
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(to));
             Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                jar.putNextEntry(new JarEntry(from.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, jar);
                jar.closeEntry();
            }
        }
    }

    private static Path locateJettyHome() throws IOException {
        String configured = System.getProperty("splice4j.it.jettyHome");
        if (configured != null) {
            Path home = Path.of(configured).toAbsolutePath();
            assertThat(home.resolve("start.jar")).isRegularFile();
            return home;
        }
        Path unpacked = Path.of("target", "jetty-home").toAbsolutePath();
        assertThat(unpacked).as("the build unpacks jetty-home's tar.gz here before integration-test").isDirectory();
        try (Stream<Path> dirs = Files.list(unpacked)) {
            List<Path> homes = dirs.filter(d -> Files.isRegularFile(d.resolve("start.jar"))).toList();
            assertThat(homes).as("one jetty-home-* directory under " + unpacked).hasSize(1);
            return homes.get(0);
        }
    }

    /** The index of the first line that contains {@code text}, or -1. */
    private static int firstLine(List<String> lines, String text) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(text)) {
                return i;
            }
        }
        return -1;
    }

    private static int contentLength(String head) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("Content-Length")) {
                return Integer.parseInt(line.substring(colon + 1).trim());
            }
        }
        return -1;
    }

    private static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** Reads exactly {@code length} bytes (the socket's read timeout bounds each read) and digests them. */
    private static String sha256(InputStream in, int length) throws IOException, NoSuchAlgorithmException {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[64 * 1024];
        int left = length;
        while (left > 0) {
            int n = in.read(buf, 0, Math.min(buf.length, left));
            if (n < 0) {
                throw new IOException("end of stream with " + left + " of " + length + " body bytes missing");
            }
            digest.update(buf, 0, n);
            left -= n;
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /**
     * {@code java -jar start.jar} in a jetty base, its stdout and stderr read line by line on a daemon thread so a
     * test can wait for a line with a timeout. Closing it sends SIGTERM to start.jar, whose shutdown hook stops the
     * forked JVM, and then kills whatever of the process tree is left.
     */
    private static final class JettyProcess implements AutoCloseable {

        private final Process process;
        private final List<String> lines = new ArrayList<>();
        private final List<Waiter> waiters = new ArrayList<>();
        private boolean ended;

        private record Waiter(Predicate<String> match, CompletableFuture<String> line) {
        }

        private JettyProcess(Process process) {
            this.process = process;
            Thread reader = new Thread(this::readOutput, "jetty-home-output");
            reader.setDaemon(true);
            reader.start();
        }

        static JettyProcess start(Path base, String... args) throws IOException {
            // Jetty runs in this JVM (no --exec), so our threading asserts are on in the server too.
            List<String> cmd = new ArrayList<>(List.of(JAVA, "-ea:org.splice4j...", "-jar",
                    jettyHome.resolve("start.jar").toString(), "jetty.home=" + jettyHome, "jetty.base=" + base));
            cmd.addAll(List.of(args));
            return new JettyProcess(new ProcessBuilder(cmd).directory(base.toFile()).redirectErrorStream(true).start());
        }

        private void readOutput() {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    synchronized (this) {
                        lines.add(line);
                        for (Waiter w : waiters) {
                            if (w.match.test(line)) {
                                w.line.complete(line);
                            }
                        }
                        waiters.removeIf(w -> w.line.isDone());
                    }
                }
            } catch (IOException closed) {
                // destroy() closed the pipe
            }
            synchronized (this) {
                ended = true;
                for (Waiter w : waiters) {
                    w.line.completeExceptionally(new AssertionError("Jetty's output ended; it said:\n" + text()));
                }
                waiters.clear();
            }
        }

        /** The first line, already printed or to come, that matches; fails after the timeout or at end of output. */
        String awaitLine(Predicate<String> match, long timeoutSeconds) throws Exception {
            CompletableFuture<String> line = new CompletableFuture<>();
            synchronized (this) {
                lines.stream().filter(match).findFirst().ifPresent(line::complete);
                if (!line.isDone()) {
                    if (ended) {
                        throw new AssertionError("Jetty's output ended; it said:\n" + text());
                    }
                    waiters.add(new Waiter(match, line));
                }
            }
            try {
                return line.get(timeoutSeconds, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("no such line within " + timeoutSeconds + " s; Jetty said:\n" + text(), e);
            }
        }

        synchronized List<String> output() {
            return List.copyOf(lines);
        }

        private synchronized String text() {
            return String.join("\n", lines);
        }

        @Override
        public void close() {
            List<ProcessHandle> tree = process.descendants().toList(); // the forked JVM; gone from here once orphaned
            process.destroy(); // SIGTERM: start.jar's shutdown hook destroys the forked JVM
            try {
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
            for (ProcessHandle p : tree) {
                if (p.isAlive()) {
                    p.destroyForcibly();
                }
            }
            for (ProcessHandle p : tree) {
                p.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(t -> p).join();
            }
        }
    }
}
