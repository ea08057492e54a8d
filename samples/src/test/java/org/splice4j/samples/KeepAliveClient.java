package org.splice4j.samples;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;

import org.splice4j.spi.contract.Streams;

/**
 * A blocking HTTP/1.1 client on one kept-alive connection for the http-proxy tests: sends request heads (several at
 * once to pipeline), reads responses by Content-Length or chunks, and digests each body with SHA-256.
 */
final class KeepAliveClient implements AutoCloseable {

    /** One response: status, headers (lower-case names), body size and SHA-256. */
    record Response(int status, Map<String, String> headers, Streams.Received body) {
    }

    final Socket socket;
    private final InputStream in;

    KeepAliveClient(InetSocketAddress proxy) throws IOException {
        socket = new Socket();
        socket.connect(proxy, 10_000);
        socket.setSoTimeout(60_000);
        in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
    }

    /** Sends GET (or another method) requests for these targets in one write: pipelined when more than one. */
    void send(String method, String... targets) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String t : targets) {
            b.append(method).append(' ').append(t).append(" HTTP/1.1\r\nHost: origin\r\n\r\n");
        }
        socket.getOutputStream().write(b.toString().getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
    }

    /** Reads the next response; {@code head}: the request was HEAD (no body whatever the headers say). */
    Response read(boolean head) throws IOException {
        String h = TestOrigin.readHead(in);
        if (h == null) {
            throw new EOFException("the connection ended before a response");
        }
        String[] lines = h.split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                        lines[i].substring(colon + 1).trim());
            }
        }
        MessageDigest md = sha256();
        long n = 0;
        if (head || status == 204 || status == 304) {
            return new Response(status, headers, new Streams.Received(0, HexFormat.of().formatHex(md.digest())));
        }
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            while (true) {
                long size = Long.parseLong(line().trim(), 16);
                if (size == 0) {
                    line(); // the blank line after the last chunk (no trailers here)
                    break;
                }
                n += copy(size, md);
                line();
            }
        } else {
            n = copy(Long.parseLong(headers.getOrDefault("content-length", "0")), md);
        }
        return new Response(status, headers, new Streams.Received(n, HexFormat.of().formatHex(md.digest())));
    }

    /** Reads until end of stream; returns the number of bytes (the connection must close). */
    long readToEnd() throws IOException {
        long n = 0;
        byte[] buf = new byte[64 * 1024];
        for (int r; (r = in.read(buf)) > 0; ) {
            n += r;
        }
        return n;
    }

    private long copy(long size, MessageDigest md) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long left = size;
        while (left > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (r < 0) {
                throw new EOFException((size - left) + " of " + size + " body bytes, then end of stream");
            }
            md.update(buf, 0, r);
            left -= r;
        }
        return size;
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) {
                throw new EOFException("in a chunked body");
            }
            b.write(c);
        }
        return b.toString(StandardCharsets.US_ASCII);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
