package org.splice4j.samples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * The origin server of {@code bench --http}: HTTP/1.1 with keep-alive, a thread per connection, every response a
 * 200 with a {@code Content-Length} body, the same bytes every time (one direct buffer, written from its views, so that
 * the origin costs little and never copies). Requests are read up to their blank line and must have no body.
 */
final class BenchHttpOrigin implements AutoCloseable {

    private static final int MAX_HEAD = 16 * 1024;

    private final ServerSocketChannel server;
    private final ByteBuffer body;
    private final long bodyCrc;
    private final AtomicLong connections = new AtomicLong();

    BenchHttpOrigin(int bodySize, int backlog) throws IOException {
        byte[] bytes = new byte[bodySize];
        new SplittableRandom(13).nextBytes(bytes);
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        this.bodyCrc = crc.getValue();
        this.body = ByteBuffer.allocateDirect(bodySize).put(bytes).flip();
        this.server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), backlog);
        Thread acceptor = new Thread(this::acceptLoop, "bench-origin");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() throws IOException {
        return (InetSocketAddress) server.getLocalAddress();
    }

    int bodySize() {
        return body.capacity();
    }

    /** The CRC-32C of every body this origin sends: what a client checks each body against. */
    long bodyCrc() {
        return bodyCrc;
    }

    /** Connections accepted so far (a proxy that keeps its backend connections alive opens few). */
    long connections() {
        return connections.get();
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                connections.incrementAndGet();
                Thread t = new Thread(() -> serve(c), "bench-origin-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(SocketChannel c) {
        byte[] head = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                + body.capacity() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        ByteBuffer in = ByteBuffer.allocate(MAX_HEAD);
        try (c) {
            while (readRequestHead(c, in)) {
                ByteBuffer h = ByteBuffer.wrap(head);
                ByteBuffer b = body.duplicate();
                while (h.hasRemaining() || b.hasRemaining()) {
                    c.write(new ByteBuffer[] {h, b});
                }
            }
        } catch (IOException e) {
            // The proxy closed or reset the connection: its row's client reports what it did not get.
        }
    }

    /**
     * Reads one request head, keeping what follows it (a pipelined request) in {@code in}; false at a clean end of
     * stream between requests.
     */
    private static boolean readRequestHead(SocketChannel c, ByteBuffer in) throws IOException {
        while (true) {
            int end = headEnd(in);
            if (end >= 0) {
                in.flip().position(end);
                in.compact();
                return true;
            }
            if (!in.hasRemaining()) {
                throw new IOException("request head over " + MAX_HEAD + " bytes");
            }
            if (c.read(in) < 0) {
                if (in.position() == 0) {
                    return false;
                }
                throw new IOException("end of stream inside a request head");
            }
        }
    }

    /** The index just past the first CRLFCRLF in {@code in}'s filled part, or -1. */
    static int headEnd(ByteBuffer in) {
        for (int i = 3; i < in.position(); i++) {
            if (in.get(i) == '\n' && in.get(i - 1) == '\r' && in.get(i - 2) == '\n' && in.get(i - 3) == '\r') {
                return i + 1;
            }
        }
        return -1;
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
