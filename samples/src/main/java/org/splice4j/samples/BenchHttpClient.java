package org.splice4j.samples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * One keep-alive HTTP/1.1 client of {@code bench --http}: GETs on one connection, one after the other, each body read
 * to its {@code Content-Length} and checked against the origin's CRC-32C (hardware-accelerated, so the check does not
 * bound the request rate the way SHA-256 of every body would). A connection the proxy closes (or a failed request) is
 * replaced by a new one and counted, so a row that does not keep connections alive shows it.
 */
final class BenchHttpClient implements AutoCloseable {

    private static final int MAX_HEAD = 16 * 1024;

    private final InetSocketAddress proxy;
    private final byte[] request;
    private final long expectedCrc;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(256 * 1024);
    private SocketChannel channel;
    long requests;
    long bodyBytes;
    long connections;
    long errors;
    String lastError;

    BenchHttpClient(InetSocketAddress proxy, String path, String host, long expectedCrc) {
        this.proxy = proxy;
        this.request = ("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: splice4j-bench\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        this.expectedCrc = expectedCrc;
    }

    /** One request and its whole response; false (counted as an error, the connection dropped) if it failed. */
    boolean get() {
        try {
            if (channel == null) {
                channel = SocketChannel.open(proxy);
                connections++;
                buf.clear().flip(); // empty, in read mode
            }
            ByteBuffer r = ByteBuffer.wrap(request);
            while (r.hasRemaining()) {
                channel.write(r);
            }
            Head head = readHead();
            if (head.status != 200 || head.contentLength < 0) {
                throw new IOException("status " + head.status + ", Content-Length " + head.contentLength);
            }
            CRC32C crc = new CRC32C();
            for (long left = head.contentLength; left > 0; ) {
                if (!buf.hasRemaining()) {
                    buf.clear().limit((int) Math.min(buf.capacity(), left));
                    if (channel.read(buf) < 0) {
                        throw new IOException("end of stream " + left + " bytes before the body's end");
                    }
                    buf.flip();
                }
                int n = (int) Math.min(buf.remaining(), left);
                ByteBuffer part = buf.duplicate();
                part.limit(part.position() + n);
                crc.update(part);
                buf.position(buf.position() + n);
                left -= n;
            }
            if (crc.getValue() != expectedCrc) {
                throw new IOException("a body's CRC-32C differs from the origin's: wrong bytes");
            }
            requests++;
            bodyBytes += head.contentLength;
            if (head.close) {
                drop();
            }
            return true;
        } catch (IOException e) {
            errors++;
            lastError = e.toString();
            drop();
            return false;
        }
    }

    private record Head(int status, long contentLength, boolean close) {
    }

    private Head readHead() throws IOException {
        ByteBuffer head = ByteBuffer.allocate(MAX_HEAD);
        while (true) {
            while (buf.hasRemaining() && head.hasRemaining()) {
                head.put(buf.get());
                int p = head.position();
                if (p >= 4 && head.get(p - 1) == '\n' && head.get(p - 2) == '\r' && head.get(p - 3) == '\n'
                        && head.get(p - 4) == '\r') {
                    return parse(new String(head.array(), 0, head.position(), StandardCharsets.ISO_8859_1));
                }
            }
            if (!head.hasRemaining()) {
                throw new IOException("response head over " + MAX_HEAD + " bytes");
            }
            buf.clear();
            if (channel.read(buf) < 0) {
                throw new IOException("end of stream before a response head");
            }
            buf.flip();
        }
    }

    private static Head parse(String head) throws IOException {
        String[] lines = head.split("\r\n");
        String[] status = lines[0].split(" ");
        if (status.length < 2 || !status[0].startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP/1.x status line: " + lines[0]);
        }
        long length = -1;
        boolean close = status[0].equals("HTTP/1.0");
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon < 0) {
                continue;
            }
            String name = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = lines[i].substring(colon + 1).trim().toLowerCase(Locale.ROOT);
            if (name.equals("content-length")) {
                length = Long.parseLong(value);
            } else if (name.equals("connection")) {
                close = value.contains("close");
            } else if (name.equals("transfer-encoding")) {
                throw new IOException("Transfer-Encoding " + value + ": the bench expects Content-Length bodies");
            }
        }
        return new Head(Integer.parseInt(status[1]), length, close);
    }

    private void drop() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a connection we give up on: nothing to do about a failure
            }
            channel = null;
        }
    }

    @Override
    public void close() {
        drop();
    }
}
