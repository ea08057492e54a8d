package org.splice4j.samples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * The far end of the bench's bulk traffic, a thread per connection. A connection starts with a 9-byte header, a mode
 * and a number: {@code 'U'} sinks until the end of stream and answers with the count of bytes it got (8 bytes);
 * {@code 'D'} sends, and what the number means is the sender's ({@link Bench}: that many bytes, {@link BenchStreams}:
 * for that many nanoseconds).
 */
final class BenchTarget implements AutoCloseable {

    /** What a {@code 'D'} connection sends, given the header's number. */
    interface Sender {
        void send(SocketChannel c, long value) throws IOException;
    }

    private final ServerSocketChannel server;
    private final Sender sender;

    BenchTarget(int backlog, Sender sender) throws IOException {
        this.server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), backlog);
        this.sender = sender;
        Thread acceptor = new Thread(this::acceptLoop, "bench-target");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() throws IOException {
        return (InetSocketAddress) server.getLocalAddress();
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                Thread t = new Thread(() -> serve(c), "bench-target-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            ByteBuffer header = ByteBuffer.allocate(9);
            while (header.hasRemaining()) {
                if (c.read(header) < 0) {
                    return;
                }
            }
            header.flip();
            byte mode = header.get();
            long value = header.getLong();
            if (mode == 'U') {
                long got = Bench.drain(c);
                ByteBuffer ack = ByteBuffer.allocate(8).putLong(got).flip();
                while (ack.hasRemaining()) {
                    c.write(ack);
                }
            } else {
                sender.send(c, value);
            }
        } catch (IOException e) {
            System.err.println("bench target: " + e.getMessage());
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
