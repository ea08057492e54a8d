package org.splice4j.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.splice4j.spi.contract.RawHttp;

/** What {@link SpliceUpgradeHandler} answers when it does not open a tunnel, with hand-made requests. */
class SpliceUpgradeHandlerTest {

    private static Backend backend;

    @BeforeAll
    static void start() throws Exception {
        backend = Backend.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (backend != null) {
            backend.close();
        }
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
        try (java.net.ServerSocket gone = new java.net.ServerSocket(0)) {
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
}
