package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.CustomRequestLog;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.contract.EndedSessions;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.RawHttp;
import org.splice4j.spi.contract.Streams;

/**
 * {@link SpliceProxyServlet.Transparent} keeping the client's connection alive across spliced responses: a real Jetty
 * proxy (with a plain {@link CustomRequestLog}) in front of a real Jetty backend, or a scripted one that misbehaves,
 * and real clients (raw sockets, curl, hey, Jetty's HttpClient). Bodies are checked by SHA-256, connections counted
 * at the proxy's connector.
 */
class SpliceProxyKeepAliveTest {

    private static final long MiB = 1024 * 1024;

    private static LinuxTestbed bed;
    private static Backend backend;
    private static final EndedSessions ended = new EndedSessions();

    private Server proxy;
    private ServerConnector connector;
    private SpliceProxyServlet servlet;
    private final AtomicInteger accepted = new AtomicInteger();
    private final BlockingQueue<String> logLines = new LinkedBlockingQueue<>();

    @BeforeAll
    static void start() throws Exception {
        bed = LinuxTestbed.open();
        bed.splicer.addListener(ended);
        backend = Backend.start();
    }

    @AfterAll
    static void stop() throws Exception {
        Closing.closeAll(backend, bed);
    }

    @BeforeEach
    void clear() {
        ended.clear();
    }

    @AfterEach
    void stopProxy() throws Exception {
        if (proxy != null) {
            proxy.stop();
        }
    }

    /** A transparent proxy to {@code origin}, with Jetty's own request log and a count of accepted connections. */
    private int startProxy(String origin) throws Exception {
        return startProxy(origin, new SpliceProxyServlet.Transparent());
    }

    private int startProxy(String origin, SpliceProxyServlet.Transparent transparent) throws Exception {
        proxy = new Server();
        connector = new ServerConnector(proxy);
        connector.setHost("127.0.0.1");
        connector.addEventListener(new Connection.Listener() {
            @Override
            public void onOpened(Connection connection) {
                accepted.incrementAndGet();
            }
        });
        proxy.addConnector(connector);
        servlet = transparent;
        servlet.setSplicer(bed.splicer);
        ServletHolder holder = new ServletHolder(servlet);
        holder.setInitParameter("proxyTo", origin);
        ServletContextHandler context = new ServletContextHandler("/");
        context.addServlet(holder, "/*");
        proxy.setHandler(context);
        RequestLog.Writer lines = logLines::add;
        proxy.setRequestLog(new CustomRequestLog(lines, CustomRequestLog.NCSA_FORMAT));
        proxy.start();
        return connector.getLocalPort();
    }

    private static String stream(long size, long seed) {
        return "/stream?size=" + size + "&seed=" + seed;
    }

    private static Streams.Received expected(long size, long seed) {
        return new Streams.Received(size, Streams.expected(seed, size, new byte[0]));
    }

