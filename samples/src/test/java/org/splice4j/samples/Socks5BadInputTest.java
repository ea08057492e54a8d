package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Locale;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.splice4j.netty.SpliceRelay;

/** Hand-made SOCKS5 bytes: each gets the RFC 1928 reply or a close, and a good client keeps working meanwhile. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Socks5BadInputTest {

    private TunnelServer server;
    private InetSocketAddress proxy;
    private ServerSocket echo;

    @BeforeAll
    void start() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        server = new TunnelServer("nio", new SpliceRelay());
        proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0), AllowList.loopbackOnly(),
                new String[] {"bob", "pw"});
        echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!echo.isClosed()) {
                try (Socket s = echo.accept()) {
                    s.getOutputStream().write(s.getInputStream().readAllBytes());
                } catch (IOException e) {
                    return;
                }
            }
        }, "echo");
        t.setDaemon(true);
        t.start();
    }

    @AfterAll
    void stop() throws IOException {
        if (server != null) {
            server.close();
            echo.close();
        }
    }

    /** Sends {@code bytes}, half-closes, returns everything the proxy answered before closing. */
    private byte[] exchange(byte[] bytes) throws IOException {
        try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes);
            s.shutdownOutput();
            return s.getInputStream().readAllBytes(); // ends: the proxy closed this connection
        }
    }

    private static byte[] b(int... v) {
        byte[] r = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = (byte) v[i];
        }
        return r;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    private static final byte[] GREETING = b(5, 1, 2);              // version 5, one method: username/password
    private static final byte[] AUTH_OK = b(1, 3, 'b', 'o', 'b', 2, 'p', 'w');

    private byte[] connectRequest(int atyp, byte[] addr, int port) {
        return concat(b(5, 1, 0, atyp), addr, b(port >> 8, port & 0xff));
    }

    @Test
    void wrongVersionIsClosedWithoutAReply() throws IOException {
        assertEquals(0, exchange(b(4, 1, 0)).length);
    }

    @Test
    void truncatedGreetingIsClosed() throws IOException {
        assertEquals(0, exchange(b(5, 3, 0)).length);
    }

    @Test
    void noAcceptableMethodGetsFF() throws IOException {
        assertArrayEquals(b(5, 0xff), exchange(b(5, 1, 0)));
    }

    @Test
    void wrongPasswordGetsFailure() throws IOException {
        byte[] reply = exchange(concat(GREETING, b(1, 3, 'b', 'o', 'b', 2, 'n', 'o')));
        // RFC 1929: any status but 0 is a failure, and the server closes (readAllBytes ended).
        assertEquals(4, reply.length);
        assertArrayEquals(b(5, 2, 1), Arrays.copyOf(reply, 3));
        assertNotEquals(0, reply[3]);
    }

    @Test
    void domainLengthBeyondThePacketIsClosed() throws IOException {
        byte[] reply = exchange(concat(GREETING, AUTH_OK, b(5, 1, 0, 3, 200, 'a', 'b')));
        assertArrayEquals(b(5, 2, 1, 0), reply); // method and auth replies, then the close
    }

    @Test
    void unknownAddressTypeIsClosed() throws IOException {
        byte[] reply = exchange(concat(GREETING, AUTH_OK, b(5, 1, 0, 9, 1, 2, 3, 4, 0, 80)));
        assertArrayEquals(b(5, 2, 1, 0), reply);
    }

    @Test
    void bindIsNotSupported() throws IOException {
        byte[] reply = exchange(concat(GREETING, AUTH_OK, b(5, 2, 0, 1, 127, 0, 0, 1, 0, 80)));
        assertEquals(0x07, reply[5], "command not supported");
    }

    @Test
    void aDestinationOutsideTheAllowListIsRefused() throws IOException {
        byte[] reply = exchange(concat(GREETING, AUTH_OK, connectRequest(1, b(10, 255, 255, 1), 80)));
        assertEquals(0x02, reply[5], "connection not allowed by ruleset");
    }

    @Test
    void aClosedPortIsRefused() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        byte[] reply = exchange(concat(GREETING, AUTH_OK, connectRequest(1, b(127, 0, 0, 1), port)));
        assertEquals(0x05, reply[5], "connection refused");
    }

    @Test
    void aGoodClientWorksAndBytesSentBeforeTheReplyArriveFirst() throws IOException {
        byte[] payload = "hello through socks5".getBytes();
        // Everything at once: greeting, auth, CONNECT to the echo server by name, then the payload, unasked.
        byte[] request = concat(GREETING, AUTH_OK,
                concat(b(5, 1, 0, 3, 9), "localhost".getBytes(), b(echo.getLocalPort() >> 8, echo.getLocalPort() & 0xff)),
                payload);
        byte[] reply = exchange(request);
        // method reply (2) + auth reply (2) + CONNECT reply (10 for IPv4, 22 for IPv6), then the echo.
        assertEquals(0, reply[5], "succeeded");
        int header = 4 + (reply[7] == 4 ? 22 : 10);
        assertArrayEquals(payload, Arrays.copyOfRange(reply, header, reply.length));
    }
}
