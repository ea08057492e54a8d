package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.servlet.http.HttpServletRequest;

import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.CustomRequestLog;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.ContainerLifeCycle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.contract.EndedSessions;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.RawHttp;
import org.splice4j.spi.contract.Streams;

/**
 * {@link SplicedRequestLog} on a real Jetty proxy ({@link SpliceProxyServlet}, the linux provider) in front of a real
 * Jetty backend, with Jetty's {@link CustomRequestLog} as the wrapped log and a client that speaks HTTP/1.1 on a raw
 * socket, so that the test knows the exact bytes it received, head and body.
 */
class SplicedRequestLogTest {

    private static final long MiB = 1024 * 1024;
    private static final String BIG = "/stream?size=" + 8 * MiB + "&seed=11";

    private static LinuxTestbed bed;
    private static Backend backend;
    private static final EndedSessions ended = new EndedSessions();

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

    /** A reverse proxy to the backend. */
    public static final class ReverseProxy extends SpliceProxyServlet {
        @Override
        protected String rewriteTarget(HttpServletRequest request) {
            String q = request.getQueryString();
            return backend.httpUri() + request.getRequestURI() + (q == null ? "" : "?" + q);
        }
    }

    /** Jetty's log writer interface, keeping each line for the test to wait on. */
    static final class Lines implements RequestLog.Writer {
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        @Override
        public void write(String line) {
            lines.add(line);
        }

        String next() throws InterruptedException {
            String line = lines.poll(20, TimeUnit.SECONDS);
            assertThat(line).as("a request log line").isNotNull();
            return line;
        }
    }

    /** The server's request log: passes each request on, then says which one it was (so a test knows it was logged). */
    static final class Logged extends ContainerLifeCycle implements RequestLog {
        final RequestLog next;
        final BlockingQueue<String> requests = new LinkedBlockingQueue<>();

        Logged(RequestLog next) {
            this.next = next;
            addBean(next);
        }

        @Override
        public void log(Request request, Response response) {
            next.log(request, response);
            requests.add(request.getHttpURI().getPathQuery());
        }

        /** Waits until Jetty has logged the request for {@code pathQuery} (requests logged before it are skipped). */
        void await(String pathQuery) throws InterruptedException {
            for (String r; (r = requests.poll(20, TimeUnit.SECONDS)) != null; ) {
                if (r.equals(pathQuery)) {
                    return;
                }
            }
            throw new AssertionError("Jetty did not log " + pathQuery);
        }
    }

    private record Proxy(Server server, ReverseProxy servlet, Logged log) implements AutoCloseable {
        int port() {
            return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
        }

        @Override
        public void close() throws Exception {
            server.stop();
        }
    }

    /**
     * A proxy server with the servlet and this request log; {@code threshold} as the servlet's, or its default. It
     * splices the closing way (the servlet writes the head, {@code Connection: close}), the one SplicedRequestLog is
     * for, unless {@code keepAlive}.
     */
    private static Proxy proxy(RequestLog requestLog, String threshold) throws Exception {
        return proxy(requestLog, threshold, false);
    }

    private static Proxy proxy(RequestLog requestLog, String threshold, boolean keepAlive) throws Exception {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        server.addConnector(connector);
        ReverseProxy servlet = new ReverseProxy();
        servlet.setSplicer(bed.splicer);
        ServletHolder holder = new ServletHolder(servlet);
        if (threshold != null) {
            holder.setInitParameter(SpliceProxyServlet.THRESHOLD_PARAM, threshold);
        }
        holder.setInitParameter(SpliceProxyServlet.KEEP_ALIVE_PARAM, String.valueOf(keepAlive));
        ServletContextHandler context = new ServletContextHandler("/");
        context.addServlet(holder, "/*");
        server.setHandler(context);
        Logged logged = new Logged(requestLog);
        server.setRequestLog(logged);
        server.start();
        return new Proxy(server, servlet, logged);
    }

    /** What the client received: the head's length and the body's bytes and SHA-256. */
    private record Fetched(int status, int headBytes, Streams.Received body) {
    }