    private static void send(Socket s, String... pathQueries) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String pq : pathQueries) {
            b.append("GET ").append(pq).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
        OutputStream out = s.getOutputStream();
        out.write(b.toString().getBytes(StandardCharsets.US_ASCII)); // one write: pipelined requests arrive together
        out.flush();
    }

    private record Fetched(String head, Streams.Received body) {
        int status() {
            return RawHttp.status(head);
        }

        String header(String name) {
            Matcher m = Pattern.compile("(?im)^" + name + ": *([^\r\n]*)").matcher(head);
            return m.find() ? m.group(1) : null;
        }
    }

    /** Reads one response: its head, then exactly Content-Length bytes. */
    private static Fetched read(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        String head = RawHttp.readHead(in);
        Matcher length = Pattern.compile("(?im)^Content-Length: *(\\d+)").matcher(head);
        assertThat(length.find()).as("a Content-Length in " + head).isTrue();
        return new Fetched(head, Streams.readExactlyDigest(in, Long.parseLong(length.group(1))));
    }

    /** The request log's line for {@code pathQuery}, its status and byte count. */
    private String logged(String pathQuery) throws InterruptedException {
        for (String line; (line = logLines.poll(20, TimeUnit.SECONDS)) != null; ) {
            if (line.contains("\"GET " + pathQuery + " HTTP/1.1\"")) {
                return line.substring(line.lastIndexOf('"') + 2);
            }
        }
        throw new AssertionError("no request log line for " + pathQuery);
    }

    private SpliceResult nextEnded() throws InterruptedException {
        SpliceResult r = ended.poll(20, TimeUnit.SECONDS);
        assertThat(r).as("a spliced session ended").isNotNull();
        return r;
    }

    @Test
    void manyLargeBodiesOnOneConnectionAreSplicedAndJettyLogsThemAsSent() throws Exception {
        int port = startProxy(backend.httpUri());
        try (Socket s = RawHttp.connect(port)) {
            for (int i = 0; i < 6; i++) {
                long size = 4 * MiB + i * 1001; // not a multiple of any buffer
                String pq = stream(size, 20 + i);
                send(s, pq);
                Fetched f = read(s);
                assertThat(f.status()).isEqualTo(200);
                assertThat(f.body()).isEqualTo(expected(size, 20 + i));
                assertThat(f.header("Connection")).as("kept alive").isNull();
                assertThat(f.header("Date")).isNotNull();
                assertThat(f.header("Server")).startsWith("Jetty");
                SpliceResult r = nextEnded();
                assertThat(r.outcome()).isEqualTo(SpliceResult.Outcome.BOUNDS_REACHED);
                assertThat(r.bytesBToA()).isEqualTo(size);
                assertThat(r.bytesAToB()).isZero();
                assertThat(r.splicedBytes()).isPositive();
                assertThat(logged(pq)).isEqualTo("200 " + size);
            }
            // A small body goes the stock way on the same connection.
            send(s, stream(1000, 3));
            assertThat(read(s).body()).isEqualTo(expected(1000, 3));
            assertThat(logged(stream(1000, 3))).isEqualTo("200 1000");
        }
        assertThat(servlet.getSplicedResponses()).isEqualTo(6);
        assertThat(accepted).as("one client connection").hasValue(1);
    }

    @Test
    void aPipelinedRequestIsAnsweredAfterTheSplicedBodyInOrder() throws Exception {
        int port = startProxy(backend.httpUri());
        try (Socket s = RawHttp.connect(port)) {
            // The second and third are pipelined with the first, and more follow while the first body is spliced.
            send(s, stream(32 * MiB, 1), stream(1000, 2), stream(2 * MiB, 3));
            InputStream in = s.getInputStream();
            assertThat(RawHttp.status(RawHttp.readHead(in))).isEqualTo(200);
            // 32 MiB do not fit in the sockets' buffers: the splice waits for this client, which has not read yet.
            assertThat(connector.getConnectedEndPoints()).singleElement()
                    .satisfies(e -> assertThat(e.isFillInterested()).as("Jetty reads nothing meanwhile").isFalse());
            send(s, stream(3 * MiB, 4));
            assertThat(Streams.readExactlyDigest(in, 32 * MiB)).isEqualTo(expected(32 * MiB, 1));
            assertThat(read(s).body()).isEqualTo(expected(1000, 2));
            assertThat(read(s).body()).isEqualTo(expected(2 * MiB, 3));
            assertThat(read(s).body()).isEqualTo(expected(3 * MiB, 4));
        }
        assertThat(servlet.getSplicedResponses()).isEqualTo(3);
        assertThat(accepted).hasValue(1);
    }

    @Test
    void curlFetchesSeveralUrlsOverOneConnection(@TempDir Path dir) throws Exception {
        int port = startProxy(backend.httpUri());
        long[] sizes = {4 * MiB, 16 * MiB + 7, 2 * MiB};
        List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-S", "--fail", "--max-time", "60"));
        for (int i = 0; i < sizes.length; i++) {
            cmd.add("http://127.0.0.1:" + port + stream(sizes[i], 40 + i));
            cmd.add("-o");
            cmd.add(dir.resolve("f" + i).toString());
        }
        Process curl = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(curl.waitFor(90, TimeUnit.SECONDS)).isTrue();
        assertThat(curl.exitValue()).as(output).isZero();
        for (int i = 0; i < sizes.length; i++) {
            assertThat(sha256(dir.resolve("f" + i))).isEqualTo(expected(sizes[i], 40 + i));
        }
        assertThat(accepted).as("curl reused its connection").hasValue(1);
        for (int i = 0; i < sizes.length; i++) {
            assertThat(nextEnded().outcome()).isEqualTo(SpliceResult.Outcome.BOUNDS_REACHED);
        }
        assertThat(servlet.getSplicedResponses()).isEqualTo(3);
    }

    @Test
    void heyWithTenWorkersUsesAtMostTenConnections() throws Exception {
        int port = startProxy(backend.httpUri());
        Process hey = new ProcessBuilder("hey", "-n", "100", "-c", "10", "-disable-compression",
                "http://127.0.0.1:" + port + stream(4 * MiB, 5)).redirectErrorStream(true).start();
        String output = new String(hey.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(hey.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(hey.exitValue()).as(output).isZero();
        assertThat(output).contains("[200]\t100 responses").doesNotContain("Error distribution");
        assertThat(accepted.get()).as(output).isBetween(1, 10);
        assertThat(servlet.getSplicedResponses()).isEqualTo(100);
        for (int i = 0; i < 100; i++) {
            assertThat(nextEnded().outcome()).isEqualTo(SpliceResult.Outcome.BOUNDS_REACHED);
        }
    }

    @Test
    void jettyClientWithOneConnectionChecksManyBodies() throws Exception {
        int port = startProxy(backend.httpUri());
        HttpClient client = new HttpClient(new HttpClientTransportOverHTTP(new ClientConnector()));
        client.setMaxConnectionsPerDestination(1);
        client.start();
        try {
            for (int i = 0; i < 20; i++) {
                long size = (i % 3 == 0 ? 1000 : 2 * MiB + i);
                InputStreamResponseListener listener = new InputStreamResponseListener();
                client.newRequest("http://127.0.0.1:" + port + stream(size, 60 + i))
                        .timeout(60, TimeUnit.SECONDS).send(listener);
                Response r = listener.get(30, TimeUnit.SECONDS);
                assertThat(r.getStatus()).isEqualTo(200);
                assertThat(r.getHeaders().get(HttpHeader.DATE)).isNotNull();
                try (InputStream body = listener.getInputStream()) {
                    assertThat(Streams.readToEnd(body)).isEqualTo(expected(size, 60 + i));
                }
            }
        } finally {
            client.stop();
        }
        assertThat(accepted).hasValue(1);
        assertThat(servlet.getSplicedResponses()).isEqualTo(13);
    }

    @Test
    void headAnd204And304AreNotSpliced() throws Exception {
        int port = startProxy(backend.httpUri());
        try (Socket s = RawHttp.connect(port)) {
            OutputStream out = s.getOutputStream();
            out.write(("HEAD " + stream(4 * MiB, 1) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String head = RawHttp.readHead(s.getInputStream());
            assertThat(RawHttp.status(head)).isEqualTo(200);
            for (int status : new int[] {204, 304}) {
                send(s, stream(0, 1) + "&status=" + status);
                String h = RawHttp.readHead(s.getInputStream());
                assertThat(RawHttp.status(h)).isEqualTo(status);
            }
            send(s, stream(4 * MiB, 2));
            assertThat(read(s).body()).isEqualTo(expected(4 * MiB, 2));
        }
        assertThat(servlet.getSplicedResponses()).isEqualTo(1);
        assertThat(accepted).hasValue(1);
    }

    @Test
    void stoppingTheServerEndsABodyBeingSpliced() throws Exception {
        int port = startProxy(backend.httpUri());
        try (Socket s = RawHttp.connect(port)) {
            send(s, stream(256 * MiB, 1));
            InputStream in = s.getInputStream();
            assertThat(RawHttp.status(RawHttp.readHead(in))).isEqualTo(200);
            // The client reads nothing more: the session waits on its full socket until Jetty closes the connection.
            proxy.stop();
            SpliceResult r = nextEnded();
            // Cancelled by the client connection's close, or reset first by the servlet's client closing its own.
            assertThat(r.outcome()).isIn(SpliceResult.Outcome.CANCELLED, SpliceResult.Outcome.RESET);
            assertThat(r.bytesBToA()).isLessThan(256 * MiB);
            long got = 0;
            byte[] buf = new byte[64 * 1024];
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    got += n;
                }
            } catch (IOException reset) {
                // a close with unread bytes may arrive as a reset: either way the body ends short
            }
            assertThat(got).isLessThan(256 * MiB);
        }
        proxy = null;
    }

    /** Drops the server's Content-Length: Jetty then frames the body itself (chunked), which a splice cannot. */
    @SuppressWarnings("removal")
    public static final class NoContentLength extends SpliceProxyServlet.Transparent {
        @Override
        protected String filterServerResponseHeader(jakarta.servlet.http.HttpServletRequest clientRequest,
                Response serverResponse, String headerName, String headerValue) {
            return headerName.equalsIgnoreCase("Content-Length") ? null : headerValue;
        }
    }

    @Test
    void aHeadThatDoesNotCarryTheServersContentLengthIsNotSpliced() throws Exception {
        int port = startProxy(backend.httpUri(), new NoContentLength());
        try (Socket s = RawHttp.connect(port)) {
            for (int i = 0; i < 2; i++) {
                send(s, stream(4 * MiB, 9));
                InputStream in = s.getInputStream();
                String head = RawHttp.readHead(in);
                assertThat(head).containsIgnoringCase("Transfer-Encoding: chunked");
                assertThat(dechunk(in)).isEqualTo(expected(4 * MiB, 9));
            }
        }
        assertThat(servlet.getSplicedResponses()).isZero();
        assertThat(ended).isEmpty();
        assertThat(accepted).hasValue(1);
    }

    /** A chunked body, read to its last chunk. */
    private static Streams.Received dechunk(InputStream in) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        long total = 0;
        while (true) {
            StringBuilder line = new StringBuilder();
            for (int b; (b = in.read()) != '\n'; ) {
                assertThat(b).as("end of stream in a chunk size").isNotNegative();
                line.append((char) b);
            }
            int size = Integer.parseInt(line.toString().trim(), 16);
            byte[] chunk = in.readNBytes(size + 2);
            if (size == 0) {
                return new Streams.Received(total, HexFormat.of().formatHex(md.digest()));
            }
            md.update(chunk, 0, size);
            total += size;
        }
    }

    /** Reads a request head from a raw backend connection. */
    private static String readRequest(Socket s) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void bytesTheBackendSendsAfterTheBodyNeverReachTheClient() throws Exception {
        long size = 4 * MiB;
        byte[] body = Streams.randomBytes(7, (int) size);
        try (ScriptedServer origin = new ScriptedServer(s -> {
            while (readRequest(s) != null) {
                OutputStream out = s.getOutputStream();
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                // Past the message: a proxy that read on would hand these to the client as its next response.
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        })) {
            int port = startProxy("http://" + origin.authority());
            try (Socket s = RawHttp.connect(port)) {
                for (int i = 0; i < 3; i++) {
                    send(s, "/big" + i);
                    Fetched f = read(s);
                    assertThat(f.status()).isEqualTo(200);
                    assertThat(f.body()).isEqualTo(new Streams.Received(size, sha256(body)));
                    assertThat(nextEnded().outcome()).isEqualTo(SpliceResult.Outcome.BOUNDS_REACHED);
                }
                // The next request on the same connection gets its own answer, from a new backend connection.
                send(s, "/big3");
                assertThat(read(s).body()).isEqualTo(new Streams.Received(size, sha256(body)));
            }
            assertThat(accepted).hasValue(1);
            assertThat(origin.connections).as("one backend connection per spliced body").hasSize(4);
        }
    }

    @Test
    void aBodyThatEndsEarlyClosesTheClientConnection() throws Exception {
        long size = 4 * MiB;
        try (ScriptedServer origin = new ScriptedServer(s -> {
            if (readRequest(s) != null) {
                OutputStream out = s.getOutputStream();
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(Streams.randomBytes(8, (int) (size / 2)));
                out.flush();
            } // and closes, half a body short
        })) {
            int port = startProxy("http://" + origin.authority());
            try (Socket s = RawHttp.connect(port)) {
                send(s, "/short");
                InputStream in = s.getInputStream();
                String head = RawHttp.readHead(in);
                assertThat(RawHttp.status(head)).isEqualTo(200);
                long got = 0;
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) >= 0; ) {
                    got += n;
                }
                assertThat(got).as("fewer bytes than the Content-Length, then the end").isLessThan(size);
            }
            SpliceResult r = nextEnded();
            assertThat(r.outcome()).isEqualTo(SpliceResult.Outcome.FAILED);
        }
    }

    /** The digest {@link Streams.Received} carries, of a whole array. */
    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private static Streams.Received sha256(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return Streams.readToEnd(in);
        }
    }
}
