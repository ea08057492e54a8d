package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import jakarta.servlet.http.HttpServletRequest;

import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import org.splice4j.spi.contract.FailingSplicer;
import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.RawHttp;
import org.splice4j.spi.contract.Streams;

/**
 * A splicer that throws from {@code splice}, an Error included: each Jetty component gives Jetty back the idle
 * timeouts it switched off and relays the exchange the stock way (the Upgrade handler by copying), and what arrives
 * is what was sent.
 */
class SplicerFailureTest {

    private static final long MiB = 1024 * 1024;
    /** Short, so that an idle timeout left switched off shows as a tunnel that never closes. */
    private static final int IDLE = 1000;

    private static Backend backend;
    private static EchoServer echo;
    private static final ExecutorService pool = Peers.newPool("failure-test");

    @BeforeAll
    static void start() throws Exception {
        backend = Backend.start();
        echo = new EchoServer();
    }

    @AfterAll
    static void stop() throws Exception {
        Closing.closeAll(echo, backend, pool::shutdownNow);
    }

    /** Writes {@code size} seeded bytes on another thread and checks that the same bytes come back. */
    private static void echoThrough(Socket s, long seed, long size) throws Exception {
        OutputStream out = s.getOutputStream();
        Future<?> writing = pool.submit(() -> {
            try (InputStream in = Streams.inputStream(seed, size)) {
                in.transferTo(out);
            }
            return null;
        });
        assertThat(Streams.readExactlyDigest(s.getInputStream(), size))
                .isEqualTo(new Streams.Received(size, Streams.expected(seed, size, new byte[0])));
        writing.get(10, TimeUnit.SECONDS);
    }

    /** The client's next read, on another thread: -1 once the proxy closes the idle tunnel. */
    private static Future<Integer> endOf(Socket s) {
        return pool.submit(() -> s.getInputStream().read());
    }

