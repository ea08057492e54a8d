package org.splice4j.jetty;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;

/**
 * The server half of an Upgrade tunnel: connect to the server, send it the client's upgrade request in origin form,
 * read its response head. Blocking, on the handler's thread, but never past one deadline that covers the connect and
 * every read; the channel goes non-blocking before it is handed to the splicer.
 */
final class BackendHandshake implements AutoCloseable {

    /** The size cap of one response head: a server past it is not answering HTTP. */
    static final int MAX_HEAD = 16 * 1024;
    /**
     * The most interim (1xx other than 101) answers taken before the real one: a server may send a few (100, 102,
     * 103), but one that keeps sending them holds the handler's thread, so past this many it gets a 502.
     */
    static final int MAX_INTERIM = 8;

    private final SocketChannel channel;
    /** {@link System#nanoTime()} by which the whole handshake must be done: every blocking read waits until then. */
    private final long deadline;
    private ByteBuffer readAhead;

    private BackendHandshake(SocketChannel channel, long deadline) {
        this.channel = channel;
        this.deadline = deadline;
    }

    /**
     * Connects within {@code connectTimeoutMillis} and before {@code deadline}, which then bounds every read of the
     * handshake as well.
     *
     * @param deadline a {@link System#nanoTime()} value
     * @throws SocketTimeoutException if the deadline passed (before the connect, too: name resolution took it)
     */
    static BackendHandshake connect(InetSocketAddress address, long connectTimeoutMillis, long deadline)
            throws IOException {
        long left = millisLeft(deadline);
        SocketChannel ch = SocketChannel.open();
        try {
            ch.socket().setTcpNoDelay(true);
            // Socket.connect takes 0 as no timeout: never pass it.
            long timeout = connectTimeoutMillis > 0 ? Math.min(connectTimeoutMillis, left) : left;
            ch.socket().connect(address, (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout)));
            return new BackendHandshake(ch, deadline);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Milliseconds until {@code deadline}, at least 1 (an SO_TIMEOUT of 0 would wait forever).
     *
     * @throws SocketTimeoutException if it passed
     */
    static long millisLeft(long deadline) throws SocketTimeoutException {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new SocketTimeoutException("the server did not complete its handshake within the deadline");
        }
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(left));
    }

    /** A blocking read that returns by the deadline, however slowly the server sends. */
    private int read(byte[] b, int off, int len) throws IOException {
        channel.socket().setSoTimeout((int) Math.min(Integer.MAX_VALUE, millisLeft(deadline)));
        return channel.socket().getInputStream().read(b, off, len);
    }

    /**
     * Sends the request line, {@code Host} as the authority that was checked, the end-to-end headers (neither the
     * hop-by-hop ones nor those {@code Connection} names, except {@code Upgrade}), and {@code via}.
     */
    void sendRequest(String method, String pathAndQuery, String authority, HttpFields headers, String via)
            throws IOException {
        Set<String> named = new HashSet<>();
        for (String token : headers.getCSV(HttpHeader.CONNECTION, false)) {
            named.add(token.toLowerCase(Locale.ROOT));
        }
        named.remove("upgrade");
        StringBuilder head = new StringBuilder(256).append(method).append(' ').append(pathAndQuery)
                .append(" HTTP/1.1\r\nHost: ").append(authority).append("\r\nConnection: Upgrade\r\n");
        for (HttpField f : headers) {
            String name = f.getLowerCaseName();
            // Request headers that concern only the hop from the client to the proxy stay here; Upgrade goes on.
            if (!HopByHopHeaders.UPGRADE_REQUEST.contains(name) && !named.contains(name) && !name.equals("host")
                    && !name.equals("connection")) {
                head.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
            }
        }
        head.append("Via: ").append(via).append("\r\n\r\n");
        // No timeout applies to a blocking write, and none is needed: the head is at most Jetty's request header
        // size (8 KiB by default), which a fresh socket's send buffer takes whole.
        OutputStream out = channel.socket().getOutputStream();
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /**
     * Reads the response head, skipping up to {@link #MAX_INTERIM} interim answers, by the deadline; bytes read past
     * it are kept for {@link #readAhead()}.
     *
     * @throws SocketTimeoutException if the deadline passed first
     * @throws IOException            on end of stream, too many interim answers, or a head that is malformed or
     *                                over {@link #MAX_HEAD} bytes
     */
    Head readResponseHead() throws IOException {
        for (int interim = 0; ; interim++) {
            Head h = readOneHead();
            // 1xx other than 101 (100 Continue, 102 Processing, 103 Early Hints) are interim: the answer follows.
            if (h.status() >= 200 || h.status() == 101 || h.status() < 100) {
                return h;
            }
            if (interim == MAX_INTERIM) {
                throw new IOException("the server sent more than " + MAX_INTERIM + " interim responses");
            }
        }
    }

    private Head readOneHead() throws IOException {
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
            int n = read(buf, filled, buf.length - filled);
            if (n < 0) {
                throw new IOException("the server closed the connection before a complete response head");
            }
            filled += n;
        }
        readAhead = ByteBuffer.wrap(buf, end, filled - end).slice();
        return Head.parse(new String(buf, 0, end, StandardCharsets.ISO_8859_1));
    }

    /**
     * Reads exactly {@code n} more bytes of body (read-ahead first), for a small refusal relayed to the client, by
     * the deadline too.
     */
    byte[] readBody(int n) throws IOException {
        byte[] body = new byte[n];
        int have = Math.min(n, readAhead.remaining());
        readAhead.get(body, 0, have);
        while (have < n) {
            int r = read(body, have, n - have);
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
            String statusLine = lines.length > 0 ? lines[0] : ""; // "\r\n\r\n" alone splits into no line at all
            if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12 || statusLine.charAt(8) != ' ') {
                throw new IOException("malformed status line from the server: " + abbreviate(statusLine));
            }
            String code = statusLine.substring(9, 12);
            // Three digits exactly: parseInt alone would take "-12" or "+99".
            if (!(Character.isDigit(code.charAt(0)) && Character.isDigit(code.charAt(1))
                    && Character.isDigit(code.charAt(2))) || code.charAt(0) == '0') {
                throw new IOException("malformed status line from the server: " + abbreviate(statusLine));
            }
            int status = Integer.parseInt(code);
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
