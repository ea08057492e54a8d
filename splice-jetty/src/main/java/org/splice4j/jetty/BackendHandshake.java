package org.splice4j.jetty;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;

/**
 * The server half of an Upgrade tunnel: connect to the server, send it the client's upgrade request in origin form,
 * read its response head. Blocking, with timeouts, on the handler's thread; the channel goes non-blocking before it
 * is handed to the splicer.
 */
final class BackendHandshake implements AutoCloseable {

    /** Request headers that concern only the hop from the client to the proxy. Upgrade and Connection stay. */
    private static final Set<String> HOP_BY_HOP = Set.of("proxy-connection", "proxy-authorization", "keep-alive",
            "te", "trailer", "transfer-encoding", "proxy-authenticate");
    private static final int MAX_HEAD = 16 * 1024;

    private final SocketChannel channel;
    private ByteBuffer readAhead;

    private BackendHandshake(SocketChannel channel) {
        this.channel = channel;
    }

    /** Connects, within {@code timeoutMillis}. */
    static BackendHandshake connect(InetSocketAddress address, long timeoutMillis) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.socket().setTcpNoDelay(true);
            ch.socket().connect(address, (int) Math.min(Integer.MAX_VALUE, Math.max(0, timeoutMillis)));
            return new BackendHandshake(ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Sends the request line, {@code Host} as the authority that was checked, the end-to-end headers (neither the
     * hop-by-hop ones nor those {@code Connection} names, except {@code Upgrade}), and {@code via}.
     */
    void sendRequest(String method, String pathAndQuery, String authority, HttpFields headers, String via)
            throws IOException {
        Set<String> named = new java.util.HashSet<>();
        for (String token : headers.getCSV(org.eclipse.jetty.http.HttpHeader.CONNECTION, false)) {
            named.add(token.toLowerCase(Locale.ROOT));
        }
        named.remove("upgrade");
        StringBuilder head = new StringBuilder(256).append(method).append(' ').append(pathAndQuery)
                .append(" HTTP/1.1\r\nHost: ").append(authority).append("\r\nConnection: Upgrade\r\n");
        for (HttpField f : headers) {
            String name = f.getLowerCaseName();
            if (!HOP_BY_HOP.contains(name) && !named.contains(name) && !name.equals("host")
                    && !name.equals("connection")) {
                head.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
            }
        }
        head.append("Via: ").append(via).append("\r\n\r\n");
        OutputStream out = channel.socket().getOutputStream();
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /**
     * Reads the response head within {@code timeoutMillis}; bytes read past it are kept for {@link #readAhead()}.
     *
     * @throws IOException on end of stream, a timeout, or a head that is malformed or over 16 KiB
     */
    Head readResponseHead(long timeoutMillis) throws IOException {
        while (true) {
            Head h = readOneHead(timeoutMillis);
            // 1xx other than 101 (100 Continue, 103 Early Hints) are interim: the answer follows.
            if (h.status() >= 200 || h.status() == 101 || h.status() < 100) {
                return h;
            }
        }
    }

    private Head readOneHead(long timeoutMillis) throws IOException {
        channel.socket().setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeoutMillis)));
        InputStream in = channel.socket().getInputStream();
        byte[] buf = new byte[MAX_HEAD];
        int filled = 0;
        if (readAhead != null && readAhead.hasRemaining()) {
            filled = Math.min(buf.length, readAhead.remaining()); // what followed an interim response
            readAhead.get(buf, 0, filled);
        }
        int end;
        while ((end = endOfHead(buf, filled)) < 0) {
            if (filled == buf.length) {
                throw new IOException("response head from the server is over " + MAX_HEAD + " bytes");
            }
            int n = in.read(buf, filled, buf.length - filled);
            if (n < 0) {
                throw new IOException("the server closed the connection before a complete response head");
            }
            filled += n;
        }
        readAhead = ByteBuffer.wrap(buf, end, filled - end).slice();
        return Head.parse(new String(buf, 0, end, StandardCharsets.ISO_8859_1));
    }

    /** Reads exactly {@code n} more bytes of body (read-ahead first), for a small refusal relayed to the client. */
    byte[] readBody(int n) throws IOException {
        byte[] body = new byte[n];
        int have = Math.min(n, readAhead.remaining());
        readAhead.get(body, 0, have);
        InputStream in = channel.socket().getInputStream();
        while (have < n) {
            int r = in.read(body, have, n - have);
            if (r < 0) {
                throw new IOException("the server closed the connection inside a response body");
            }
            have += r;
        }
        return body;
    }

    /** Bytes the server sent after its response head (for WebSocket, perhaps a first frame). */
    ByteBuffer readAhead() {
        return readAhead;
    }

    /** The channel, now non-blocking, for the splicer; the caller owns it from here on. */
    SocketChannel handOver() throws IOException {
        channel.socket().setSoTimeout(0);
        channel.configureBlocking(false);
        return channel;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static int endOfHead(byte[] b, int len) {
        for (int i = 3; i < len; i++) {
            if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') {
                return i + 1;
            }
        }
        return -1;
    }

    /** A response status and its header fields, as the server sent them. */
    record Head(int status, String reason, List<String[]> fields) {

        static Head parse(String text) throws IOException {
            String[] lines = text.split("\r\n");
            String statusLine = lines[0];
            if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' ') {
                throw new IOException("malformed status line from the server: " + abbreviate(statusLine));
            }
            int status;
            try {
                status = Integer.parseInt(statusLine.substring(9, 12));
            } catch (NumberFormatException e) {
                throw new IOException("malformed status line from the server: " + abbreviate(statusLine));
            }
            List<String[]> fields = new ArrayList<>();
            for (int i = 1; i < lines.length; i++) {
                if (lines[i].isEmpty()) {
                    continue;
                }
                int colon = lines[i].indexOf(':');
                if (colon <= 0) {
                    throw new IOException("malformed header line from the server: " + abbreviate(lines[i]));
                }
                fields.add(new String[] {lines[i].substring(0, colon).trim(), lines[i].substring(colon + 1).trim()});
            }
            return new Head(status, statusLine.length() > 13 ? statusLine.substring(13) : "", fields);
        }

        /** The value of the first field with this name, or null. */
        String get(String name) {
            for (String[] f : fields) {
                if (f[0].toLowerCase(Locale.ROOT).equals(name)) {
                    return f[1];
                }
            }
            return null;
        }

        private static String abbreviate(String s) {
            return s.length() > 80 ? s.substring(0, 80) + "..." : s;
        }
    }
}
