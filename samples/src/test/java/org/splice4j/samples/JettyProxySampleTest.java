package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.contract.EndedSessions;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.RawHttp;
import org.splice4j.spi.contract.Streams;

/**
 * The jetty-proxy sample with real clients: curl through a CONNECT tunnel, the JDK's HttpClient through the proxy
 * servlet; bodies checked by SHA-256, and the allow list.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JettyProxySampleTest {

    private static final int MiB = 1 << 20;

    private LinuxTestbed bed;
    private com.sun.net.httpserver.HttpServer origin;
    private byte[] body;
    private final EndedSessions ended = new EndedSessions();

    @BeforeAll
    void start() throws Exception {
        bed = LinuxTestbed.open();
        bed.splicer.addListener(ended);
        body = Streams.randomBytes(21, 32 * MiB);
        origin = com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        origin.createContext("/blob", ex -> {
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        });
        origin.start();
    }

    @AfterAll
    void stop() throws Exception {
        if (origin != null) {
            origin.stop(0);
        }
        if (bed != null) {
            bed.close();
        }
    }

    @BeforeEach
    void clear() {
        ended.clear();
    }

    private Server proxy(AllowList allow) throws Exception {
        Server s = JettyProxySample.build(new InetSocketAddress("127.0.0.1", 0), allow, bed.splicer, 4096);
        s.start();
        return s;
    }

    private static int port(Server s) {
        return ((ServerConnector) s.getConnectors()[0]).getLocalPort();
    }

    private String blobUri() {
        return "http://127.0.0.1:" + origin.getAddress().getPort() + "/blob";
    }

    @Test
    void aSilentClientIsClosedAtTheHandshakeTimeoutAndAnIdleTunnelAtTheIdleTimeout() throws Exception {
        Limits limits = new Limits(Duration.ofMillis(300), Duration.ofMillis(700), 100);
        Server proxy = JettyProxySample.build(new InetSocketAddress("127.0.0.1", 0), AllowList.loopbackOnly(),
                bed.splicer, 4096, limits);
        proxy.start();
        try (Socket silent = new Socket("127.0.0.1", port(proxy))) {
            silent.setSoTimeout(20_000); // a timeout fails the test: the proxy kept a silent client
            assertEquals(-1, silent.getInputStream().read(), "a silent client is closed at the handshake timeout");
            // A tunnel outlives the handshake timeout (its client side takes the idle timeout) and ends idle.
            try (Socket client = new Socket("127.0.0.1", port(proxy))) {
                String authority = "127.0.0.1:" + ((InetSocketAddress) bed.target.getLocalAddress()).getPort();
                client.getOutputStream().write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority
                        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                try (SocketChannel server = bed.target.accept()) {
                    String head = RawHttp.readHead(client.getInputStream());
                    assertTrue(head.startsWith("HTTP/1.1 200"), head);
                    client.setSoTimeout(20_000);
                    long opened = System.nanoTime();
                    assertEquals(-1, client.getInputStream().read(), "an idle tunnel ends at the idle timeout");
                    assertTrue(System.nanoTime() - opened >= 500_000_000L,
                            "the tunnel must outlive the 300 ms handshake timeout (idle timeout 700 ms)");
                }
            }
        } finally {
            proxy.stop();
        }
    }

    @Test
    void aboveTheConnectionCapJettyStopsAcceptingUntilOneCloses() throws Exception {
        Limits limits = new Limits(Duration.ofSeconds(30), Limits.DEFAULTS.idleTimeout(), 2);
        Server proxy = JettyProxySample.build(new InetSocketAddress("127.0.0.1", 0), AllowList.loopbackOnly(),
                bed.splicer, 4096, limits);
        proxy.start();
        // Jetty's NetworkConnectionLimit stops accepting at the cap; an acceptor thread already waiting in accept()
        // may take one more connection each, so the cap holds within the number of acceptors.
        int acceptors = ((ServerConnector) proxy.getConnectors()[0]).getAcceptors();
        String authority = "127.0.0.1:" + ((InetSocketAddress) bed.target.getLocalAddress()).getPort();
        byte[] connect = ("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        List<Closeable> open = new ArrayList<>();
        Socket blocked = null;
        int served = 0;
        try {
            // Tunnels until one is not answered: each answered one is accepted, counted and open until closed.
            for (int i = 0; i < 2 + acceptors + 1 && blocked == null; i++) {
                Socket s = new Socket("127.0.0.1", port(proxy));
                open.add(s);
                s.getOutputStream().write(connect);
                s.setSoTimeout(3_000);
                try {
                    String head = RawHttp.readHead(s.getInputStream());
                    assertTrue(head.startsWith("HTTP/1.1 200"), head);
                    open.add(bed.target.accept());
                    served++;
                } catch (SocketTimeoutException notAccepted) {
                    blocked = s;
                }
            }
            assertTrue(blocked != null && served >= 2 && served <= 2 + acceptors,
                    served + " tunnels served with a cap of 2 and " + acceptors + " acceptors");
            open.remove(0).close(); // the first tunnel's client and server: the tunnel ends, a place is free
            open.remove(0).close();
            blocked.setSoTimeout(20_000);
            String head = RawHttp.readHead(blocked.getInputStream());
            assertTrue(head.startsWith("HTTP/1.1 200"), "served once a place is free: " + head);
            open.add(bed.target.accept());
        } finally {
            for (Closeable c : open) {
                c.close();
            }
            proxy.stop();
        }
    }

    @Test
    void curlThroughASplicedConnectTunnel() throws Exception {
        boolean haveCurl = Stream.of("/usr/bin/curl", "/bin/curl").anyMatch(p -> new File(p).canExecute());
        if (!haveCurl) {
            assertTrue(System.getenv("CI") == null, "CI must have curl");
            Assumptions.abort("curl is not installed");
        }
        Server proxy = proxy(AllowList.loopbackOnly());
        try {
            // -p: a CONNECT tunnel even for an http:// URL.
            Process p = new ProcessBuilder("curl", "-s", "-S", "--fail", "--max-time", "60", "-p",
                    "-x", "http://127.0.0.1:" + port(proxy), blobUri()).start();
            byte[] got;
            try (InputStream in = p.getInputStream()) {
                got = in.readAllBytes();
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), new String(p.getErrorStream().readAllBytes()));
            assertEquals(Streams.readToEnd(new ByteArrayInputStream(body)),
                    Streams.readToEnd(new ByteArrayInputStream(got)));
            SpliceResult r = ended.poll(20, TimeUnit.SECONDS);
            assertTrue(r != null && r.splicedBytes() >= body.length - MiB, "tunnel spliced: " + r);
        } finally {
            proxy.stop();
        }
    }

    @Test
    void jdkHttpClientThroughTheProxyServlet() throws Exception {
        Server proxy = proxy(AllowList.loopbackOnly());
        try {
            HttpClient client = HttpClient.newBuilder()
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port(proxy)))).build();
            // ProxySelector.of applies to every URI, loopback ones included.
            HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(URI.create(blobUri())).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            try (InputStream in = r.body()) {
                assertEquals(Streams.readToEnd(new ByteArrayInputStream(body)), Streams.readToEnd(in));
            }
            SpliceResult spliced = ended.poll(20, TimeUnit.SECONDS);
            assertTrue(spliced != null && spliced.splicedBytes() >= body.length - MiB, "body spliced: " + spliced);
        } finally {
            proxy.stop();
        }
    }

    @Test
    void destinationsOutsideTheAllowListAndTheProxyItselfAreRefused() throws Exception {
        Server narrow = proxy(new AllowList().add("10.0.0.0/8"));
        Server loopback = proxy(AllowList.loopbackOnly());
        try {
            assertEquals(403, connect(port(narrow), "127.0.0.1:" + origin.getAddress().getPort()));
            assertEquals(403, connect(port(loopback), "127.0.0.1:" + port(loopback)), "never a proxy for itself");
            assertEquals(200, connect(port(loopback), "127.0.0.1:" + origin.getAddress().getPort()));
            HttpClient client = HttpClient.newBuilder()
                    .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port(narrow)))).build();
            assertEquals(403, client.send(HttpRequest.newBuilder(URI.create(blobUri())).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode());
        } finally {
            narrow.stop();
            loopback.stop();
        }
    }

    @Test
    void reverseProxyKeepsOneConnectionAliveAcrossSplicedBodies() throws Exception {
        Server proxy = JettyProxySample.buildReverse(new InetSocketAddress("127.0.0.1", 0),
                new InetSocketAddress("127.0.0.1", origin.getAddress().getPort()), bed.splicer, Limits.DEFAULTS);
        java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
        proxy.getConnectors()[0].addEventListener(new org.eclipse.jetty.io.Connection.Listener() {
            @Override
            public void onOpened(org.eclipse.jetty.io.Connection connection) {
                accepted.incrementAndGet();
            }
        });
        proxy.start();
        try {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            Streams.Received expected = Streams.readToEnd(new ByteArrayInputStream(body));
            for (int i = 0; i < 4; i++) {
                HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port(proxy) + "/blob")).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                assertEquals(200, r.statusCode());
                try (InputStream in = r.body()) {
                    assertEquals(expected, Streams.readToEnd(in));
                }
                SpliceResult spliced = ended.poll(20, TimeUnit.SECONDS);
                assertTrue(spliced != null && spliced.outcome() == SpliceResult.Outcome.BOUNDS_REACHED
                        && spliced.splicedBytes() > 0, "body spliced: " + spliced);
            }
            assertEquals(1, accepted.get(), "one client connection for the four bodies");
        } finally {
            proxy.stop();
        }
    }

    private static int connect(int proxyPort, String authority) throws Exception {
        try (Socket s = RawHttp.connect(proxyPort)) {
            return RawHttp.connectTunnel(s, authority, new byte[0]);
        }
    }

}