    @ParameterizedTest
    @EnumSource(ThrowingSplicer.Failure.class)
    void connectTunnelTakesTheStockPathWithItsIdleTimeouts(ThrowingSplicer.Failure failure) throws Exception {
        FailingSplicer splicer = ThrowingSplicer.of(failure);
        List<EndPoint> serverSides = new CopyOnWriteArrayList<>();
        SpliceConnectHandler handler = new SpliceConnectHandler() {
            @Override
            protected UpstreamConnection newUpstreamConnection(EndPoint endPoint, ConnectContext context) {
                serverSides.add(endPoint);
                return super.newUpstreamConnection(endPoint, context);
            }
        };
        handler.setSplicer(splicer);
        handler.setIdleTimeout(IDLE);
        try (Proxy proxy = Proxy.start(handler)) {
            proxy.connector.setIdleTimeout(IDLE);
            try (Socket s = RawHttp.connect(proxy.port())) {
                assertThat(RawHttp.connectTunnel(s, echo.authority(), new byte[0])).isEqualTo(200);
                echoThrough(s, 21, 4 * MiB);
                assertThat(splicer.calls).hasValue(1);
                assertThat(handler.getStockTunnels()).isEqualTo(1);
                assertThat(handler.getSplicedTunnels()).isZero();
                assertThat(handler.getOpenSplicedTunnels()).isZero();
                // Both endpoints have their idle timeout back: the stock path relies on it.
                assertThat(proxy.connector.getConnectedEndPoints()).singleElement()
                        .extracting(EndPoint::getIdleTimeout).isEqualTo((long) IDLE);
                assertThat(serverSides).singleElement().extracting(EndPoint::getIdleTimeout).isEqualTo((long) IDLE);
                // And it works: the idle tunnel is closed, at both ends.
                assertThat(endOf(s).get(10, TimeUnit.SECONDS)).isEqualTo(-1);
                assertThat(echo.awaitNoConnections(10, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ThrowingSplicer.Failure.class)
    void upgradeTunnelIsCopiedWithItsIdleTimeout(ThrowingSplicer.Failure failure) throws Exception {
        FailingSplicer splicer = ThrowingSplicer.of(failure);
        SpliceUpgradeHandler handler = new SpliceUpgradeHandler();
        handler.setSplicer(splicer);
        handler.setIdleTimeout(IDLE);
        // A server that switches to an echo protocol, and closes after echoing the client's end of stream.
        try (ScriptedServer server = new ScriptedServer(s -> {
                RawHttp.readHead(s.getInputStream());
                s.getOutputStream().write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                        + "Connection: Upgrade\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                s.getInputStream().transferTo(s.getOutputStream());
                s.shutdownOutput();
            });
             Proxy proxy = Proxy.start(handler);
             Socket s = RawHttp.connect(proxy.port())) {
            s.getOutputStream().write(("GET http://" + server.authority() + "/echo HTTP/1.1\r\nHost: "
                    + server.authority() + "\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(RawHttp.status(RawHttp.readHead(s.getInputStream()))).isEqualTo(101);
            echoThrough(s, 22, 4 * MiB);
            assertThat(splicer.calls).hasValue(1);
            assertThat(handler.getCopiedTunnels()).isEqualTo(1);
            assertThat(handler.getSplicedTunnels()).isZero();
            // The copying relay got the idle timeout the failed splice had switched off: the idle tunnel closes.
            assertThat(endOf(s).get(10, TimeUnit.SECONDS)).isEqualTo(-1);
            CompletableFuture<Throwable> backendSide = server.connections.poll(10, TimeUnit.SECONDS);
            assertThat(backendSide).isNotNull();
            assertThat(backendSide.get(10, TimeUnit.SECONDS)).as("the server's connection ended cleanly").isNull();
        }
    }

    /** A reverse proxy to the backend. */
    public static final class ReverseProxy extends SpliceProxyServlet {
        @Override
        protected String rewriteTarget(HttpServletRequest request) {
            String q = request.getQueryString();
            return backend.httpUri() + request.getRequestURI() + (q == null ? "" : "?" + q);
        }
    }

    @ParameterizedTest
    @EnumSource(ThrowingSplicer.Failure.class)
    void proxiedBodyGoesTheStockWayWithItsIdleTimeouts(ThrowingSplicer.Failure failure) throws Exception {
        FailingSplicer splicer = ThrowingSplicer.of(failure);
        ReverseProxy servlet = new ReverseProxy();
        servlet.setSplicer(splicer);
        Server proxy = new Server();
        ServerConnector connector = new ServerConnector(proxy);
        connector.setHost("127.0.0.1");
        proxy.addConnector(connector);
        ServletContextHandler context = new ServletContextHandler("/");
        ServletHolder holder = new ServletHolder(servlet);
        holder.setInitParameter("idleTimeout", String.valueOf(IDLE)); // the servlet's client, to the backend
        context.addServlet(holder, "/*");
        proxy.setHandler(context);
        BlockingQueue<Integer> logged = new LinkedBlockingQueue<>();
        // The status, or -1 if the servlet left its SplicedResponse (which SplicedRequestLog would log instead).
        proxy.setRequestLog((request, response) -> logged.add(
                request.getAttribute(SplicedResponse.ATTRIBUTE) == null ? response.getStatus() : -1));
        // The backend sees the proxy's connection close once that connection's idle timeout is back.
        CountDownLatch backendClosed = new CountDownLatch(1);
        Connection.Listener closes = new Connection.Listener() {
            @Override
            public void onClosed(Connection connection) {
                backendClosed.countDown();
            }
        };
        backend.http.addEventListener(closes);
        HttpClient client = new HttpClient();
        try {
            proxy.start();
            client.start();
            long size = 4 * MiB;
            InputStreamResponseListener listener = new InputStreamResponseListener();
            client.newRequest("http://127.0.0.1:" + connector.getLocalPort() + "/stream?size=" + size + "&seed=23")
                    .timeout(30, TimeUnit.SECONDS).send(listener);
            assertThat(listener.get(20, TimeUnit.SECONDS).getStatus()).isEqualTo(200);
            try (InputStream body = listener.getInputStream()) {
                assertThat(Streams.readToEnd(body))
                        .isEqualTo(new Streams.Received(size, Streams.expected(23, size, new byte[0])));
            }
            assertThat(logged.poll(10, TimeUnit.SECONDS))
                    .as("the stock path completed the exchange, with no SplicedResponse left").isEqualTo(200);
            assertThat(splicer.calls).hasValue(1);
            assertThat(servlet.getSplicedResponses()).isZero();
            // The client's connection is kept alive with the connector's idle timeout, not none.
            assertThat(connector.getConnectedEndPoints()).singleElement()
                    .extracting(EndPoint::getIdleTimeout).isEqualTo(connector.getIdleTimeout());
            assertThat(backendClosed.await(10, TimeUnit.SECONDS))
                    .as("the servlet's idle connection to the backend is closed by its idle timeout").isTrue();
        } finally {
            backend.http.removeEventListener(closes);
            client.stop();
            proxy.stop();
        }
    }
}
