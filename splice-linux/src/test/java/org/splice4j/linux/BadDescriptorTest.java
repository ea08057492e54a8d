package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.SpliceProviderContractTest;
import org.splice4j.spi.contract.Tunnel;

/** Descriptors the provider must refuse with a clear error, leaving nothing open behind. */
class BadDescriptorTest {

    private static Splicer splicer;
    private static ServerSocketChannel listener;

    @BeforeAll
    static void start() throws IOException {
        Assumptions.assumeTrue(LinuxContractBase.IS_LINUX, "the linux provider exists only on Linux");
        splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
        listener = Tunnel.listen();
    }

    @AfterAll
    static void stop() throws IOException {
        if (splicer != null) {
            splicer.close();
            listener.close();
        }
    }

    private static String refused(SpliceEndpoint bad, SpliceEndpoint good) throws IOException {
        long before = SpliceProviderContractTest.openFdsForTests();
        // The bad one first: dup'ing the good one could otherwise take a freed descriptor number (that reuse is exactly
        // why a descriptor endpoint must be open while splice() runs).
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> splicer.splice(bad, good));
        assertEquals(before, SpliceProviderContractTest.openFdsForTests(), "a refused splice must leave no dup open");
        return e.getMessage();
    }

    @Test
    void aClosedDescriptor() throws Exception {
        try (Tunnel t = Tunnel.open(listener)) {
            int fd = FdAccess.fdOf(t.proxyB);
            SpliceEndpoint stale = SpliceEndpoint.ofDescriptor(fd, null);
            t.proxyB.close();
            String m = refused(stale, SpliceEndpoint.of(t.proxyA));
            assertTrue(m.contains("is not open") || m.contains("not a TCP socket"), m);
        }
    }

    @Test
    void aPipeIsNotASocket() throws Exception {
        Pipe pipe = Pipe.open();
        try (Tunnel t = Tunnel.open(listener)) {
            int fd = FdAccess.fdOf(t.proxyB);
            assertTrue(fd > 0);
            // The read end of a JDK pipe: a descriptor, but not a TCP socket.
            int pipeFd = (int) Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal").invoke(pipe.source());
            String msg = refused(SpliceEndpoint.ofDescriptor(pipeFd, null), SpliceEndpoint.of(t.proxyA));
            assertTrue(msg.contains("is not a socket"), msg);
        } finally {
            pipe.source().close();
            pipe.sink().close();
        }
    }

    @Test
    void aBlockingSocketDescriptor() throws Exception {
        try (Tunnel t = Tunnel.open(listener)) {
            String m = refused(SpliceEndpoint.ofDescriptor(FdAccess.fdOf(t.client), null), SpliceEndpoint.of(t.proxyA));
            assertTrue(m.contains("blocking"), m);
        }
    }

    @Test
    void anUnconnectedSocketDescriptor() throws Exception {
        try (Tunnel t = Tunnel.open(listener); SocketChannel unconnected = SocketChannel.open()) {
            unconnected.configureBlocking(false);
            String m = refused(SpliceEndpoint.ofDescriptor(FdAccess.fdOf(unconnected), null),
                    SpliceEndpoint.of(t.proxyA));
            assertTrue(m.contains("is not connected"), m);
        }
    }

    @Test
    void aReusedDescriptorNumberIsRefused() throws Exception {
        // The race the addresses guard against: the owner records its socket's addresses, closes it, and the kernel
        // gives the number to another connection. Simulated with two live tunnels: t's addresses, u's descriptor.
        try (Tunnel t = Tunnel.open(listener); Tunnel u = Tunnel.open(listener)) {
            InetSocketAddress local = (InetSocketAddress) t.proxyB.getLocalAddress();
            InetSocketAddress remote = (InetSocketAddress) t.proxyB.getRemoteAddress();
            SpliceEndpoint other = SpliceEndpoint.ofDescriptor(FdAccess.fdOf(u.proxyB), local, remote, null);
            String m = refused(other, SpliceEndpoint.of(t.proxyA));
            assertTrue(m.contains("number was reused"), m);
            // The same descriptor with its own addresses is taken.
            SpliceEndpoint own = SpliceEndpoint.ofDescriptor(FdAccess.fdOf(u.proxyB),
                    (InetSocketAddress) u.proxyB.getLocalAddress(),
                    (InetSocketAddress) u.proxyB.getRemoteAddress(), null);
            splicer.splice(own, SpliceEndpoint.of(u.proxyA)).cancel();
        }
    }
}
