package org.splice4j.spi.contract;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A blocking client that speaks just enough HTTP/1.1 by hand to open tunnels through a proxy. */
public final class RawHttp {

    private RawHttp() {
    }

    /** Opens a socket to the proxy (with a read timeout so a stuck test fails instead of hanging). */
    public static Socket connect(int proxyPort) throws IOException {
        Socket s = new Socket("127.0.0.1", proxyPort);
        s.setSoTimeout(20_000);
        return s;
    }

    /** Sends CONNECT (plus any bytes pipelined after it) and returns the status code of the answer. */
    public static int connectTunnel(Socket s, String authority, byte[] pipelined, String... headers) throws IOException {
        StringBuilder req = new StringBuilder("CONNECT ").append(authority).append(" HTTP/1.1\r\nHost: ")
                .append(authority).append("\r\n");
        for (String h : headers) {
            req.append(h).append("\r\n");
        }
        req.append("\r\n");
        OutputStream out = s.getOutputStream();
        byte[] head = req.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + pipelined.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(pipelined, 0, all, head.length, pipelined.length);
        out.write(all); // one write: the pipelined bytes may arrive with the CONNECT
        out.flush();
        return status(readHead(s.getInputStream()));
    }

    /** Reads a response head up to and including the empty line, byte by byte so no body byte is consumed. */
    public static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("end of stream inside a response head: " + head);
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    public static int status(String head) {
        return Integer.parseInt(head.substring(9, 12));
    }
}
