package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.zip.GZIPInputStream;

import jakarta.servlet.http.HttpServletRequest;

import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.HttpClientTransport;
import org.eclipse.jetty.client.HttpProxy;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Origin;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.contract.EndedSessions;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/** {@link SpliceProxyServlet} in front of a real Jetty backend, with Jetty's HttpClient over HTTP/1.1 and HTTP/2. */
class SpliceProxyServletTest {

    private static final long MiB = 1024 * 1024;

    private static LinuxTestbed bed;
    private static Backend backend;
    private static final EndedSessions ended = new EndedSessions();
    /** The status each proxy's request log saw, per request. */
    private static final BlockingQueue<Integer> logged = new LinkedBlockingQueue<>();

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
        logged.clear();
    }

    /** A reverse proxy to the backend: every path goes there. */
    public static final class ReverseProxy extends SpliceProxyServlet {
        @Override
        protected String rewriteTarget(HttpServletRequest request) {
            String q = request.getQueryString();
            return backend.httpUri() + request.getRequestURI() + (q == null ? "" : "?" + q);
        }
    }

    /** A proxy server whose context has the servlet, optionally behind a gzip handler, over HTTP/1.1 and h2c. */
    private static Server proxy(SpliceProxyServlet servlet, boolean gzip, boolean tls) throws Exception {
        return proxy(servlet, gzip, tls, true);
    }

    private static Server proxy(SpliceProxyServlet servlet, boolean gzip, boolean tls, boolean keepAlive)
            throws Exception {
        Server server = new Server();
        HttpConfiguration config = new HttpConfiguration();
        ServerConnector connector = tls
                ? new ServerConnector(server, Backend.serverTls())
                : new ServerConnector(server, new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config));
        connector.setHost("127.0.0.1");
        server.addConnector(connector);
        servlet.setSplicer(bed.splicer);
        ServletContextHandler context = new ServletContextHandler("/");
        ServletHolder holder = new ServletHolder(servlet);
        holder.setInitParameter(SpliceProxyServlet.KEEP_ALIVE_PARAM, String.valueOf(keepAlive));
        context.addServlet(holder, "/*");
        server.setHandler(gzip ? new GzipHandler(context) : context);
        server.setRequestLog((request, response) -> logged.add(response.getStatus()));
        server.start();
        return server;
    }

    private static int port(Server server) {
        return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    }

    private static HttpClient client(HttpClientTransport transport) throws Exception {
        HttpClient client = new HttpClient(transport);
        client.start();
        return client;
    }

    private static HttpClient http1() throws Exception {
        ClientConnector connector = new ClientConnector();
        connector.setSslContextFactory(Backend.clientTls());
        return client(new HttpClientTransportOverHTTP(connector));
    }

    /** GETs {@code size} bytes from {@code uri}, checks them and returns the response head. */
    private static Response get(HttpClient client, String uri, long size) throws Exception {
        InputStreamResponseListener listener = new InputStreamResponseListener();
        client.newRequest(uri + "/stream?size=" + size + "&seed=11").timeout(120, TimeUnit.SECONDS).send(listener);
        Response response = listener.get(30, TimeUnit.SECONDS);
        assertThat(response.getStatus()).isEqualTo(200);
        try (InputStream body = listener.getInputStream()) {
            assertThat(Streams.readToEnd(body)).isEqualTo(new Streams.Received(size, Streams.expected(11, size, new byte[0])));
        }
        return response;
    }

    @Test
    void aLargeBodyIsSplicedAndTheConnectionKeptAlive() throws Exception {
        ReverseProxy servlet = new ReverseProxy();
        Server proxy = proxy(servlet, false, false);
        HttpClient client = http1();
        try {
            long size = 256 * MiB;
            Response r = get(client, "http://127.0.0.1:" + port(proxy), size);
            assertThat(r.getHeaders().get(HttpHeader.CONNECTION)).isNull();
            assertThat(r.getHeaders().get(HttpHeader.SERVER)).as("Jetty wrote the head").startsWith("Jetty");
            assertThat(r.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH)).isEqualTo(size);
            SpliceResult result = ended.poll(20, TimeUnit.SECONDS);
            assertThat(result).isNotNull();
            assertThat(result.outcome()).isEqualTo(SpliceResult.Outcome.BOUNDS_REACHED);
            assertThat(result.bytesBToA()).isEqualTo(size);
            assertThat(result.splicedBytes()).as("body relayed by splice(2)").isGreaterThanOrEqualTo(size - MiB);
            assertThat(servlet.getSplicedResponses()).isEqualTo(1);
            assertThat(logged.poll(10, TimeUnit.SECONDS)).as("the request log's status").isEqualTo(200);
            // The same client goes on, on the same connection; a small body goes the stock way on it.
            get(client, "http://127.0.0.1:" + port(proxy), 1000);
            assertThat(servlet.getSplicedResponses()).isEqualTo(1);
        } finally {
            client.stop();
            proxy.stop();
        }
    }

    @Test
    void spliceKeepAliveFalseSplicesTheClosingWay() throws Exception {
        ReverseProxy servlet = new ReverseProxy();
        Server proxy = proxy(servlet, false, false, false);
        HttpClient client = http1();
        try {
            long size = 64 * MiB;
            Response r = get(client, "http://127.0.0.1:" + port(proxy), size);
            assertThat(r.getHeaders().get(HttpHeader.CONNECTION)).isEqualTo("close");
            assertThat(r.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH)).isEqualTo(size);
            SpliceResult result = ended.poll(20, TimeUnit.SECONDS);
            assertThat(result).isNotNull();
            assertThat(result.outcome()).isEqualTo(SpliceResult.Outcome.COMPLETED);
            assertThat(result.splicedBytes()).as("body relayed by splice(2)").isGreaterThanOrEqualTo(size - MiB);
            assertThat(servlet.getSplicedResponses()).isEqualTo(1);
            // Jetty saw the client's connection close before its response completed (a documented deviation).
            assertThat(logged.poll(10, TimeUnit.SECONDS)).as("the request log's status").isEqualTo(500);
            get(client, "http://127.0.0.1:" + port(proxy), 1000);
            assertThat(servlet.getSplicedResponses()).isEqualTo(1);
        } finally {
            client.stop();
            proxy.stop();
        }
    }

    @Test
    void asAForwardProxyToo() throws Exception {
        SpliceProxyServlet servlet = new SpliceProxyServlet();
        Server proxy = proxy(servlet, false, false);
        HttpClient client = http1();
        client.getProxyConfiguration().addProxy(new HttpProxy("127.0.0.1", port(proxy)));
        try {
            get(client, backend.httpUri(), 32 * MiB);
            assertThat(servlet.getSplicedResponses()).isEqualTo(1);
            // An https origin is tunnelled by CONNECT, which this servlet does not handle: Jetty answers it.
        } finally {
            client.stop();
            proxy.stop();
        }
    }

    @Test
    void smallBodiesGzipTlsAndHttp2TakeTheStockPath() throws Exception {
        ReverseProxy plain = new ReverseProxy();
        Server proxy = proxy(plain, false, false);
        ReverseProxy gzipped = new ReverseProxy();
        Server gzipProxy = proxy(gzipped, true, false);
        ReverseProxy secure = new ReverseProxy();
        Server tlsProxy = proxy(secure, false, true);
        HttpClient h1 = http1();
        ClientConnector connector = new ClientConnector();
        HttpClient h2 = client(new HttpClientTransportOverHTTP2(new HTTP2Client(connector)));
        try {
            get(h1, "http://127.0.0.1:" + port(proxy), 64 * 1024); // under the threshold
            assertThat(plain.getSplicedResponses()).isZero();

            // The JDK's client does not decode: it shows that gzip did transform the body, and what it made of it.
            // (Its HttpClient in full: the imported HttpClient is Jetty's.)
            long size = 4 * MiB;
            HttpResponse<InputStream> z = java.net.http.HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port(gzipProxy)
                            + "/stream?size=" + size + "&seed=11")).header("Accept-Encoding", "gzip").build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(z.statusCode()).isEqualTo(200);
            assertThat(z.headers().firstValue("Content-Encoding")).as("gzip transformed it").hasValue("gzip");
            try (InputStream body = new GZIPInputStream(z.body())) {
                assertThat(Streams.readToEnd(body)).isEqualTo(new Streams.Received(size, Streams.expected(11, size, new byte[0])));
            }
            assertThat(gzipped.getSplicedResponses()).isZero();

            get(h1, "https://127.0.0.1:" + port(tlsProxy), 4 * MiB);
            assertThat(secure.getSplicedResponses()).isZero();

            Response r2 = get(h2, "http://127.0.0.1:" + port(proxy), 4 * MiB);
            assertThat(r2.getVersion().asString()).isEqualTo("HTTP/2.0");
            assertThat(plain.getSplicedResponses()).isZero();
            assertThat(ended).isEmpty();
        } finally {
            h1.stop();
            h2.stop();
            proxy.stop();
            gzipProxy.stop();
            tlsProxy.stop();
        }
    }

    @Test
    void splicedResponsesLogNoWarning() throws Exception {
        List<LogRecord> julWarnings = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    julWarnings.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger root = Logger.getLogger("");
        root.addHandler(capture);
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ReverseProxy servlet = new ReverseProxy();
        Server proxy = proxy(servlet, false, false);
        HttpClient client = http1();
        try {
            System.setErr(new PrintStream(captured, true)); // slf4j-simple writes to the current System.err
            for (int i = 0; i < 3; i++) {
                get(client, "http://127.0.0.1:" + port(proxy), 8 * MiB);
                assertThat(ended.poll(20, TimeUnit.SECONDS)).isNotNull();
            }
        } finally {
            System.setErr(err);
            root.removeHandler(capture);
            client.stop();
            proxy.stop();
        }
        assertThat(servlet.getSplicedResponses()).isEqualTo(3);
        assertThat(captured.toString()).doesNotContain("WARN").doesNotContain("ERROR");
        assertThat(julWarnings).isEmpty();
    }

    /** Allows connections to one address only, which the test changes; records every address it is asked about. */
    public static final class OneAddressProxy extends SpliceProxyServlet {
        volatile String allowed;
        final List<InetSocketAddress> asked = new CopyOnWriteArrayList<>();

        @Override
        protected boolean allowConnectTo(InetSocketAddress resolved) {
            asked.add(resolved);
            return resolved.getAddress().getHostAddress().equals(allowed);
        }
    }

    @Test
    void theAddressTheClientConnectsToIsCheckedAfterItsOwnResolution() throws Exception {
        OneAddressProxy servlet = new OneAddressProxy();
        servlet.allowed = "127.0.0.2"; // not what localhost resolves to
        Server proxy = proxy(servlet, false, false);
        HttpClient client = http1();
        client.getProxyConfiguration().addProxy(new HttpProxy("127.0.0.1", port(proxy)));
        AtomicInteger backendConnections = new AtomicInteger();
        Connection.Listener opens = new Connection.Listener() {
            @Override
            public void onOpened(Connection connection) {
                backendConnections.incrementAndGet();
            }
        };
        backend.http.addEventListener(opens);
        String uri = "http://localhost:" + backend.http.getLocalPort() + "/hello";
        try {
            // The name passes validateDestination (no list is set): the address it resolves to is refused.
            ContentResponse refused = client.newRequest(uri).timeout(20, TimeUnit.SECONDS).send();
            assertThat(refused.getStatus()).isEqualTo(403);
            assertThat(servlet.asked).isNotEmpty().allSatisfy(a -> {
                assertThat(a.getAddress().isLoopbackAddress()).isTrue();
                assertThat(a.getPort()).isEqualTo(backend.http.getLocalPort());
            });
            assertThat(backendConnections).as("never connected to the refused address").hasValue(0);
            // The same name, once its address is allowed, goes through.
            servlet.allowed = "127.0.0.1";
            ContentResponse allowed = client.newRequest(uri).timeout(20, TimeUnit.SECONDS).send();
            assertThat(allowed.getStatus()).isEqualTo(200);
            assertThat(allowed.getContentAsString()).isEqualTo("hello");
            assertThat(backendConnections.get()).isPositive();
        } finally {
            backend.http.removeEventListener(opens);
            client.stop();
            proxy.stop();
        }
    }
}
