package org.splice4j.spi.contract;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.Locale;
import java.util.concurrent.ExecutorService;

import org.junit.jupiter.api.Assumptions;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;

/**
 * What the adapter and sample tests share: a {@code linux} splicer, a loopback listener standing for the proxied
 * target, and a pool for the blocking peers. Opening it aborts the calling test (a JUnit assumption) on systems other
 * than Linux, where neither epoll nor the linux provider exist.
 */
public final class LinuxTestbed implements AutoCloseable {

    public final Splicer splicer;
    public final ServerSocketChannel target;
    public final ExecutorService pool;

    private LinuxTestbed(Splicer splicer, ServerSocketChannel target, ExecutorService pool) {
        this.splicer = splicer;
        this.target = target;
        this.pool = pool;
    }

    public static LinuxTestbed open() throws IOException {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"),
                "the epoll transport and the linux provider exist only on Linux");
        Splicer splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
        ServerSocketChannel target = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 512);
        return new LinuxTestbed(splicer, target, Peers.newPool("peer"));
    }

    public InetSocketAddress targetAddress() throws IOException {
        return (InetSocketAddress) target.getLocalAddress();
    }

    @Override
    public void close() throws IOException {
        pool.shutdownNow();
        target.close();
        splicer.close();
    }
}
