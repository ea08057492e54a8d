package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.contract.LinuxTestbed;

/**
 * What bounds the socks5 sample against hostile or broken clients and peers: the handshake deadline, the tunnel idle
 * timeout (a sink that never reads), the connection cap, a CONNECT to the proxy itself, and clients that reset before
 * the reply (the upstream connection must close too).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Socks5LimitsTest {

    private LinuxTestbed bed;

    @BeforeAll
    void start() throws IOException {
        bed = LinuxTestbed.open();
    }

    @AfterAll
    void stop() throws IOException {
        if (bed != null) {
            bed.close();
        }
    }

    private TunnelServer server(String transport, boolean splice, Limits limits) {
        return new TunnelServer(transport, splice ? new SpliceRelay(bed.splicer) : new SpliceRelay(), limits);
    }

    private static byte[] b(int... v) {
        byte[] r = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = (byte) v[i];
        }
        return r;
    }

    private static byte[] connectRequest(InetSocketAddress to) {
        byte[] a = to.getAddress().getAddress();
        return new byte[] {5, 1, 0, 5, 1, 0, 1, a[0], a[1], a[2], a[3], (byte) (to.getPort() >> 8),
                (byte) to.getPort()};
    }

    /** Reads until the proxy closes (EOF or reset); fails if it does not within 20 s. */
    private static byte[] untilClosed(Socket s) throws IOException {
        s.setSoTimeout(20_000); // a SocketTimeoutException fails the test: the proxy kept the connection open
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                got.write(buf, 0, n);
            }
        } catch (SocketException reset) {
            // a reset is a close too
        }
        return got.toByteArray();
    }

    static List<byte[]> stalledHandshakes() {
        return List.of(new byte[0], b(5), b(5, 1, 0), b(5, 1, 0, 5, 1, 0, 1, 127, 0));
    }

    @Test
    void aSilentOrStalledHandshakeIsClosedAtTheDeadline() throws Exception {
        Limits limits = new Limits(Duration.ofMillis(300), Limits.DEFAULTS.idleTimeout(), 100);
        try (TunnelServer server = server("nio", false, limits)) {
            InetSocketAddress proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0),
                    AllowList.loopbackOnly(), null);
            // Nothing at all, a 1-byte greeting, a full greeting, a greeting and a truncated CONNECT.
            for (byte[] partial : stalledHandshakes()) {
                try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
                    s.getOutputStream().write(partial);
                    byte[] got = untilClosed(s);
                    assertTrue(got.length <= 2, "at most the method reply before the close: " + got.length);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("org.splice4j.samples.Socks5SampleTest#modes")
    void aTunnelToASinkThatNeverReadsEndsAtTheIdleTimeout(String transport, boolean splice) throws Exception {
        Limits limits = new Limits(Duration.ofSeconds(10), Duration.ofMillis(500), 100);
        try (TunnelServer server = server(transport, splice, limits);
             ServerSocket sink = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            InetSocketAddress proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0),
                    AllowList.loopbackOnly(), null);
            try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
                s.getOutputStream().write(connectRequest((InetSocketAddress) sink.getLocalSocketAddress()));
                byte[] reply = s.getInputStream().readNBytes(12);
                assertEquals(0, reply[3], "CONNECT succeeded");
                try (Socket accepted = sink.accept()) { // accepted, never read
                    // Write until the sink's socket, the pipe and ours are full; the idle timeout then ends the tunnel.
                    Future<Long> writer = bed.pool.submit(() -> {
                        long sent = 0;
                        byte[] chunk = new byte[64 * 1024];
                        try {
                            while (sent < (1L << 30)) {
                                s.getOutputStream().write(chunk);
                                sent += chunk.length;
                            }
                        } catch (IOException closedByProxy) {
                            return sent;
                        }
                        return -1L;
                    });
                    untilClosed(s);
                    assertTrue(writer.get(30, TimeUnit.SECONDS) >= 0, "the writer must have been stopped by the close");
                }
            }
        }
    }

    @Test
    void connectionsAboveTheCapAreClosedAtAccept() throws Exception {
        Limits limits = new Limits(Duration.ofSeconds(10), Limits.DEFAULTS.idleTimeout(), 3);
        try (TunnelServer server = server("nio", false, limits)) {
            InetSocketAddress proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0),
                    AllowList.loopbackOnly(), null);
            List<Socket> held = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    Socket s = new Socket(proxy.getAddress(), proxy.getPort());
                    held.add(s);
                    s.getOutputStream().write(b(5, 1, 0));
                    assertArrayEquals(b(5, 0), s.getInputStream().readNBytes(2), "within the cap: served");
                }
                try (Socket over = new Socket(proxy.getAddress(), proxy.getPort())) {
                    assertEquals(0, untilClosed(over).length, "over the cap: closed at accept");
                }
                assertEquals(1, server.refusedAtCap());
                held.remove(0).close();
                // A place is free again once the proxy saw that close: a new client is served.
                for (int tries = 0; ; tries++) {
                    try (Socket again = new Socket(proxy.getAddress(), proxy.getPort())) {
                        again.getOutputStream().write(b(5, 1, 0));
                        again.setSoTimeout(10_000);
                        byte[] r = again.getInputStream().readNBytes(2);
                        if (r.length == 2) {
                            assertArrayEquals(b(5, 0), r);
                            break;
                        }
                    }
                    assertTrue(tries < 50, "a freed place must be usable again");
                }
            } finally {
                for (Socket s : held) {
                    s.close();
                }
            }
        }
    }

    @Test
    void aConnectToTheProxyItselfIsRefused() throws Exception {
        try (TunnelServer server = server("nio", false, Limits.DEFAULTS)) {
            InetSocketAddress proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0),
                    AllowList.loopbackOnly(), null);
            try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
                // Two chained self-CONNECTs in one write: the first must already be refused.
                byte[] one = connectRequest(proxy);
                byte[] two = new byte[one.length * 2];
                System.arraycopy(one, 0, two, 0, one.length);
                System.arraycopy(one, 0, two, one.length, one.length);
                s.getOutputStream().write(two);
                byte[] reply = untilClosed(s);
                assertEquals(12, reply.length, "method reply and one CONNECT reply, then the close");
                assertEquals(0x02, reply[3], "connection not allowed by ruleset");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nio", "epoll"})
    void clientsResettingBeforeTheReplyLeaveNoUpstreamConnectionOpen(String transport) throws Exception {
        for (boolean splice : new boolean[] {true, false}) {
            try (TunnelServer server = server(transport, splice, Limits.DEFAULTS);
                 ServerSocket target = new ServerSocket(0, 1000, InetAddress.getLoopbackAddress())) {
                InetSocketAddress proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0),
                        AllowList.loopbackOnly(), null);
                int clients = 200;
                byte[] request = connectRequest((InetSocketAddress) target.getLocalSocketAddress());
                for (int i = 0; i < clients; i++) {
                    try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
                        s.getOutputStream().write(request);
                        s.setSoLinger(true, 0); // the close sends a reset, before the proxy's reply
                    }
                }
                // Every connection the proxy made upstream must be closed by it: the target reads EOF on each.
                target.setSoTimeout(2_000);
                int accepted = 0;
                while (true) {
                    Socket up;
                    try {
                        up = target.accept();
                    } catch (SocketTimeoutException noMore) {
                        break; // the proxy made no further connection for 2 s
                    }
                    accepted++;
                    try (up) {
                        untilClosed(up);
                    }
                }
                assertTrue(accepted <= clients, accepted + " upstream connections");
            }
        }
    }

    @Test
    void bytesSentWhileTheForwarderConnectsArriveFirstOnEveryTransport() throws Exception {
        for (String transport : new String[] {"nio", "epoll"}) {
            for (boolean splice : new boolean[] {true, false}) {
                try (TunnelServer server = server(transport, splice, Limits.DEFAULTS)) {
                    SlowTarget target = new SlowTarget();
                    try (target) {
                        InetSocketAddress at = ForwardSample.start(server, new InetSocketAddress("127.0.0.1", 0),
                                target.address());
                        byte[] early = "17 bytes and FIN!".getBytes();
                        try (SocketChannel client = SocketChannel.open(at)) {
                            client.write(ByteBuffer.wrap(early));
                            client.shutdownOutput(); // while the forwarder still waits for the target's handshake
                            try (Socket up = target.acceptAfterFreeing()) {
                                up.setSoTimeout(20_000);
                                byte[] got = new byte[64];
                                int n;
                                try {
                                    n = up.getInputStream().readNBytes(got, 0, early.length);
                                } catch (SocketTimeoutException e) {
                                    throw new AssertionError(transport + ", splice=" + splice + ": nothing arrived at "
                                            + up + "; fillers " + target.fillers, e);
                                }
                                assertArrayEquals(early, Arrays.copyOf(got, n), transport + ", splice=" + splice);
                                assertEquals(-1, up.getInputStream().read(), transport + ", splice=" + splice
                                        + ": the client's FIN must follow its bytes");
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * A target whose connect is slow: its backlog is full of connections it does not accept, so the kernel drops the
     * forwarder's SYN and the forwarder's connect completes only on a retransmission, about a second later, after
     * {@link #acceptAfterFreeing()} made room.
     */
    private static final class SlowTarget implements AutoCloseable {
        private final ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        private final List<Socket> fillers = new ArrayList<>();

        SlowTarget() throws IOException {
            // Backlog 1 holds 2 completed connections on Linux (the queue is full once it holds more than the
            // backlog): these two complete at once, and the next SYN is dropped.
            for (int i = 0; i < 2; i++) {
                fillers.add(new Socket(listener.getInetAddress(), listener.getLocalPort()));
            }
        }

        InetSocketAddress address() {
            return (InetSocketAddress) listener.getLocalSocketAddress();
        }

        /** Accepts the fillers (freeing the backlog), then the forwarder's connection, identified by its bytes. */
        Socket acceptAfterFreeing() throws IOException {
            listener.setSoTimeout(30_000);
            while (true) {
                Socket s = listener.accept();
                if (isFiller(s)) {
                    s.close();
                    continue;
                }
                return s;
            }
        }

        private boolean isFiller(Socket accepted) {
            for (Socket f : fillers) {
                if (f.getLocalPort() == accepted.getPort()) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void close() throws IOException {
            for (Socket f : fillers) {
                f.close();
            }
            listener.close();
        }
    }
}
