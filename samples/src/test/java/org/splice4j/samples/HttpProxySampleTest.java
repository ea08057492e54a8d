package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.SplicerMXBean;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/**
 * The http-proxy sample with real clients (curl, hey, a blocking keep-alive client) and a plain-socket origin: bodies
 * checked by SHA-256, connections counted on both sides, splicing checked in the splicer's figures.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpProxySampleTest {

    private static final long MiB = 1L << 20;

    private LinuxTestbed bed;
    private TestOrigin origin;

    @BeforeAll
    void start() throws IOException {
        bed = LinuxTestbed.open();
        origin = new TestOrigin();
    }

    @AfterAll
    void stop() throws IOException {
        if (origin != null) {
            origin.close();
        }
        if (bed != null) {
            bed.close();
        }
    }

    static Stream<Arguments> modes() {
        return Stream.of(Arguments.of("nio", true), Arguments.of("nio", false), Arguments.of("epoll", true),
                Arguments.of("epoll", false));
    }

    /** A running proxy: its server (for its counts) and address. */
    private record Proxy(TunnelServer server, InetSocketAddress address) implements AutoCloseable {
        String url(String path) {
            return "http://127.0.0.1:" + address.getPort() + path;
        }

        @Override
        public void close() {
            server.close();
        }
    }

    /** Reverse (to the origin) when {@code reverse}, forward otherwise; 1 MiB threshold. */
    private Proxy proxy(String transport, boolean splice, boolean reverse) throws InterruptedException {
        TunnelServer server = new TunnelServer(transport, splice ? new SpliceRelay(bed.splicer) : new SpliceRelay());
        InetSocketAddress a = HttpProxySample.start(server, new InetSocketAddress("127.0.0.1", 0),
                reverse ? origin.address() : null, AllowList.loopbackOnly(), HttpProxySample.DEFAULT_THRESHOLD);
        return new Proxy(server, a);
    }

    private SplicerMXBean stats() {
        return bed.splicer.statistics().orElseThrow();
    }

    private static String expected(long seed, long size) {
        return Streams.expected(seed, size, new byte[0]);
    }

    private static void assertBody(long seed, long size, KeepAliveClient.Response r) {
        assertEquals(200, r.status(), r.toString());
        assertEquals(new Streams.Received(size, expected(seed, size)), r.body(), "body of " + size + "/" + seed);
    }

    private static void requireTool(String path) {
        if (!new File(path).canExecute()) {
            assertTrue(System.getenv("CI") == null, "CI must have " + path);
            Assumptions.abort(path + " is not installed");
        }
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ran too long: " + cmd);
        String text = new String(out);
        assertEquals(0, p.exitValue(), cmd + ": " + text);
        return text;
    }

    private static Streams.Received digest(Path file) throws IOException {
        try (InputStream in = new FileInputStream(file.toFile())) {
            return Streams.readToEnd(in);
        }
    }

    /** Sizes around the threshold and far from it: spliced, copied through the codecs, and in between. */
    private static final long[][] BODIES = {{4 * MiB, 1}, {100, 2}, {MiB, 3}, {MiB - 1, 4}, {2 * MiB + 7, 5},
        {0, 6}, {16 * MiB, 7}};

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void manyBodiesOverOneKeptAliveConnection(String transport, boolean splice) throws Exception {
        long splicedBefore = stats().getSplicedBytes();
        long boundsBefore = stats().getSessionsBoundsReached();
        int originBefore = origin.accepted.get();
        try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
            for (int round = 0; round < 3; round++) {
                for (long[] b : BODIES) {
                    c.send("GET", "/bytes/" + b[0] + "/" + b[1]);
                    assertBody(b[1], b[0], c.read(false));
                }
                c.send("GET", "/chunked/300000/8"); // chunked: through the codecs whatever its size
                assertBody(8, 300000, c.read(false));
            }
            assertEquals(1, p.server().accepted());
            assertEquals(originBefore + 1, origin.accepted.get(), "one backend connection, kept alive");
        }
        if (splice) {
            assertTrue(stats().getSplicedBytes() > splicedBefore, "the kernel must have moved bytes");
            // Four bodies of at least 1 MiB, three rounds.
            assertTrue(stats().getSessionsBoundsReached() - boundsBefore >= 12,
                    "bounded sessions: " + (stats().getSessionsBoundsReached() - boundsBefore));
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aRequestPipelinedDuringASplicedBodyIsAnsweredAfterIt(String transport, boolean splice) throws Exception {
        try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
            c.send("GET", "/bytes/" + 8 * MiB + "/11", "/bytes/3000/12", "/bytes/" + 2 * MiB + "/13");
            assertBody(11, 8 * MiB, c.read(false));
            assertBody(12, 3000, c.read(false));
            assertBody(13, 2 * MiB, c.read(false));
            assertEquals(1, p.server().accepted());
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void headAnd204And304HaveNoBody(String transport, boolean splice) throws Exception {
        try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
            c.send("HEAD", "/bytes/" + 4 * MiB + "/14");
            KeepAliveClient.Response head = c.read(true);
            assertEquals(200, head.status());
            assertEquals(String.valueOf(4 * MiB), head.headers().get("content-length"));
            c.send("GET", "/204");
            assertEquals(204, c.read(false).status());
            c.send("GET", "/304");
            assertEquals(304, c.read(false).status());
            // The connection is still in step: the next body arrives whole.
            c.send("GET", "/bytes/" + 2 * MiB + "/15");
            assertBody(15, 2 * MiB, c.read(false));
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void bytesPastTheContentLengthAreNeverForwardedAndThatBackendIsNotReused(String transport, boolean splice)
            throws Exception {
        try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
            int originBefore = origin.accepted.get();
            origin.ended.clear();
            c.send("GET", "/extra/" + 2 * MiB + "/16"); // the origin sends a second "response" after the body
            assertBody(16, 2 * MiB, c.read(false));
            // The proxy closes the backend that sent bytes nobody asked for.
            assertTrue(origin.ended.poll(30, TimeUnit.SECONDS) != null, "the backend connection must be closed");
            c.send("GET", "/bytes/1000/17");
            assertBody(17, 1000, c.read(false)); // not the origin's stray "extra"
            assertEquals(originBefore + 2, origin.accepted.get());
            assertEquals(1, p.server().accepted());
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aBodyEndingEarlyClosesTheClientConnection(String transport, boolean splice) throws Exception {
        for (long size : new long[] {4 * MiB, 1000}) {
            try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
                c.send("GET", "/short/" + size + "/18");
                assertThrows(EOFException.class, () -> c.read(false), "a cut body of " + size);
                assertEquals(0, c.readToEnd());
            }
        }
    }

    @Test
    void curlFetchesSeveralUrlsThroughTheForwardProxyOnOneConnection(@TempDir Path dir) throws Exception {
        requireTool("/usr/bin/curl");
        for (String transport : new String[] {"nio", "epoll"}) {
            long splicedBefore = stats().getSplicedBytes();
            try (Proxy p = proxy(transport, true, false)) {
                List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-S", "--fail", "--max-time", "60",
                        "--proxy", "http://127.0.0.1:" + p.address().getPort()));
                for (long[] b : BODIES) {
                    cmd.add(origin.url("/bytes/" + b[0] + "/" + b[1]));
                    cmd.add("-o");
                    cmd.add(dir.resolve(transport + "-" + b[1]).toString());
                }
                run(cmd);
                for (long[] b : BODIES) {
                    assertEquals(new Streams.Received(b[0], expected(b[1], b[0])),
                            digest(dir.resolve(transport + "-" + b[1])));
                }
                assertEquals(1, p.server().accepted(), "curl reuses its connection to the proxy");
            }
            assertTrue(stats().getSplicedBytes() > splicedBefore, "the kernel must have moved bytes");
        }
    }

    @Test
    void curlFetchesSeveralUrlsThroughTheReverseProxyOnOneConnection(@TempDir Path dir) throws Exception {
        requireTool("/usr/bin/curl");
        try (Proxy p = proxy("epoll", true, true)) {
            List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-S", "--fail", "--max-time", "60"));
            for (long[] b : BODIES) {
                cmd.add(p.url("/bytes/" + b[0] + "/" + b[1]));
                cmd.add("-o");
                cmd.add(dir.resolve("r-" + b[1]).toString());
            }
            run(cmd);
            for (long[] b : BODIES) {
                assertEquals(new Streams.Received(b[0], expected(b[1], b[0])), digest(dir.resolve("r-" + b[1])));
            }
            assertEquals(1, p.server().accepted());
        }
    }

    @Test
    void curlThroughAConnectTunnel(@TempDir Path dir) throws Exception {
        requireTool("/usr/bin/curl");
        try (Proxy p = proxy("nio", true, false)) {
            Path out = dir.resolve("tunnel");
            // -p: a CONNECT tunnel even for an http:// URL; inside it, curl speaks to the origin itself.
            run(List.of("curl", "-s", "-S", "--fail", "--max-time", "60", "-p", "--proxy",
                    "http://127.0.0.1:" + p.address().getPort(), origin.url("/bytes/" + 3 * MiB + "/19"),
                    "-o", out.toString()));
            assertEquals(new Streams.Received(3 * MiB, expected(19, 3 * MiB)), digest(out));
        }
    }

    @Test
    void heyKeepsOneConnectionPerWorker() throws Exception {
        requireTool("/usr/bin/hey");
        long boundsBefore = stats().getSessionsBoundsReached();
        try (Proxy p = proxy("epoll", true, true)) {
            String out = run(List.of("/usr/bin/hey", "-n", "100", "-c", "10", "-disable-compression",
                    p.url("/bytes/" + 4 * MiB + "/20")));
            Matcher m = Pattern.compile("\\[(\\d+)\\]\\s+(\\d+) responses").matcher(out);
            List<String> codes = new ArrayList<>();
            while (m.find()) {
                codes.add(m.group(1) + "=" + m.group(2));
            }
            assertEquals(List.of("200=100"), codes, out);
            assertTrue(p.server().accepted() <= 10, "client connections: " + p.server().accepted());
        }
        assertTrue(stats().getSessionsBoundsReached() - boundsBefore >= 100, "every body spliced");
        // hey discards the bodies: the Java keep-alive client above checks them.
    }

    @Test
    void aDestinationOutsideTheAllowListIsRefused() throws Exception {
        try (Proxy p = proxy("nio", true, false); KeepAliveClient c = new KeepAliveClient(p.address())) {
            c.send("GET", "http://192.0.2.1:80/bytes/10/1"); // TEST-NET-1: not loopback
            assertEquals(403, c.read(false).status());
        }
    }
}
