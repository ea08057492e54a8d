package org.splice4j.linux;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@link TunnelPeersMain} in a child JVM (this JVM's java binary and class path), and its line protocol: each command
 * waits for its one-line reply, bounded in time. {@link #close} ends the child by its {@link Process} handle; the
 * child also exits by itself when its stdin closes, should this JVM die first.
 */
final class TunnelPeersChild implements AutoCloseable {

    private static final String EOF = "\0eof";

    private final Process process;
    private final Path stderr;
    private final Writer commands;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    /** Where the child's targets listen, and its own descriptor limit, from its {@code ready} line. */
    final InetSocketAddress targets;
    final long openFilesLimit;

    private TunnelPeersChild(Process process, Path stderr) throws IOException {
        this.process = process;
        this.stderr = stderr;
        this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII);
        Thread reader = new Thread(this::readReplies, "tunnel-peers-replies");
        reader.setDaemon(true);
        reader.start();
        String[] ready;
        try {
            ready = expect("ready", 60).split(" ");
        } catch (IOException e) {
            close();
            throw e;
        }
        this.targets = new InetSocketAddress("127.0.0.1", Integer.parseInt(ready[1]));
        this.openFilesLimit = Long.parseLong(ready[2]);
    }

    static TunnelPeersChild start() throws IOException {
        Path stderr = Files.createTempFile("splice4j-tunnel-peers", ".log");
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), TunnelPeersMain.class.getName());
        // stdout carries the replies; stderr goes to a file, not into surefire's streams
        Process p = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
        return new TunnelPeersChild(p, stderr);
    }

    /** Sends one command and returns its reply, which must start with {@code expected}. */
    String command(String line, String expected, long timeoutSeconds) throws IOException {
        send(line);
        return expect(expected, timeoutSeconds);
    }

    /** Sends one command without waiting, for one this JVM must take part in ({@code open}). */
    void send(String line) throws IOException {
        commands.write(line + "\n");
        commands.flush();
    }

    /** The next reply, which must start with {@code expected}; fails after {@code timeoutSeconds}. */
    String expect(String expected, long timeoutSeconds) throws IOException {
        String reply;
        try {
            reply = replies.poll(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the tunnel peers", e);
        }
        if (reply == null || !reply.startsWith(expected + " ")) {
            throw new IOException("tunnel peers: expected " + expected + ", got "
                    + (reply == null ? "nothing in " + timeoutSeconds + " s" : reply.equals(EOF) ? "their exit"
                    : reply) + "; their stderr: " + stderrText());
        }
        return reply;
    }

    private void readReplies() {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.US_ASCII))) {
            for (String line; (line = out.readLine()) != null; ) {
                replies.add(line);
            }
        } catch (IOException ignored) {
            // the stream closed under us: the child is gone or being ended
        }
        replies.add(EOF);
    }

    private String stderrText() {
        try {
            return Files.readString(stderr);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Asks the child to exit, then ends it by its handle if it has not within a few seconds. */
    @Override
    public void close() throws IOException {
        try {
            try {
                commands.write("exit\n");
                commands.close(); // its stdin: the child exits on this too
            } catch (IOException alreadyGone) {
                // it exited (or crashed) already; the handle below makes sure
            }
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            Files.deleteIfExists(stderr);
        }
    }
}
