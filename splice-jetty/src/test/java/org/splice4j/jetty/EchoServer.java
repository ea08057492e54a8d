package org.splice4j.jetty;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

import org.splice4j.spi.contract.Peers;

/** A loopback TCP echo server, a thread per connection; it closes a connection after echoing its end of stream. */
final class EchoServer implements AutoCloseable {

    private final ServerSocket socket;
    private final ExecutorService pool = Peers.newPool("echo");
    private int connections;

    EchoServer() throws IOException {
        socket = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress());
        pool.execute(this::acceptLoop);
    }

    int port() {
        return socket.getLocalPort();
    }

    String authority() {
        return "127.0.0.1:" + port();
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket s = socket.accept();
                synchronized (this) {
                    connections++;
                }
                pool.execute(() -> {
                    echo(s);
                    synchronized (this) {
                        connections--;
                        notifyAll();
                    }
                });
            } catch (IOException closed) {
                return;
            }
        }
    }

    /** Waits until every accepted connection is closed; false if some are still open after the timeout. */
    synchronized boolean awaitNoConnections(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (connections > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    private static void echo(Socket s) {
        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            in.transferTo(out);
            s.shutdownOutput();
        } catch (IOException reset) {
            // the peer went away: nothing to echo
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
        pool.shutdownNow();
    }
}
