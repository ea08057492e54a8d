package org.splice4j.samples;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.contract.Streams;

/**
 * A plain-socket HTTP/1.1 origin for the http-proxy tests, kept alive, one thread per connection. Paths:
 * {@code /bytes/SIZE/SEED} (Content-Length, the seeded stream of {@link Streams}), {@code /extra/SIZE/SEED} (the same
 * and then bytes past the Content-Length), {@code /short/SIZE/SEED} (announces SIZE, sends half, closes),
 * {@code /chunked/SIZE/SEED}, {@code /204}, {@code /304}; {@code /extra1/SIZE/SEED} and {@code /partial1/SIZE/SEED}
 * (head, body and a stray response, whole or cut in its head, in ONE write); {@code /stall/SIZE/SEED} (announces SIZE,
 * sends half, then waits for the proxy to close); {@code /continue/SIZE/SEED} (100 Continue, reads the request's
 * Content-Length body, then a {@code /bytes} answer whose {@code X-Upload-Sha256} is the SHA-256 of what it read).
 * HEAD answers the head of a GET. Counts accepted connections and those that ended (the peer closed).
 */
final class TestOrigin implements AutoCloseable {

    final ServerSocket listener;
    final AtomicInteger accepted = new AtomicInteger();
    /** One entry per connection that ended, in order. */
    final LinkedBlockingQueue<Integer> ended = new LinkedBlockingQueue<>();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-origin");
        t.setDaemon(true);
        return t;
    });

    TestOrigin() throws IOException {
        listener = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
        pool.execute(this::acceptLoop);
    }

    InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", listener.getLocalPort());
    }

    String url(String path) {
        return "http://127.0.0.1:" + listener.getLocalPort() + path;
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket s = listener.accept();
                int n = accepted.incrementAndGet();
                pool.execute(() -> serve(s, n));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket s, int n) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    return;
                }
                String[] line = head.split("\r\n", 2)[0].split(" ");
                if (!answer(line[0], line[1], head, in, out)) {
                    return;
                }
            }
        } catch (IOException e) {
            // the proxy reset or closed: this connection ends
        } finally {
            ended.add(n);
        }
    }

    /** Answers one request; false when the connection is to end. */
    private static boolean answer(String method, String path, String request, InputStream in, OutputStream out)
            throws IOException {
        boolean head = method.equals("HEAD");
        String[] p = path.split("/");
        String kind = p.length > 1 ? p[1] : "";
        switch (kind) {
            case "extra1", "partial1" -> {
                int size = Integer.parseInt(p[2]);
                byte[] h = ("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII);
                byte[] stray = (kind.equals("extra1") ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"
                        : "HTTP/1.1 200 OK\r\nContent-Le").getBytes(StandardCharsets.US_ASCII);
                ByteArrayOutputStream all = new ByteArrayOutputStream();
                all.write(h);
                all.write(Streams.inputStream(Long.parseLong(p[3]), size).readAllBytes());
                all.write(stray);
                out.write(all.toByteArray()); // one write: the proxy reads the stray bytes with the body's last
            }
            case "stall" -> {
                long size = Long.parseLong(p[2]);
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(Streams.inputStream(Long.parseLong(p[3]), size / 2).readAllBytes());
                out.flush();
                while (in.read() >= 0) {
                    // stalled: the rest never comes; the proxy's close ends this
                }
                return false;
            }
            case "continue" -> {
                out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                long upload = contentLength(request);
                Streams.Received got = Streams.readExactlyDigest(in, upload);
                long size = Long.parseLong(p[2]);
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + size + "\r\nX-Upload-Sha256: " + got.sha256()
                        + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                Streams.inputStream(Long.parseLong(p[3]), size).transferTo(out);
            }
            case "204" -> out.write("HTTP/1.1 204 No Content\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            case "304" -> out.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 4096\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            case "bytes", "extra", "short", "chunked" -> {
                long size = Long.parseLong(p[2]);
                long seed = Long.parseLong(p[3]);
                String framing = kind.equals("chunked") ? "Transfer-Encoding: chunked" : "Content-Length: " + size;
                out.write(("HTTP/1.1 200 OK\r\n" + framing + "\r\nContent-Type: application/octet-stream\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                if (head) {
                    break;
                }
                InputStream body = Streams.inputStream(seed, kind.equals("short") ? size / 2 : size);
                byte[] buf = new byte[64 * 1024];
                for (int r; (r = body.read(buf)) > 0; ) {
                    if (kind.equals("chunked")) {
                        out.write((Integer.toHexString(r) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.write(buf, 0, r);
                        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    } else {
                        out.write(buf, 0, r);
                    }
                }
                if (kind.equals("chunked")) {
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                } else if (kind.equals("extra")) {
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra".getBytes(StandardCharsets.US_ASCII));
                } else if (kind.equals("short")) {
                    out.flush();
                    return false; // the body ends early
                }
            }
            default -> out.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
        }
        out.flush();
        return true;
    }

    private static long contentLength(String head) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
                return Long.parseLong(line.substring(colon + 1).trim());
            }
        }
        return 0;
    }

    /** The request head up to its blank line (only {@code /continue} reads a body), or null at end of stream. */
    static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            b.write(c);
            matched = (c == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (c == '\r' ? 1 : 0);
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() throws IOException {
        listener.close();
        pool.shutdownNow();
    }
}
