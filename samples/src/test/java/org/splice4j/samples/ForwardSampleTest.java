package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.contract.LinuxTestbed;
import org.splice4j.spi.contract.Streams;

/** The forward sample itself, each transport, splicing on and off: 32 MiB both ways at once, SHA-256 checked. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ForwardSampleTest {

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

    @ParameterizedTest(name = "{0}, splice={1}")
    @MethodSource("org.splice4j.samples.Socks5SampleTest#modes")
    void bothDirectionsArriveIntact(String transport, boolean splice) throws Exception {
        try (TunnelServer server = new TunnelServer(transport, splice ? new SpliceRelay(bed.splicer) : new SpliceRelay())) {
            InetSocketAddress at = ForwardSample.start(server, new InetSocketAddress("127.0.0.1", 0),
                    (InetSocketAddress) bed.target.getLocalAddress());
            try (SocketChannel client = SocketChannel.open(at); SocketChannel srv = bed.target.accept()) {
                long size = 32L << 20;
                Future<String> up = bed.pool.submit(() -> Streams.writeAndShutdown(client, 1, size));
                Future<String> down = bed.pool.submit(() -> Streams.writeAndShutdown(srv, 2, size));
                Future<Streams.Received> atServer = bed.pool.submit(() -> Streams.readToEnd(srv));
                Future<Streams.Received> atClient = bed.pool.submit(() -> Streams.readToEnd(client));
                assertEquals(new Streams.Received(size, up.get(60, TimeUnit.SECONDS)), atServer.get(60, TimeUnit.SECONDS));
                assertEquals(new Streams.Received(size, down.get(60, TimeUnit.SECONDS)),
                        atClient.get(60, TimeUnit.SECONDS));
            }
        }
    }
}