    /**
     * One GET on a new connection, with a Referer and a User-Agent; reads the head, then Content-Length bytes, and
     * closes, as a client does after a {@code Connection: close} response (the spliced tunnel ends then).
     */
    private static Fetched get(int port, String pathQuery) throws IOException {
        try (Socket s = RawHttp.connect(port)) {
            OutputStream out = s.getOutputStream();
            out.write(("GET " + pathQuery + " HTTP/1.1\r\nHost: 127.0.0.1:" + port
                    + "\r\nReferer: http://referrer.test/page\r\nUser-Agent: splice4j-test/1.0\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String head = RawHttp.readHead(in);
            Matcher length = Pattern.compile("(?im)^Content-Length: *(\\d+)$").matcher(head);
            assertThat(length.find()).as("a Content-Length in " + head).isTrue();
            Streams.Received body = Streams.readExactlyDigest(in, Long.parseLong(length.group(1)));
            return new Fetched(RawHttp.status(head), head.getBytes(StandardCharsets.ISO_8859_1).length, body);
        }
    }

    /** The seeded stream's expected digest, for a {@code /stream?size=N&seed=11} body. */
    private static Streams.Received stream(long size) {
        return new Streams.Received(size, Streams.expected(11, size, new byte[0]));
    }

    /** CustomRequestLog's %t: [dd/MMM/yyyy:HH:mm:ss ZZZ] in GMT (the month as the default locale names it). */
    private static final Pattern NCSA_LINE =
            Pattern.compile("^(\\S+ - \\S+ )\\[\\d\\d/\\p{L}{3,}\\.?/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\](.*)$");

    /** An NCSA line with its date replaced by {@code DATE}, after checking that date's format. */
    private static String withoutDate(String line) {
        Matcher m = NCSA_LINE.matcher(line);
        assertThat(m.matches()).as("an NCSA line with CustomRequestLog's date: " + line).isTrue();
        return m.group(1) + "[DATE]" + m.group(2);
    }

    @Test
    void customRequestLogAloneRecordsASplicedResponseAs500() throws Exception {
        Lines lines = new Lines();
        try (Proxy proxy = proxy(new CustomRequestLog(lines, CustomRequestLog.NCSA_FORMAT), null)) {
            Fetched f = get(proxy.port(), BIG);
            assertThat(f.status()).isEqualTo(200);
            assertThat(f.body()).isEqualTo(stream(8 * MiB));
            assertThat(proxy.servlet().getSplicedResponses()).isEqualTo(1);
            // The reason for SplicedRequestLog: Jetty saw its connection close mid-response; the count is the size
            // of an error page that was never sent, not the body's.
            String line = lines.next();
            assertThat(withoutDate(line)).startsWith("127.0.0.1 - - [DATE] \"GET " + BIG + " HTTP/1.1\" 500 ")
                    .doesNotEndWith(" " + 8 * MiB);
        }
    }

    /** Kept alive, Jetty writes the head and completes the response: its own log is right, and SplicedRequestLog passes. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aKeptAliveSplicedResponseIsLoggedByTheWrappedLogAsSent(boolean wrapped) throws Exception {
        Lines lines = new Lines();
        CustomRequestLog custom = new CustomRequestLog(lines, CustomRequestLog.NCSA_FORMAT);
        try (Proxy proxy = proxy(wrapped ? new SplicedRequestLog(custom) : custom, null, true)) {
            Fetched f = get(proxy.port(), BIG);
            assertThat(f.status()).isEqualTo(200);
            assertThat(f.body()).isEqualTo(stream(8 * MiB));
            assertThat(proxy.servlet().getSplicedResponses()).isEqualTo(1);
            assertThat(ended.poll(20, TimeUnit.SECONDS).outcome()).isEqualTo(SpliceResult.Outcome.BOUNDS_REACHED);
            assertThat(withoutDate(lines.next()))
                    .isEqualTo("127.0.0.1 - - [DATE] \"GET " + BIG + " HTTP/1.1\" 200 " + 8 * MiB);
            proxy.log().await(BIG);
            assertThat(lines.lines).as("one line").isEmpty();
        }
    }

    @Test
    void aSplicedResponseIsLoggedOnceWithItsStatusAndTheBodyBytesTheClientGot() throws Exception {
        Lines lines = new Lines();
        try (Proxy proxy = proxy(new SplicedRequestLog(new CustomRequestLog(lines, CustomRequestLog.NCSA_FORMAT)),
                null)) {
            Fetched f = get(proxy.port(), BIG);
            assertThat(f.status()).isEqualTo(200);
            assertThat(f.body()).isEqualTo(stream(8 * MiB));
            assertThat(proxy.servlet().getSplicedResponses()).isEqualTo(1);
            SpliceResult result = ended.poll(20, TimeUnit.SECONDS);
            assertThat(result).isNotNull();
            assertThat(result.bytesBToA()).as("the session counts what the client read, head and body")
                    .isEqualTo(f.headBytes() + 8 * MiB);

            assertThat(withoutDate(lines.next()))
                    .isEqualTo("127.0.0.1 - - [DATE] \"GET " + BIG + " HTTP/1.1\" 200 " + 8 * MiB);
            proxy.log().await(BIG);
            assertThat(lines.lines).as("one line for the spliced response: the wrapped log never saw it").isEmpty();

            // A small body goes the stock way, and CustomRequestLog's own line with it.
            String small = "/stream?size=1000&seed=11";
            Fetched s = get(proxy.port(), small);
            assertThat(s.body()).isEqualTo(stream(1000));
            assertThat(withoutDate(lines.next()))
                    .isEqualTo("127.0.0.1 - - [DATE] \"GET " + small + " HTTP/1.1\" 200 1000");
            assertThat(proxy.servlet().getSplicedResponses()).isEqualTo(1);
        }
    }

    /** The same request through a proxy that splices and one that does not: the two lines must be the same. */
    @ParameterizedTest
    @ValueSource(strings = {CustomRequestLog.NCSA_FORMAT, CustomRequestLog.EXTENDED_NCSA_FORMAT})
    void theSplicedLineIsTheLineCustomRequestLogWritesForTheResponseUnspliced(String format) throws Exception {
        Lines splicedLines = new Lines();
        Lines stockLines = new Lines();
        String path = "/stream?size=" + 4 * MiB + "&seed=11";
        try (Proxy spliced = proxy(new SplicedRequestLog(new CustomRequestLog(splicedLines, format)), null);
             Proxy stock = proxy(new CustomRequestLog(stockLines, format), "1g")) {
            assertThat(get(spliced.port(), path).body()).isEqualTo(stream(4 * MiB));
            assertThat(get(stock.port(), path).body()).isEqualTo(stream(4 * MiB));
            assertThat(spliced.servlet().getSplicedResponses()).isEqualTo(1);
            assertThat(stock.servlet().getSplicedResponses()).isZero();
            String expected = withoutDate(stockLines.next());
            assertThat(expected).endsWith(format.equals(CustomRequestLog.NCSA_FORMAT) ? " 200 " + 4 * MiB
                    : " 200 " + 4 * MiB + " \"http://referrer.test/page\" \"splice4j-test/1.0\"");
            assertThat(withoutDate(splicedLines.next())).isEqualTo(expected);
        }
    }

    @Test
    void notFoundFromTheBackendIsLoggedAs404ByTheWrappedLog() throws Exception {
        Lines lines = new Lines();
        try (Proxy proxy = proxy(new SplicedRequestLog(new CustomRequestLog(lines, CustomRequestLog.NCSA_FORMAT)),
                null)) {
            // Large enough to splice, but only a 200 or a 206 is spliced: this one goes the stock way.
            String large = "/stream?size=" + 4 * MiB + "&seed=11&status=404";
            Fetched big = get(proxy.port(), large);
            assertThat(big.status()).isEqualTo(404);
            assertThat(big.body()).isEqualTo(stream(4 * MiB));
            assertThat(withoutDate(lines.next()))
                    .isEqualTo("127.0.0.1 - - [DATE] \"GET " + large + " HTTP/1.1\" 404 " + 4 * MiB);

            // Jetty's own 404 page from the backend.
            Fetched missing = get(proxy.port(), "/missing");
            assertThat(missing.status()).isEqualTo(404);
            assertThat(withoutDate(lines.next()))
                    .isEqualTo("127.0.0.1 - - [DATE] \"GET /missing HTTP/1.1\" 404 " + missing.body().bytes());
            assertThat(proxy.servlet().getSplicedResponses()).isZero();
        }
    }

    @Test
    void aWriterThatFailsLosesTheLineAndNothingElse() throws Exception {
        BlockingQueue<LogRecord> warnings = new LinkedBlockingQueue<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        // System.Logger goes to java.util.logging here; the local keeps the JUL logger (weakly held) alive.
        Logger jul = Logger.getLogger(SplicedRequestLog.class.getName());
        jul.addHandler(capture);
        List<String> attempted = new ArrayList<>();
        RequestLog.Writer failing = line -> {
            synchronized (attempted) {
                attempted.add(line);
            }
            throw new IOException("disk full");
        };
        try (Proxy proxy = proxy(new SplicedRequestLog(new CustomRequestLog(failing, CustomRequestLog.NCSA_FORMAT)),
                null)) {
            for (int i = 0; i < 2; i++) {
                Fetched f = get(proxy.port(), BIG);
                assertThat(f.body()).isEqualTo(stream(8 * MiB));
                proxy.log().await(BIG);
                LogRecord warning = warnings.poll(20, TimeUnit.SECONDS);
                assertThat(warning).as("the lost line is reported").isNotNull();
                assertThat(warning.getMessage()).contains("cannot write the request log line")
                        .contains("\"GET " + BIG + " HTTP/1.1\" 200 " + 8 * MiB);
                assertThat(warning.getThrown()).hasMessage("disk full");
            }
            String small = "/stream?size=1000&seed=11";
            assertThat(get(proxy.port(), small).body()).isEqualTo(stream(1000));
            proxy.log().await(small); // CustomRequestLog reports its own failed write, through SLF4J
            assertThat(proxy.servlet().getSplicedResponses()).isEqualTo(2);
        } finally {
            jul.removeHandler(capture);
        }
        synchronized (attempted) {
            assertThat(attempted).hasSize(3);
        }
    }

    @Test
    void onlyTheTwoNcsaFormatsAreAccepted() {
        Lines lines = new Lines();
        assertThatThrownBy(() -> new SplicedRequestLog(new CustomRequestLog(lines, "%{client}a %s %O")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NCSA_FORMAT");
        RequestLog other = (request, response) -> { };
        assertThat(new SplicedRequestLog(other, lines, CustomRequestLog.EXTENDED_NCSA_FORMAT).getRequestLog())
                .isSameAs(other);
    }
}
