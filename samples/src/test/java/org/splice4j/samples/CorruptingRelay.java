package org.splice4j.samples;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A relay that gets one byte wrong: {@code CorruptingRelay LISTEN_PORT TARGET_PORT [up|down|none]} forwards each
 * connection on loopback, a thread per direction, and flips byte {@value #FLIPPED} of what each client sends (past the
 * bench's 8-byte header; {@code down}: of what the target sends, inside the first HTTP body; {@code none}: a clean
 * relay). {@code BenchTunnelsTest} and {@code BenchHttpTest} run it as a {@code --proxy} row to see the bench fail
 * loudly.
 */
final class CorruptingRelay {

    static final int FLIPPED = 10_000;

    private CorruptingRelay() {
    }

    public static void main(String[] args) throws IOException {
        InetSocketAddress target = new InetSocketAddress("127.0.0.1", Integer.parseInt(args[1]));
        String mode = args.length > 2 ? args[2] : "up";
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 256);
            while (true) {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(target, 5_000);
                pump(client, upstream, mode.equals("up"));
                pump(upstream, client, mode.equals("down"));
            }
        }
    }

    private static void pump(Socket from, Socket to, boolean corrupt) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16 * 1024];
            long at = 0;
            try (from; to) { // each socket closed by whichever direction ends first; the process ends with the row
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                for (int n; (n = in.read(buf)) >= 0; at += n) {
                    if (corrupt && at <= FLIPPED && FLIPPED < at + n) {
                        buf[(int) (FLIPPED - at)] ^= 0x55;
                    }
                    out.write(buf, 0, n);
                }
            } catch (IOException e) {
                // the bench stopped the row: nothing to report
            }
        });
        t.setDaemon(true);
        t.start();
    }
}
