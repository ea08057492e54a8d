package org.splice4j.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceResult.Outcome;
import org.splice4j.spi.contract.FailingSplicer;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/**
 * Faults at the start of a tunnel: the provider failing in every way it can (EMFILE while dup'ing, an
 * OutOfMemoryError), and a client gone before the relay starts. Each must end in a working copied tunnel or in both
 * channels closed with the future completed; never two channels left open and a future pending.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpliceRelayFaultTest {

    private static final long MiB = 1L << 20;

    private LinuxTestbed bed;

    @BeforeAll
    void start() throws IOException {
        bed = LinuxTestbed.open();
    }

    @AfterAll
    void stop() throws IOException {
        if (bed != null) {
            bed.close();
        }
    }

    static Stream<Arguments> faults() {
        List<Arguments> list = new ArrayList<>();
        for (TestForwarder.Transport t : TestForwarder.Transport.values()) {
            list.add(Arguments.of(t, "EMFILE"));
            list.add(Arguments.of(t, "OutOfMemoryError"));
            list.add(Arguments.of(t, "StackOverflowError"));
        }
        return list.stream();
    }

    private static Throwable fault(String name) {
        switch (name) {
            case "EMFILE":
                return FailingSplicer.emfile();
            case "OutOfMemoryError":
                return FailingSplicer.outOfMemory();
            default:
                return new StackOverflowError("injected");
        }
    }

    private SocketChannel[] connect(TestForwarder f) throws IOException {
        synchronized (bed.target) {
            SocketChannel client = SocketChannel.open(new InetSocketAddress("127.0.0.1", f.port()));
            SocketChannel server = bed.target.accept();
            return new SocketChannel[] {client, server};
        }
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("faults")
    void aProviderFailingAtStartFallsBackToCopyingWithTheBytesReadAhead(TestForwarder.Transport t, String fault)
            throws Exception {
        // Takes what the real splicer takes, so the relay tries it, then fails.
        FailingSplicer failing = new FailingSplicer(bed.splicer.providerName(), bed.splicer.servesDescriptors(),
                bed.splicer.relaysOnOwnDuplicates(), () -> fault(fault));
        SpliceRelay relay = new SpliceRelay(failing).withPassiveHandlers(TestForwarder.InactiveCounter.class);
        try (TestForwarder f = new TestForwarder(t, (InetSocketAddress) bed.target.getLocalAddress(), relay,
                ch -> { })) {
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                Future<String> up = bed.pool.submit(() -> Streams.writeAndShutdown(client, 21, 8 * MiB));
                Future<String> down = bed.pool.submit(() -> Streams.writeAndShutdown(server, 22, 8 * MiB));
                Future<Streams.Received> atServer = bed.pool.submit(() -> Streams.readToEnd(server));
                Future<Streams.Received> atClient = bed.pool.submit(() -> Streams.readToEnd(client));
                assertEquals(new Streams.Received(8 * MiB, up.get(60, TimeUnit.SECONDS)),
                        atServer.get(60, TimeUnit.SECONDS));
                assertEquals(new Streams.Received(8 * MiB, down.get(60, TimeUnit.SECONDS)),
                        atClient.get(60, TimeUnit.SECONDS));
                SpliceResult r = f.results.poll(60, TimeUnit.SECONDS);
                assertTrue(r != null, "the relay's future must complete");
                assertEquals(Outcome.COMPLETED, r.outcome(), r.toString());
                assertEquals(0, r.splicedBytes(), "copied, not spliced: " + r);
                assertEquals(1, failing.calls.get(), "the relay must have tried the failing splicer");
                assertEquals(2, f.inactive.inactive.get(), "both channels closed through Netty");
            }
        }
    }

    static Stream<Arguments> modes() {
        List<Arguments> list = new ArrayList<>();
        for (TestForwarder.Transport t : TestForwarder.Transport.values()) {
            list.add(Arguments.of(t, true));
            list.add(Arguments.of(t, false));
        }
        return list.stream();
    }

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("modes")
    void aClientGoneBeforeTheRelayStartsClosesTheUpstreamConnectionToo(TestForwarder.Transport t, boolean splice)
            throws Exception {
        SpliceRelay relay = splice ? new SpliceRelay(bed.splicer) : new SpliceRelay();
        try (TestForwarder f = new TestForwarder(t, (InetSocketAddress) bed.target.getLocalAddress(),
                relay.withPassiveHandlers(TestForwarder.InactiveCounter.class), ch -> { })) {
            // What a client's reset before the proxy's reply does: the inbound channel is closed when the relay starts.
            f.beforeRelay = ch -> ch.close();
            SocketChannel[] c = connect(f);
            try (SocketChannel client = c[0]; SocketChannel server = c[1]) {
                SpliceResult r = f.results.poll(30, TimeUnit.SECONDS);
                assertTrue(r != null, "the relay's future must complete");
                // The upstream connection is closed by the proxy: the server reads its end of stream.
                server.socket().setSoTimeout(30_000);
                assertEquals(-1, server.socket().getInputStream().read(), "the upstream connection must close");
                assertEquals(0, Streams.readToEnd(client).bytes());
            }
        }
    }
}
