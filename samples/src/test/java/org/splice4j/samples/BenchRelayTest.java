package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** {@code bench --proxy NAME=COMMAND}: parsing, and a real command started, relaying, measured and stopped. */
class BenchRelayTest {

    private static BenchProgress progress(ByteArrayOutputStream out) {
        return new BenchProgress(1, List.of("direct", "x"), new PrintStream(out, true, StandardCharsets.UTF_8), false,
                System::nanoTime);
    }

    @Test
    void parsesNameAndCommand() {
        BenchRelay.External e = BenchRelay.External.parse("socat=exec socat TCP-LISTEN:{listenPort} TCP:{target}");
        assertEquals("socat", e.name());
        assertEquals("exec socat TCP-LISTEN:{listenPort} TCP:{target}", e.command());
    }

    @Test
    void refusesWhatCannotBeARow() {
        assertRefused("no equals sign", "NAME=COMMAND");
        assertRefused("bad name=x {listen} {target}", "NAME must be");
        assertRefused("p=haproxy -f cfg", "{listen} (or {listenPort}) and {target}");
        assertRefused("p=x {listen}", "{target}");
    }

    private static void assertRefused(String spec, String because) {
        String message = assertThrows(IllegalArgumentException.class, () -> BenchRelay.External.parse(spec))
                .getMessage();
        assertTrue(message.contains(because), message);
    }

    @Test
    void aCommandIsStartedMeasuredAndStoppedWithWhatItStarted() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // Not exec'd: the shell stays the row's process and the relay is its child, as with a wrapper script.
        BenchRelay.External spec = BenchRelay.External.parse("r=" + java + " -Dsplice4j.provider=copy -cp "
                + System.getProperty("java.class.path") + " " + Main.class.getName()
                + " relay --listen {listen} --target {target}");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            BenchRelay relay = BenchRelay.external(spec, (InetSocketAddress) target.getLocalAddress(),
                    progress(log));
            List<ProcessHandle> all;
            try (relay) {
                assertTrue(BenchRelay.listening(relay.via.address().getPort()));
                all = relay.pids().stream().map(pid -> ProcessHandle.of(pid).orElseThrow()).toList();
                assertTrue(all.size() >= 2, "the shell and the JVM it started: " + all);
                try (SocketChannel c = SocketChannel.open(relay.via.address());
                     SocketChannel t = target.accept()) {
                    c.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII)));
                    ByteBuffer got = ByteBuffer.allocate(4);
                    while (got.hasRemaining() && t.read(got) >= 0) {
                        // until the four bytes arrived
                    }
                    assertEquals("ping", new String(got.array(), StandardCharsets.US_ASCII));
                }
                assertTrue(relay.cpuSeconds() > 0, "a JVM that started and relayed used some CPU");
            }
            for (ProcessHandle h : all) {
                h.onExit().get(); // close() waited for the shell; every descendant ends too
            }
        }
    }

    @Test
    void aCommandThatExitsIsReportedWithItsStatus() {
        BenchRelay.External spec = BenchRelay.External.parse("f=echo {listen} {target}; exit 3");
        IOException e = assertThrows(IOException.class, () -> BenchRelay.external(spec,
                new InetSocketAddress("127.0.0.1", 9), progress(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("exited with status 3"), e.getMessage());
    }

    @Test
    void aBenchEndedBySignalStopsItsRelay() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // Long enough that the relay row is still running when the bench is ended: 16 GiB each way.
        Process bench = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "bench", "--bytes", "16g", "--runs", "1", "--rows", "relay-copy")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        ProcessHandle relay = null;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (relay == null && System.nanoTime() - deadline < 0 && bench.isAlive()) {
                relay = bench.descendants().findFirst().orElse(null);
                if (relay == null) {
                    Thread.sleep(50); // no event says a grandchild was started; the bench's direct row takes seconds
                }
            }
            assertTrue(relay != null, "the bench started its relay row");
            bench.destroy(); // SIGTERM, as kill or a terminal's Ctrl-C would
            relay.onExit().get(30, TimeUnit.SECONDS); // stopped by the bench's shutdown hook, not left running
            assertTrue(bench.waitFor(30, TimeUnit.SECONDS));
        } finally {
            if (relay != null) {
                relay.destroyForcibly(); // by its handle: once the bench is gone it is nobody's descendant
            }
            bench.destroyForcibly();
        }
    }
}
