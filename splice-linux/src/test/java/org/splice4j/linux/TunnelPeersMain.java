package org.splice4j.linux;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The peers of {@link ScaleTest}'s idle tunnels, in a child JVM ({@link TunnelPeersChild}), so that the JVM under
 * test holds only the proxy's two sockets and the provider's two dups per tunnel. It listens as the targets and opens
 * the clients; the parent accepts each client, connects to a target and splices the pair.
 *
 * <p>A line protocol on stdin and stdout; every reply is one line, {@code fail ...} on any error (then it exits):
 * <ul>
 *   <li>at start it prints {@code ready PORT LIMIT}: its targets' port and its own descriptor limit;</li>
 *   <li>{@code open PORT N}: opens N clients to the parent's listener on PORT, one at a time, each followed by the
 *       accept of the target connection the parent makes for it, so client i and target i are the ends of tunnel i;
 *       replies {@code opened N};</li>
 *   <li>{@code ping}: one byte through every tunnel client to target, then one back, each checked at the other end
 *       (the byte depends on the tunnel, so crossed tunnels show); replies {@code ok N};</li>
 *   <li>{@code close}: closes every client and target (each session sees both ends finish); replies
 *       {@code closed N};</li>
 *   <li>{@code exit}, or the end of stdin (the parent is gone): exits.</li>
 * </ul>
 * The commands run on a worker thread, so that the main thread sees stdin close even while one blocks.
 */
public final class TunnelPeersMain {

    private final ServerSocketChannel targets;
    private final List<SocketChannel> clients = new ArrayList<>();
    private final List<SocketChannel> targetEnds = new ArrayList<>();

    private TunnelPeersMain(ServerSocketChannel targets) {
        this.targets = targets;
    }

    public static void main(String[] args) throws Exception {
        ServerSocketChannel targets = ServerSocketChannel.open(); // this JVM's, closed when it exits
        targets.bind(new InetSocketAddress("127.0.0.1", 0), 1024);
        TunnelPeersMain peers = new TunnelPeersMain(targets);
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tunnel-peers");
            t.setDaemon(true);
            return t;
        });
        reply("ready " + targets.socket().getLocalPort() + " " + openFilesLimit());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.equals("exit")) {
                break;
            }
            String command = line;
            worker.execute(() -> peers.run(command));
        }
        // exit, or stdin closed: the parent is done or gone; every socket here dies with this JVM
        System.exit(0);
    }

    private void run(String command) {
        try {
            String[] words = command.split(" ");
            switch (words[0]) {
                case "open" -> reply("opened " + open(Integer.parseInt(words[1]), Integer.parseInt(words[2])));
                case "ping" -> reply("ok " + ping());
                case "close" -> reply("closed " + closeAll());
                default -> throw new IllegalArgumentException("unknown command: " + command);
            }
        } catch (Throwable e) {
            reply("fail " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    private int open(int parentPort, int n) throws IOException {
        InetSocketAddress parent = new InetSocketAddress("127.0.0.1", parentPort);
        for (int i = 0; i < n; i++) {
            // Lockstep with the parent: it accepts this client, then connects to the targets, and only then does
            // the next client connect, so the next target accepted is this client's.
            SocketChannel client = SocketChannel.open(parent); // this JVM's: closed by close
            clients.add(client);
            SocketChannel target = targets.accept(); // this JVM's: closed by close
            targetEnds.add(target);
            client.setOption(StandardSocketOptions.TCP_NODELAY, true);
            target.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        return clients.size();
    }

    private int ping() throws IOException {
        send(clients, targetEnds, 0);
        send(targetEnds, clients, 1);
        return clients.size();
    }

    /** One byte into every {@code from}, then each read at its {@code to} and checked. */
    private static void send(List<SocketChannel> from, List<SocketChannel> to, int direction) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        for (int i = 0; i < from.size(); i++) {
            one.clear().put(mark(i, direction)).flip();
            while (one.hasRemaining()) {
                from.get(i).write(one);
            }
        }
        for (int i = 0; i < to.size(); i++) {
            one.clear();
            while (one.hasRemaining()) {
                if (to.get(i).read(one) < 0) {
                    throw new IOException("tunnel " + i + " closed before its byte arrived");
                }
            }
            if (one.get(0) != mark(i, direction)) {
                throw new IOException("tunnel " + i + " direction " + direction + ": byte " + one.get(0)
                        + " arrived, " + mark(i, direction) + " sent");
            }
        }
    }

    /** The byte tunnel i sends in a direction: 131 is odd, so 256 tunnels in a row all differ. */
    private static byte mark(int tunnel, int direction) {
        return (byte) (tunnel * 131 + 17 + direction * 64);
    }

    private int closeAll() throws IOException {
        int n = clients.size();
        for (int i = 0; i < n; i++) {
            clients.get(i).close();
            targetEnds.get(i).close();
        }
        clients.clear();
        targetEnds.clear();
        return n;
    }

    private static synchronized void reply(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static long openFilesLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
            }
        }
        return 0;
    }
}
