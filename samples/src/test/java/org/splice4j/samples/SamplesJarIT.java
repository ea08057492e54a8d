package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-Dsplice4j.enabled=true", "-jar", JAR.toString()));
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
                         SocketChannel server = target.accept()) {
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
                    try (SocketChannel server = target.accept()) {
                        String head = RawHttp.readHead(java.nio.channels.Channels.newInputStream(client));
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
        java.util.concurrent.FutureTask<Streams.Received> read =
                new java.util.concurrent.FutureTask<>(() -> Streams.readToEnd(server));
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
    void aBadFlagPrintsUsageAndExitsNonZero() throws Exception {
        Path errFile = Files.createTempFile("socks5", ".err");
        Process p = start(errFile, "socks5", "--listen", "127.0.0.1:0", "--bogus", "1");
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue());
        String err = Files.readString(errFile);
        assertTrue(err.contains("unknown flag for socks5: --bogus") && err.contains("usage:"), err);
    }
}
