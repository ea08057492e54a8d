package org.splice4j.jetty;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;

import org.splice4j.spi.contract.Peers;

/**
 * A loopback server that runs a script on each connection it accepts, a thread each, for backends that misbehave on
 * purpose. Each connection's future completes when its script returns (normally or not) and its socket is closed.
 */
final class ScriptedServer implements AutoCloseable {

    /** What the server does with one accepted connection; the socket is closed afterwards. */
    interface Script {
        void run(Socket s) throws Exception;
    }

    private final ServerSocket socket;
    private final ExecutorService pool = Peers.newPool("scripted");
    /** One future per accepted connection, in order; completes with how its script ended (null when it returned). */
    final LinkedBlockingQueue<CompletableFuture<Throwable>> connections = new LinkedBlockingQueue<>();

    ScriptedServer(Script script) throws IOException {
        socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pool.execute(() -> {
            while (!socket.isClosed()) {
                Socket s;
                try {
                    s = socket.accept();
                } catch (IOException closed) {
                    return;
                }
                CompletableFuture<Throwable> done = new CompletableFuture<>();
                connections.add(done);
                pool.execute(() -> {
                    Throwable ended = null;
                    try (s) {
                        script.run(s);
                    } catch (Throwable t) {
                        ended = t;
                    }
                    done.complete(ended);
                });
            }
        });
    }

    String authority() {
        return "127.0.0.1:" + socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        socket.close();
        pool.shutdownNow();
    }
}
