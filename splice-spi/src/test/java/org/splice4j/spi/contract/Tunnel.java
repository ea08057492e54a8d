package org.splice4j.spi.contract;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * A proxied connection on loopback, as a proxy sees it after its handshake:
 * {@code client <-> proxyA} and {@code proxyB <-> server}. The proxy side is what the splicer gets; client and server
 * are plain blocking channels, the peers.
 */
public final class Tunnel implements Closeable {

    public final SocketChannel client;
    public final SocketChannel proxyA;
    public final SocketChannel proxyB;
    public final SocketChannel server;

    private Tunnel(SocketChannel client, SocketChannel proxyA, SocketChannel proxyB, SocketChannel server) {
        this.client = client;
        this.proxyA = proxyA;
        this.proxyB = proxyB;
        this.server = server;
    }

    /** Listens on an ephemeral loopback port; share one per test class. */
    public static ServerSocketChannel listen() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        l.bind(new InetSocketAddress("127.0.0.1", 0), 1024);
        return l;
    }

    public static Tunnel open(ServerSocketChannel listener) throws IOException {
        InetSocketAddress at = (InetSocketAddress) listener.getLocalAddress();
        SocketChannel client;
        SocketChannel proxyA;
        SocketChannel proxyB;
        SocketChannel server;
        // One connect-accept pair at a time, so concurrent openers never take each other's accepted socket.
        synchronized (listener) {
            client = SocketChannel.open(at);
            proxyA = listener.accept();
            proxyB = SocketChannel.open(at);
            server = listener.accept();
        }
        for (SocketChannel c : new SocketChannel[] {client, proxyA, proxyB, server}) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        proxyA.configureBlocking(false);
        proxyB.configureBlocking(false);
        return new Tunnel(client, proxyA, proxyB, server);
    }

    /** What an adapter does once a session ended: close the proxy's two sockets. */
    public void closeProxySide() throws IOException {
        proxyA.close();
        proxyB.close();
    }

    @Override
    public void close() throws IOException {
        for (SocketChannel c : new SocketChannel[] {client, proxyA, proxyB, server}) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing what may already be reset
            }
        }
    }
}
