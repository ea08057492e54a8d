package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.splice4j.netty.SpliceRelay;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.SpliceProviderContractTest;

/** 2,000 spliced SOCKS5 connections leave no descriptor behind once the proxy and its splicer are closed. */
class ProxiedConnectionLeakTest {

    private static long openFds() throws IOException {
        return SpliceProviderContractTest.openFdsForTests();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nio", "epoll"})
    void twoThousandConnectionsLeaveNoDescriptorBehind(String transport) throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"));
        ExecutorService clients = Executors.newFixedThreadPool(20);
        try (ServerSocket echo = new ServerSocket(0, 100, InetAddress.getLoopbackAddress())) {
            Thread echoThread = new Thread(() -> {
                ExecutorService handlers = Executors.newCachedThreadPool();
                while (!echo.isClosed()) {
                    try {
                        Socket s = echo.accept();
                        handlers.execute(() -> {
                            try (s) {
                                s.getOutputStream().write(s.getInputStream().readAllBytes());
                            } catch (IOException ignored) {
                                // the client went away
                            }
                        });
                    } catch (IOException e) {
                        break;
                    }
                }
                handlers.shutdownNow();
            }, "echo");
            echoThread.setDaemon(true);
            echoThread.start();
            runRound(transport, echo.getLocalPort(), clients, 20); // warm-up: JIT, class loading, JDK caches
            long baseline = openFds();
            runRound(transport, echo.getLocalPort(), clients, 2000);
            assertEquals(baseline, openFds(), "descriptors left after 2,000 proxied connections and close()");
        } finally {
            clients.shutdownNow();
        }
    }

    private void runRound(String transport, int echoPort, ExecutorService clients, int connections) throws Exception {
        try (Splicer splicer = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"));
             TunnelServer server = new TunnelServer(transport, new SpliceRelay(splicer))) {
            InetSocketAddress proxy = Socks5Sample.start(server, new InetSocketAddress("127.0.0.1", 0),
                    AllowList.loopbackOnly(), null);
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                byte[] msg = ("connection " + i).getBytes();
                done.add(clients.submit(() -> {
                    try (Socket s = new Socket(new Proxy(Proxy.Type.SOCKS, proxy))) {
                        s.connect(new InetSocketAddress("127.0.0.1", echoPort), 10_000);
                        s.getOutputStream().write(msg);
                        s.shutdownOutput();
                        assertArrayEquals(msg, s.getInputStream().readAllBytes());
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
    }
}
