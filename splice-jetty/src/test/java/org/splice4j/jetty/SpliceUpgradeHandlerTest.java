package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.splice4j.spi.contract.Peers;
import org.splice4j.spi.contract.RawHttp;

/** What {@link SpliceUpgradeHandler} answers when it does not open a tunnel, with hand-made requests. */
class SpliceUpgradeHandlerTest {

    private static Backend backend;
    private static final ExecutorService pool = Peers.newPool("upgrade-test");

    @BeforeAll
    static void start() throws Exception {
        backend = Backend.start();
    }

    @AfterAll
    static void stop() throws Exception {
        Closing.closeAll(backend, pool::shutdownNow);
    }

    /** Authentication fails when the request carries {@code X-Deny}. */
    static final class Checking extends SpliceUpgradeHandler {
        @Override
        protected boolean handleAuthentication(Request request, Response response, String address) {
            return request.getHeaders().get("X-Deny") == null;
        }
    }

    /** Sends an upgrade request in absolute form for {@code authority}; returns the whole answer as text. */
    private static String upgrade(int proxyPort, String authority, String path, String... headers) throws IOException {
        try (Socket s = RawHttp.connect(proxyPort)) {
            StringBuilder req = new StringBuilder("GET http://" + authority + path + " HTTP/1.1\r\nHost: " + authority
                    + "\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"); // close: readAllBytes ends
            for (String h : headers) {
                req.append(h).append("\r\n");
            }
            s.getOutputStream().write(req.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void refusalsAndAnswersOtherThan101() throws Exception {
        int closedPort;
        try (ServerSocket gone = new ServerSocket(0)) {
            closedPort = gone.getLocalPort();
        }
        Checking handler = new Checking();
        handler.getHostIncludeExclude().exclude("127.0.0.2:" + backend.http.getLocalPort());
        try (Proxy proxy = Proxy.start(handler)) {
            String backendAuthority = "127.0.0.1:" + backend.http.getLocalPort();
            assertThat(upgrade(proxy.port(), "127.0.0.2:" + backend.http.getLocalPort(), "/hello"))
                    .as("excluded host").startsWith("HTTP/1.1 403");
            assertThat(upgrade(proxy.port(), backendAuthority, "/hello", "X-Deny: yes"))
                    .as("failed authentication").startsWith("HTTP/1.1 407");
            assertThat(upgrade(proxy.port(), "127.0.0.1:" + closedPort, "/hello"))
                    .as("nothing listening").startsWith("HTTP/1.1 502");
            // A server that does not switch: its answer is passed on, body included, and the connection closed.
            String answer = upgrade(proxy.port(), backendAuthority, "/hello");
            assertThat(answer).startsWith("HTTP/1.1 200").contains("Connection: close").endsWith("\r\n\r\nhello");
            // Addressed to the proxy itself: not a tunnel, the next handler answers (there is none: 404).
            assertThat(upgrade(proxy.port(), "127.0.0.1:" + proxy.port(), "/ws")).startsWith("HTTP/1.1 404");
            // Already through this handler: a loop.
            assertThat(upgrade(proxy.port(), backendAuthority, "/hello", "Via: 1.1 other, " + viaOf(proxy, handler)))
                    .startsWith("HTTP/1.1 508");
            assertThat(handler.getSplicedTunnels() + handler.getCopiedTunnels()).isZero();
        }
    }

    /** The Via token the handler adds, as the backend saw it on a forwarded request. */
    private static String viaOf(Proxy proxy, SpliceUpgradeHandler handler) throws IOException {
        String echoed = upgrade(proxy.port(), "127.0.0.1:" + backend.http.getLocalPort(), "/via");
        String line = echoed.substring(echoed.indexOf("\r\n\r\n") + 4);
        assertThat(line).startsWith("1.1 splice4j-");
        return line;
    }

    // ---- a backend that never finishes its answer --------------------------------------------------------------

    /** Short, so that the tests wait little; what they assert is the answer, not how fast it came. */
    private static final long HANDSHAKE_TIMEOUT = 1000;

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Writes {@code chunk} again and again, {@code gapMillis} apart, until the proxy closes the connection. */
    private static ScriptedServer.Script forever(String chunk, long gapMillis) {
        return s -> {
            RawHttp.readHead(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (true) {
                out.write(ascii(chunk));
                out.flush();
                Thread.sleep(gapMillis); // the pacing is the misbehaviour under test: each gap is under any timeout
            }
        };
    }

    static Stream<Arguments> slowBackends() {
        return Stream.of(
                // Interim answers every 300 ms: each read is quick, the whole head never comes. Past the deadline.
                Arguments.of("102 Processing, slowly", forever("HTTP/1.1 102 Processing\r\n\r\n", 300), 504),
                // Interim answers as fast as they come: more than the cap of them, well within the deadline.
                Arguments.of("102 Processing, fast", forever("HTTP/1.1 102 Processing\r\n\r\n", 5), 502),
                // A 101 head one byte at a time, its header lines repeated so that it never ends.
                Arguments.of("a head trickled byte by byte", (ScriptedServer.Script) s -> {
                    RawHttp.readHead(s.getInputStream());
                    OutputStream out = s.getOutputStream();
                    byte[] head = ascii("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
                    byte[] more = ascii("X-Slow: yes\r\n");
                    for (int i = 0; ; i++) {
                        out.write(i < head.length ? head[i] : more[(i - head.length) % more.length]);
                        out.flush();
                        Thread.sleep(20); // as above: bytes keep coming, faster than any per-read timeout
                    }
                }, 504),
                // A head over the size cap, sent at once: refused whatever the time.
                Arguments.of("a head over 16 KiB", (ScriptedServer.Script) s -> {
                    RawHttp.readHead(s.getInputStream());
                    StringBuilder head = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\n");
                    while (head.length() < 20 * 1024) {
                        head.append("X-Big: ").append("x".repeat(100)).append("\r\n");
                    }
                    s.getOutputStream().write(ascii(head.toString()));
                    s.getInputStream().readAllBytes(); // until the proxy closes
                }, 502));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("slowBackends")
    void aBackendThatNeverCompletesItsHeadGetsAnAnswerWithinTheDeadline(String name, ScriptedServer.Script script,
                                                                        int expected) throws Exception {
        SpliceUpgradeHandler handler = new SpliceUpgradeHandler();
        handler.setHandshakeTimeout(HANDSHAKE_TIMEOUT);
        // Completes when the handler returns the pool thread it ran on.
        CompletableFuture<Void> returned = new CompletableFuture<>();
        Handler.Wrapper outer = new Handler.Wrapper(handler) {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                try {
                    return super.handle(request, response, callback);
                } finally {
                    returned.complete(null);
                }
            }
        };
        try (ScriptedServer server = new ScriptedServer(script); Proxy proxy = Proxy.start(outer)) {
            Future<String> answer = pool.submit(() -> upgrade(proxy.port(), server.authority(), "/ws"));
            assertThat(answer.get(10, TimeUnit.SECONDS)).startsWith("HTTP/1.1 " + expected);
            assertThat(returned).as("the pool thread is released").succeedsWithin(10, TimeUnit.SECONDS);
            CompletableFuture<Throwable> backendSide = server.connections.poll(10, TimeUnit.SECONDS);
            assertThat(backendSide).isNotNull();
            // The script ends when its socket is closed under it (a failed write, or the end of stream).
            assertThat(backendSide).as("the proxy closed its connection to the server")
                    .succeedsWithin(10, TimeUnit.SECONDS);
            assertThat(handler.getSplicedTunnels() + handler.getCopiedTunnels()).isZero();
        }
    }
}
