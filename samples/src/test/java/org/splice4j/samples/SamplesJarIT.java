package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.splice4j.spi.contract.RawHttp;
import org.splice4j.spi.contract.Streams;

/**
 * The shaded jar as a newcomer runs it: {@code java -jar} with no JVM flags (the manifest carries them), the
 * {@code linux} provider found (no registration lost in shading), bytes relayed, SIGTERM honoured, bad flags refused.
 */
class SamplesJarIT {

    private static final Path JAR = Path.of("target", "splice4j-samples.jar");
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @BeforeAll
    static void linuxAndJar() {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        assertTrue(Files.isRegularFile(JAR), "the package phase must have built " + JAR);
    }

    /** Starts the jar; its stderr goes to {@code err} (destroy() closes the process's pipes). */
    private static Process start(Path err, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-ea:org.splice4j...", "-Dsplice4j.enabled=true", "-jar",
                JAR.toString()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(err.toFile()).start();
    }

    @Test
    void forwardSplicesWithoutJvmFlagsAndStopsOnSigterm() throws Exception {
        try (ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int targetPort = ((InetSocketAddress) target.getLocalAddress()).getPort();
            for (String transport : new String[] {"nio", "epoll"}) {
                Path errFile = Files.createTempFile("forward-" + transport, ".err");
                Process p = start(errFile, "forward", "--listen", "127.0.0.1:0", "--target", "127.0.0.1:" + targetPort,
                        "--transport", transport, "--grace", "1");
                try {
                    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                            StandardCharsets.UTF_8));
                    String line = out.readLine();
                    assertTrue(line != null && line.startsWith("forward listening on 127.0.0.1:")
                            && line.contains("splicing on"), "first line: " + line);
                    int port = Integer.parseInt(line.split(" ")[3].split(":")[1]);
                    try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
                         SocketChannel server = accept(target)) {
                        relay32MiB(client, server, 11);
                    }
                    stopsOnSigtermWithoutWarnings(p, errFile);
                } finally {
                    p.destroyForcibly();
                    Files.deleteIfExists(errFile);
                }
            }
        }
    }

    @Test
    void jettyProxySplicesAConnectTunnelAndStopsOnSigterm() throws Exception {
        try (ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int targetPort = ((InetSocketAddress) target.getLocalAddress()).getPort();
            Path errFile = Files.createTempFile("jetty-proxy", ".err");
            Process p = start(errFile, "jetty-proxy", "--listen", "127.0.0.1:0", "--grace", "1");
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8));
                String line = out.readLine();
                assertTrue(line != null && line.startsWith("jetty-proxy listening on 127.0.0.1:")
                        && line.contains("splicing on"), "first line: " + line);
                int port = Integer.parseInt(line.split(" ")[3].split(":")[1]);
                try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                    String authority = "127.0.0.1:" + targetPort;
                    client.write(StandardCharsets.US_ASCII.encode("CONNECT " + authority + " HTTP/1.1\r\nHost: "
                            + authority + "\r\n\r\n"));
                    try (SocketChannel server = accept(target)) {
                        String head = RawHttp.readHead(Channels.newInputStream(client));
                        assertTrue(head.startsWith("HTTP/1.1 200"), head);
                        relay32MiB(client, server, 12);
                    }
                }
                stopsOnSigtermWithoutWarnings(p, errFile);
            } finally {
                p.destroyForcibly();
                Files.deleteIfExists(errFile);
            }
        }
    }

    /** 32 MiB from {@code client} through the sample to {@code server}, checked by SHA-256. */
    private static void relay32MiB(SocketChannel client, SocketChannel server, long seed) throws Exception {
        FutureTask<Streams.Received> read = new FutureTask<>(() -> Streams.readToEnd(server));
        Thread reader = new Thread(read, "it-reader");
        reader.setDaemon(true);
        reader.start();
        String sent = Streams.writeAndShutdown(client, seed, 32L << 20);
        assertEquals(new Streams.Received(32L << 20, sent), read.get(60, TimeUnit.SECONDS));
    }

    /** SIGTERM stops the sample; its stderr shows the linux provider and no warning (JVM flags or Jetty's). */
    private static void stopsOnSigtermWithoutWarnings(Process p, Path errFile) throws Exception {
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "SIGTERM must stop the sample");
        String err = Files.readString(errFile);
        assertTrue(err.contains("using provider linux"), err);
        assertFalse(err.contains("WARNING") || err.contains("WARN "), "no warnings with java -jar: " + err);
    }

    @Test
    void aSplicedTunnelOutlivesSigtermForTheGraceAndShutdownPrintsNoStackTrace() throws Exception {
        try (ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int targetPort = ((InetSocketAddress) target.getLocalAddress()).getPort();
            for (String transport : new String[] {"nio", "epoll"}) {
                Path errFile = Files.createTempFile("grace-" + transport, ".err");
                Process p = start(errFile, "forward", "--listen", "127.0.0.1:0", "--target", "127.0.0.1:" + targetPort,
                        "--transport", transport, "--grace", "60");
                try {
                    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                            StandardCharsets.UTF_8));
                    String line = out.readLine();
                    assertTrue(line != null && line.contains("splicing on"), "first line: " + line);
                    int port = Integer.parseInt(line.split(" ")[3].split(":")[1]);
                    try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
                         SocketChannel server = accept(target)) {
                        client.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII)));
                        assertEquals(4, Streams.readExactly(server, 4).length); // the tunnel runs (spliced)
                        sigterm(p); // not destroy(): it would close our end of the sample's stdout
                        String shutdown = out.readLine(); // printed once the sample stopped accepting
                        assertTrue(shutdown != null && shutdown.startsWith("shutting down: waiting up to 60 s for 1"),
                                "shutdown line: " + shutdown);
                        // Within the grace the spliced tunnel still relays, both ways: the default splicer's own
                        // shutdown hook must not have cancelled it.
                        relay32MiB(client, server, 13);
                        String down = Streams.writeAndShutdown(server, 14, 1 << 20);
                        assertEquals(new Streams.Received(1 << 20, down), Streams.readToEnd(client));
                    }
                    // The last tunnel ended: the sample exits long before its 60 s grace.
                    assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the sample must exit once its tunnels ended");
                    String err = Files.readString(errFile);
                    assertFalse(err.contains("Exception") || err.contains("\tat "), "no stack trace: " + err);
                } finally {
                    p.destroyForcibly();
                    Files.deleteIfExists(errFile);
                }
            }
        }
    }

    @Test
    void aNonLoopbackListenWithoutLimitsIsRefusedUnlessAllowOpen() throws Exception {
        for (String[] args : new String[][] {{"socks5", "--listen", "0.0.0.0:0"}, {"jetty-proxy", "--listen",
                "0.0.0.0:0"}, {"http-proxy", "--listen", "0.0.0.0:0"}}) {
            Path errFile = Files.createTempFile(args[0], ".err");
            try {
                Process p = start(errFile, args);
                assertTrue(p.waitFor(20, TimeUnit.SECONDS));
                assertEquals(2, p.exitValue());
                String err = Files.readString(errFile);
                assertTrue(err.contains("not loopback") && err.contains("--allow-open") && err.contains("--allow"),
                        err);
            } finally {
                Files.deleteIfExists(errFile);
            }
        }
        // With --allow-open the operator accepted it: the proxy starts (on a free port of every address).
        Path errFile = Files.createTempFile("socks5-open", ".err");
        Process p = start(errFile, "socks5", "--listen", "0.0.0.0:0", "--allow-open");
        try {
            String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertTrue(line != null && line.startsWith("socks5 listening on ") && !line.contains("127.0.0.1"),
                    "first line: " + line);
        } finally {
            p.destroy();
            p.waitFor(20, TimeUnit.SECONDS);
            p.destroyForcibly();
            Files.deleteIfExists(errFile);
        }
    }

    @Test
    void theRelaySampleSurvivesDescriptorExhaustionAtAccept() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs prlimit (util-linux)");
        try (ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int targetPort = ((InetSocketAddress) target.getLocalAddress()).getPort();
            Path errFile = Files.createTempFile("relay-emfile", ".err");
            Process p = start(errFile, "relay", "--listen", "127.0.0.1:0", "--target", "127.0.0.1:" + targetPort);
            SocketChannel[] running = null;
            try {
                String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                        .readLine();
                assertTrue(line != null && line.startsWith("relay listening on 127.0.0.1:"), "first line: " + line);
                int port = Integer.parseInt(line.split(" ")[3].split(":")[1]);
                running = new SocketChannel[] {SocketChannel.open(new InetSocketAddress("127.0.0.1", port)),
                        accept(target)};
                running[0].write(ByteBuffer.wrap("before".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("before", new String(Streams.readExactly(running[1], 6), StandardCharsets.US_ASCII));
                // Exhaust the relay's descriptors: its limit becomes its lowest free descriptor number, so the next
                // accept fails with EMFILE (as root, prlimit sets another process's limits).
                setFdLimit(p.pid(), limitLeavingRoom(p.pid(), 0));
                try (SocketChannel refused = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                    String err = waitForText(errFile, "accept failed", 20_000);
                    assertTrue(err.contains("Too many open files"), err);
                    assertTrue(p.isAlive(), "EMFILE at accept must not end the relay: " + err);
                    // The running tunnel goes on.
                    running[0].write(ByteBuffer.wrap("during".getBytes(StandardCharsets.US_ASCII)));
                    assertEquals("during", new String(Streams.readExactly(running[1], 6), StandardCharsets.US_ASCII));
                    // (The waiting client may still get in while the limit is low, if the JVM frees a descriptor of
                    // its own, and then be closed for want of one to connect with: either way it is not served.)
                }
                // Descriptors available again: a new client is accepted and relayed.
                setFdLimit(p.pid(), 4096);
                target.socket().setSoTimeout(20_000); // a SocketTimeoutException fails the test
                try (SocketChannel again = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                    again.write(ByteBuffer.wrap("after".getBytes(StandardCharsets.US_ASCII)));
                    boolean relayed = false;
                    for (int i = 0; i < 3 && !relayed; i++) {
                        try (Socket server = target.socket().accept()) {
                            // The client that waited through the exhaustion may come first, with nothing to say.
                            server.setSoTimeout(3_000);
                            byte[] got = server.getInputStream().readNBytes(5);
                            relayed = "after".equals(new String(got, StandardCharsets.US_ASCII));
                        } catch (SocketTimeoutException silent) {
                            // that was the earlier client
                        }
                    }
                    assertTrue(relayed, "the relay must accept and relay again once descriptors are free");
                }
            } finally {
                if (running != null) {
                    running[0].close();
                    running[1].close();
                }
                p.destroyForcibly();
                p.waitFor(20, TimeUnit.SECONDS);
                Files.deleteIfExists(errFile);
            }
        }
    }

    @Test
    void theForwardSampleCopiesWhenDescriptorsRunOutAtDupOrPipeCreation() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs prlimit (util-linux)");
        try (ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int targetPort = ((InetSocketAddress) target.getLocalAddress()).getPort();
            Path errFile = Files.createTempFile("forward-emfile", ".err");
            Process p = start(errFile, "forward", "--listen", "127.0.0.1:0", "--target", "127.0.0.1:" + targetPort,
                    "--transport", "epoll");
            try {
                String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                        .readLine();
                assertTrue(line != null && line.contains("splicing on"), "first line: " + line);
                int port = Integer.parseInt(line.split(" ")[3].split(":")[1]);
                long base = openSockets(p.pid());
                // One tunnel first, so that everything a tunnel needs once (classes, the splicer's loop) is there.
                try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
                     SocketChannel server = accept(target)) {
                    relay32MiB(client, server, 15);
                    server.shutdownOutput();
                    assertEquals(0, Streams.readToEnd(client).bytes());
                }
                // Its descriptors must be closed before counting the room left, or they would add to it.
                awaitSockets(p.pid(), base);
                // Room for 1: the accept takes it and the connect cannot make its socket: the client is closed, and
                // the sample goes on.
                setFdLimit(p.pid(), limitLeavingRoom(p.pid(), 1));
                try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                    client.socket().setSoTimeout(20_000);
                    assertEquals(-1, client.socket().getInputStream().read(), "no descriptor to connect with");
                }
                setFdLimit(p.pid(), 4096);
                awaitSockets(p.pid(), base);
                // A tunnel takes 2 descriptors (accept, connect), then 2 dups, then 2 per pipe. Room for 2: the dups
                // fail (EMFILE) and the relay copies; room for 4: the pipes cannot be made and the provider copies.
                for (int room : new int[] {2, 4}) {
                    setFdLimit(p.pid(), limitLeavingRoom(p.pid(), room));
                    try (SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
                         SocketChannel server = accept(target, p, errFile)) {
                        relay32MiB(client, server, 16 + room);
                        String down = Streams.writeAndShutdown(server, 30 + room, 4 << 20);
                        assertEquals(new Streams.Received(4 << 20, down), Streams.readToEnd(client),
                                "room for " + room + " descriptors");
                    }
                    setFdLimit(p.pid(), 4096);
                    awaitSockets(p.pid(), base); // no socket left behind
                }
                assertTrue(p.isAlive(), Files.readString(errFile));
            } finally {
                p.destroyForcibly();
                p.waitFor(20, TimeUnit.SECONDS);
                Files.deleteIfExists(errFile);
            }
        }
    }

    private static long openSockets(long pid) throws IOException {
        long n = 0;
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path f : (Iterable<Path>) fds::iterator) {
                try {
                    String link = Files.readSymbolicLink(f).toString();
                    // Sockets only: the splicer keeps emptied pipes pooled for the next tunnels.
                    if (link.startsWith("socket:")) {
                        n++;
                    }
                } catch (IOException gone) {
                    // closed while listing
                }
            }
        }
        return n;
    }

    /** Accepts within 30 s (a SocketTimeoutException fails the test rather than hanging the build). */
    private static SocketChannel accept(ServerSocketChannel listener) throws IOException {
        listener.socket().setSoTimeout(30_000);
        return listener.socket().accept().getChannel();
    }

    /** {@link #accept(ServerSocketChannel)}, failing with the sample's stderr and descriptors if none came. */
    private static SocketChannel accept(ServerSocketChannel listener, Process p, Path errFile) throws Exception {
        try {
            return accept(listener);
        } catch (SocketTimeoutException e) {
            StringBuilder fds = new StringBuilder();
            try (var list = Files.list(Path.of("/proc", Long.toString(p.pid()), "fd"))) {
                for (Path f : (Iterable<Path>) list::iterator) {
                    try {
                        fds.append(' ').append(f.getFileName()).append('=').append(Files.readSymbolicLink(f));
                    } catch (IOException gone) {
                        // closed while listing
                    }
                }
            }
            throw new AssertionError("the sample did not connect; its descriptors:" + fds + "; its stderr: "
                    + Files.readString(errFile), e);
        }
    }

    private static void sigterm(Process p) throws Exception {
        Process kill = new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).redirectErrorStream(true).start();
        assertTrue(kill.waitFor(20, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -TERM " + p.pid());
    }

    /** Waits, bounded, until the sample's sockets are back to {@code count}. */
    private static void awaitSockets(long pid, long count) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (openSockets(pid) != count && System.nanoTime() < deadline) {
            Thread.sleep(20); // another process: no latch spans the boundary
        }
        assertEquals(count, openSockets(pid), "the sample's sockets");
    }

    /**
     * The soft descriptor limit under which exactly {@code room} descriptor numbers are free. RLIMIT_NOFILE bounds the
     * numbers, not the count: a closed descriptor below others still open is a free number too, so the lowest free
     * number plus {@code room} would leave less room when the numbers above it are not all free.
     */
    private static int limitLeavingRoom(long pid, int room) throws IOException {
        Set<Integer> used = new HashSet<>();
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            fds.forEach(f -> used.add(Integer.parseInt(f.getFileName().toString())));
        }
        int n = 0;
        for (int free = 0; free < room || used.contains(n); n++) {
            if (!used.contains(n)) {
                free++;
            }
        }
        return n;
    }


    private static void setFdLimit(long pid, int limit) throws Exception {
        // The soft limit only: lowering the hard one could not be undone without CAP_SYS_RESOURCE.
        Process p = new ProcessBuilder("/usr/bin/prlimit", "--pid", Long.toString(pid), "--nofile=" + limit + ":")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0, "prlimit: " + out);
    }

    /** The file's text once it contains {@code text}; polls a child process's stderr file, bounded. */
    private static String waitForText(Path file, String text, long millis) throws Exception {
        long deadline = System.nanoTime() + millis * 1_000_000;
        String s = Files.readString(file);
        while (!s.contains(text) && System.nanoTime() < deadline) {
            Thread.sleep(50); // another process writes it: no latch can span the process boundary
            s = Files.readString(file);
        }
        return s;
    }

    @Test
    void doctorNamesTheProviderAndSaysSplicingWorksWithTheJarsFlags() throws Exception {
        Path errFile = Files.createTempFile("doctor", ".err");
        Process p = start(errFile, "doctor");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out + Files.readString(errFile));
        assertTrue(out.contains("linux (priority 100): available")
                && out.contains("--add-exports java.base/sun.nio.ch=ALL-UNNAMED (a SocketChannel's descriptor): set")
                && out.contains("/proc/sys/fs/pipe-max-size: ") && out.contains("open files: soft ")
                && out.contains("verdict: splicing would work here with -Dsplice4j.enabled=true (provider linux)"),
                out);
        Files.deleteIfExists(errFile);
    }

    @Test
    void doctorWithoutTheFdFlagSaysWhyNotAndExitsOne() throws Exception {
        // The class path instead of -jar: the jar's manifest (Add-Exports) does not apply, as for an application
        // that puts the jars on its own class path.
        Process p = new ProcessBuilder(JAVA, "-ea:org.splice4j...", "-Dsplice4j.enabled=true", "-cp", JAR.toString(),
                "org.splice4j.samples.Main", "doctor").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("(a SocketChannel's descriptor): NOT set")
                && out.contains("verdict: splicing would NOT work here: ") && out.contains("--add-exports"), out);
    }

    @Test
    void doctorCountsTheCopyProviderAsNoSplicing() throws Exception {
        Path errFile = Files.createTempFile("doctor-copy", ".err");
        List<String> cmd = List.of(JAVA, "-Dsplice4j.provider=copy", "-jar", JAR.toString(), "doctor");
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("splice4j.enabled: false (splicing is off until -Dsplice4j.enabled=true")
                && out.contains("verdict: splicing would NOT work here: splice4j.provider=copy names the portable"
                + " provider"), out);
        Files.deleteIfExists(errFile);
    }

    @Test
    void aBadFlagPrintsUsageAndExitsNonZero() throws Exception {
        Path errFile = Files.createTempFile("socks5", ".err");
        Process p = start(errFile, "socks5", "--listen", "127.0.0.1:0", "--bogus", "1");
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue());
        String err = Files.readString(errFile);
        assertTrue(err.contains("unknown flag for socks5: --bogus") && err.contains("usage:"), err);
    }
}
