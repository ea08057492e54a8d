package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
import org.junit.jupiter.params.provider.ValueSource;
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

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void a100ContinueIsForwardedAndTheFinalResponseFollowsOnTheSameConnection(String transport, boolean splice)
            throws Exception {
        long upload = 2 * MiB + 3;
        try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
            OutputStream out = c.socket.getOutputStream();
            for (long size : new long[] {4 * MiB, 1000}) { // the final body spliced, then through the codecs
                out.write(("POST /continue/" + size + "/21 HTTP/1.1\r\nHost: origin\r\nExpect: 100-continue\r\n"
                        + "Content-Length: " + upload + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertEquals(100, c.read(false).status()); // the body goes only once the origin asked for it
                Streams.inputStream(22, upload).transferTo(out);
                out.flush();
                KeepAliveClient.Response r = c.read(false);
                assertBody(21, size, r);
                assertEquals(expected(22, upload), r.headers().get("x-upload-sha256"), "what the origin got");
            }
            // Still in step: the 100's end was not taken for the end of the response.
            c.send("GET", "/bytes/1000/23");
            assertBody(23, 1000, c.read(false));
            assertEquals(1, p.server().accepted());
        }
    }

    @Test
    void curlPostsALargeBodyWithExpectContinue(@TempDir Path dir) throws Exception {
        requireTool("/usr/bin/curl");
        long upload = 3 * MiB;
        Path body = dir.resolve("upload");
        try (InputStream in = Streams.inputStream(24, upload)) {
            Files.copy(in, body);
        }
        try (Proxy p = proxy("epoll", true, true)) {
            Path out = dir.resolve("out");
            Path headers = dir.resolve("headers");
            // Over 1 MiB, curl sends Expect: 100-continue and waits for the 100 before the body.
            run(List.of("curl", "-s", "-S", "--fail", "--max-time", "60", "-H", "Expect: 100-continue",
                    "--data-binary", "@" + body, "-D", headers.toString(), "-o", out.toString(),
                    p.url("/continue/" + 2 * MiB + "/25")));
            assertEquals(new Streams.Received(2 * MiB, expected(25, 2 * MiB)), digest(out));
            String h = Files.readString(headers).toLowerCase(java.util.Locale.ROOT);
            assertTrue(h.contains("100 continue") && h.contains("x-upload-sha256: " + expected(24, upload)), h);
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void strayBytesReadWithTheLastOfABodyNeverAnswerThePipelinedRequest(String transport, boolean splice)
            throws Exception {
        // A whole stray response, and one cut in its head (the decoder keeps it, waiting for more).
        for (String kind : new String[] {"extra1", "partial1"}) {
            try (Proxy p = proxy(transport, splice, true); KeepAliveClient c = new KeepAliveClient(p.address())) {
                int originBefore = origin.accepted.get();
                c.send("GET", "/" + kind + "/1000/26", "/bytes/1000/27"); // pipelined
                assertBody(26, 1000, c.read(false));
                assertBody(27, 1000, c.read(false)); // not the origin's stray bytes: a fresh backend's answer
                assertEquals(originBefore + 2, origin.accepted.get(), kind + ": that backend is not reused");
                assertEquals(1, p.server().accepted());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nio", "epoll"})
    void aResponseStalledMidBodyClosesTheClientAfterTheIdleTimeout(String transport) throws Exception {
        TunnelServer server = new TunnelServer(transport, new SpliceRelay(bed.splicer),
                new Limits(Duration.ofSeconds(10), Duration.ofMillis(500), 64));
        InetSocketAddress a = HttpProxySample.start(server, new InetSocketAddress("127.0.0.1", 0), origin.address(),
                AllowList.loopbackOnly(), HttpProxySample.DEFAULT_THRESHOLD);
        try (Proxy p = new Proxy(server, a); KeepAliveClient c = new KeepAliveClient(a)) {
            c.socket.setSoTimeout(30_000); // far past the idle timeout: a read timing out is the failure
            c.send("GET", "/stall/1000/28"); // a head and half a small body (through the codecs), then nothing
            assertThrows(EOFException.class, () -> c.read(false));
        }
    }

    @Test
    void aReverseProxyServesItsTargetOnly() throws Exception {
        try (Proxy p = proxy("nio", true, true)) {
            // Absolute-form, to a loopback origin the allow list allows; CONNECT to it: both refused, and the
            // connection ends (the refused request's body is not read).
            for (String[] req : new String[][] {{"GET", origin.url("/bytes/10/29")},
                {"CONNECT", "127.0.0.1:" + origin.address().getPort()}}) {
                try (KeepAliveClient c = new KeepAliveClient(p.address())) {
                    c.send(req[0], req[1]);
                    KeepAliveClient.Response r = c.read(false);
                    assertEquals(403, r.status(), req[0] + " " + r);
                    assertEquals(0, c.readToEnd());
                }
            }
            try (KeepAliveClient c = new KeepAliveClient(p.address())) {
                c.send("GET", "/bytes/1000/30"); // origin-form: to the target
                assertBody(30, 1000, c.read(false));
            }
        }
        // --target with --allow is refused at start; either alone is fine.
        assertNotNull(HttpProxySample.flagProblem(origin.address(), true));
        assertNull(HttpProxySample.flagProblem(origin.address(), false));
        assertNull(HttpProxySample.flagProblem(null, true));
    }
}
