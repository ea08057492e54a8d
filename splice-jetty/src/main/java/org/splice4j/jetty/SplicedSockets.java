package org.splice4j.jetty;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import org.eclipse.jetty.io.EndPoint;

import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * The client socket and the server socket of one tunnel, relayed by a {@link Splicer} once Jetty no longer reads or
 * writes either of them.
 *
 * <p>Jetty keeps owning its endpoints (the provider works on its own dups): when the session ends the tunnel closes
 * them through {@link EndPoint#close}, so Jetty's connection listeners, statistics and selector see a normal close. A
 * close that starts on Jetty's side (server stop, an error) must call {@link #closedByJetty()} from the connection's
 * {@code onClose}; the session is then cancelled, which shuts the sockets down on the provider's dups so the peers
 * see the close even though those dups kept the sockets alive.
 *
 * <p>Jetty's idle timeout is enforced by reads and writes, which stop here; it is switched off on both endpoints and
 * the shorter of the two is handed to the session instead.
 */
final class SplicedSockets {

    private static final System.Logger LOG = System.getLogger(SplicedSockets.class.getName());

    private final Splicer splicer;
    private final Socket client;
    private final Socket server;
    private final CompletableFuture<SpliceResult> result = new CompletableFuture<>();
    private volatile SpliceSession session;
    private volatile boolean jettyClosed;

    SplicedSockets(Splicer splicer, Socket client, Socket server) {
        this.splicer = splicer;
        this.client = client;
        this.server = server;
    }

    /**
     * The socket under {@code endPoint} when its bytes are opaque and it can be spliced: a cleartext TCP socket over
     * IPv4 or IPv6. Null for TLS ({@code SslEndPoint} has an endpoint, not a channel, as transport), HTTP/2 streams,
     * Unix-domain sockets and anything else.
     */
    static SocketChannel spliceableSocket(EndPoint endPoint) {
        if (endPoint == null || endPoint.isSecure() || !(endPoint.getTransport() instanceof SocketChannel ch)) {
            return null;
        }
        // A Unix-domain SocketChannel is a SocketChannel too: the address family decides.
        return endPoint.getRemoteSocketAddress() instanceof InetSocketAddress && ch.isOpen() ? ch : null;
    }

    /**
     * Starts splicing.
     *
     * <p>Whatever {@code splice} throws, an {@link Error} included, is a refusal: the idle timeouts switched off here
     * are given back to Jetty and {@link #result()} completes exceptionally with it, so that the caller can relay the
     * sockets the stock way (or close them) instead of leaving an exchange that neither Jetty nor a session times
     * out. A provider documents only runtime exceptions, for which nothing was touched; after an Error nothing is
     * known, and going on with Jetty's own relay is the one way left that keeps the peers served.
     *
     * @return false if the splicer refused these sockets (the caller relays them the stock way)
     */
    boolean start() {
        SpliceOptions options = SpliceOptions.defaults();
        SpliceSession s;
        try {
            options = options.withLabel(client + "<->" + server);
            long idle = Math.min(client.suspendIdleTimeout(), server.suspendIdleTimeout());
            if (idle != Long.MAX_VALUE) {
                options = options.withIdleTimeout(Duration.ofMillis(idle));
            }
            s = splicer.splice(client.endpoint(), server.endpoint(), options);
        } catch (Throwable refused) {
            // IllegalArgumentException or IllegalStateException for sockets the provider cannot serve; an
            // UncheckedIOException when it cannot dup them (no descriptors left); an Error from anywhere below.
            client.restoreIdleTimeout();
            server.restoreIdleTimeout();
            if (refused instanceof RuntimeException) {
                LOG.log(Level.DEBUG, "splice4j: relaying {0} the stock way: {1}", options.label(), refused.toString());
            } else {
                // Not a documented refusal: say it once per tunnel, where an operator looks.
                LOG.log(Level.WARNING, "splice4j: relaying " + options.label() + " the stock way: the splicer failed",
                        refused);
            }
            result.completeExceptionally(refused);
            return false;
        }
        session = s;
        if (jettyClosed) {
            s.cancel(); // Jetty closed an endpoint while the session was being made
        }
        s.completion().whenComplete((r, never) -> finish(r));
        return true;
    }

    /** From a connection's {@code onClose}, on any thread: ends the session, synchronously. */
    void closedByJetty() {
        jettyClosed = true;
        SpliceSession s = session;
        if (s != null) {
            s.cancel();
        }
    }

    /**
     * Completes when both sockets are closed, with what the session relayed; exceptionally, with the splicer's
     * exception, when {@link #start()} returned false (the sockets are then the caller's again).
     */
    CompletionStage<SpliceResult> result() {
        return result;
    }

    /** The splicer's notifier thread (never a loop thread): closes both sockets, then reports. */
    private void finish(SpliceResult r) {
        boolean abortive = r.outcome() == SpliceResult.Outcome.RESET;
        Throwable cause = r.cause().orElse(null);
        client.close(abortive, cause);
        server.close(abortive, cause);
        LOG.log(Level.DEBUG, "splice4j: tunnel {0} ended: {1}", session.label(), r);
        result.complete(r);
    }

    /** One socket of the tunnel: a Jetty endpoint, or a channel the tunnel owns (an Upgrade tunnel's server side). */
    static final class Socket {
        private final EndPoint endPoint;
        private final SocketChannel channel;
        private final ByteBuffer alreadyRead;
        private long jettyIdleTimeout;
        /** Whether {@link #suspendIdleTimeout} switched Jetty's off, so that a restore gives back only that. */
        private boolean suspended;

        private Socket(EndPoint endPoint, SocketChannel channel, ByteBuffer alreadyRead) {
            this.endPoint = endPoint;
            this.channel = channel;
            this.alreadyRead = alreadyRead;
        }

        /**
         * A Jetty endpoint accepted by {@link #spliceableSocket}, and bytes read from it that the other socket must
         * get first (may be null).
         */
        static Socket of(EndPoint endPoint, ByteBuffer alreadyRead) {
            SocketChannel ch = spliceableSocket(endPoint);
            if (ch == null) {
                throw new IllegalArgumentException("not a cleartext TCP endpoint: " + endPoint);
            }
            return new Socket(endPoint, ch, alreadyRead);
        }

        /** A non-blocking connected channel that the tunnel owns and closes, and bytes read from it ahead. */
        static Socket ofOwned(SocketChannel channel, ByteBuffer alreadyRead) {
            return new Socket(null, channel, alreadyRead);
        }

        SpliceEndpoint endpoint() {
            return SpliceEndpoint.of(channel, alreadyRead);
        }

        /** Switches Jetty's idle timeout off and returns it (MAX_VALUE when there is none). */
        long suspendIdleTimeout() {
            if (endPoint == null) {
                return Long.MAX_VALUE;
            }
            jettyIdleTimeout = endPoint.getIdleTimeout();
            endPoint.setIdleTimeout(0);
            suspended = true;
            return jettyIdleTimeout > 0 ? jettyIdleTimeout : Long.MAX_VALUE;
        }

        /** Gives Jetty back the idle timeout {@link #suspendIdleTimeout} switched off, if it did. */
        void restoreIdleTimeout() {
            if (endPoint != null && suspended) {
                suspended = false;
                endPoint.setIdleTimeout(jettyIdleTimeout);
            }
        }

        void close(boolean abortive, Throwable cause) {
            if (abortive) {
                try {
                    // Linger 0: the peer gets a reset too, the way a proxy tells a client its tunnel failed.
                    channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                } catch (IOException | RuntimeException alreadyClosed) {
                    // nothing to reset
                }
            }
            if (endPoint != null) {
                // Jetty owns the socket: close it through Jetty so its listeners and selector see the close.
                endPoint.close(cause);
            } else {
                try {
                    channel.close(); // the tunnel owns this channel (the Upgrade handler opened it)
                } catch (IOException e) {
                    LOG.log(Level.DEBUG, "splice4j: closing " + channel, e);
                }
            }
        }

        @Override
        public String toString() {
            return String.valueOf(endPoint != null ? endPoint.getRemoteSocketAddress() : remote(channel));
        }

        private static Object remote(SocketChannel ch) {
            try {
                return ch.getRemoteAddress();
            } catch (IOException e) {
                return ch;
            }
        }
    }
}
