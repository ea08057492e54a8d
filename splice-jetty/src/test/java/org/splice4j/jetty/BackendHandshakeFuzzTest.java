package org.splice4j.jetty;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.api.SilentCloseable;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes {@link BackendHandshake#readResponseHead}: a loopback server sends the input (byte 0, mod 8, plus one: how
 * many times, so a head can pass the 16 KiB limit although libFuzzer's inputs stay under 4 KiB) and ends its stream.
 * The reader returns a final head (101, or 200 and up; interim 1xx are skipped) whose status line holds three digits,
 * or throws an IOException; nothing else, and what it returns is bounded by what was sent.
 */
class BackendHandshakeFuzzTest {

    private static final int MAX_HEAD = 16 * 1024;
    private static ServerSocketChannel server;

    @FuzzTest(maxDuration = "60s")
    void readResponseHead(byte[] input) throws IOException {
        if (input.length == 0) {
            return;
        }
        byte[] once = Arrays.copyOfRange(input, 1, input.length);
        int times = (input[0] & 7) + 1;
        ByteBuffer sent = ByteBuffer.allocate(once.length * times);
        for (int i = 0; i < times; i++) {
            sent.put(once);
        }
        sent.flip();
        int total = sent.remaining();
        // Jazzer's network sanitizer reports connections; these stay on loopback.
        try (SilentCloseable loopback = BugDetectors.allowNetworkConnections((host, port) -> isLoopback(host));
             BackendHandshake reader = BackendHandshake.connect((InetSocketAddress) server().getLocalAddress(), 5_000,
                     System.nanoTime() + 5_000_000_000L);
             SocketChannel peer = server().accept()) {
            while (sent.hasRemaining()) {
                peer.write(sent); // at most 32 KiB: the loopback socket buffers take it without a reader
            }
            peer.shutdownOutput();
            BackendHandshake.Head head;
            try {
                head = reader.readResponseHead();
            } catch (IOException refused) {
                return; // end of stream, a timeout, a malformed or oversized head: documented
            }
            int status = head.status();
            assertTrue(status == 101 || (status >= 200 && status <= 999),
                    () -> "status " + status + " returned (interim or not three digits)");
            assertTrue(head.reason() != null && head.fields() != null, "incomplete head");
            int readAhead = reader.readAhead().remaining();
            assertTrue(readAhead <= total && readAhead <= MAX_HEAD,
                    () -> readAhead + " read-ahead bytes of " + total + " sent");
            assertTrue(head.fields().size() <= MAX_HEAD / 2, () -> head.fields().size() + " header fields");
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (IOException e) {
            return false;
        }
    }

    /** One listening socket for all runs: each run connects to it once and accepts its own connection. */
    private static synchronized ServerSocketChannel server() throws IOException {
        if (server == null) {
            server = ServerSocketChannel.open();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        }
        return server;
    }
}
