package org.splice4j.jetty;

import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.handler.ConnectHandler;

import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerChoice;

/**
 * A {@link ConnectHandler} whose CONNECT tunnels are relayed by the kernel.
 *
 * <p>Everything before the tunnel is ConnectHandler's own: authentication ({@link #handleAuthentication}), the host
 * include/exclude lists and {@link #validateDestination}, the connect timeout, the status codes it answers with, the
 * 200, and the bytes the client pipelined after its CONNECT (Jetty writes them to the server itself). Then, where
 * both sockets are cleartext TCP, neither connection ever reads again: the two sockets go to the {@link Splicer}, and
 * when the session ends both endpoints are closed through Jetty. The handler's idle timeout (and the connector's, on
 * the client side) applies to the spliced session as a whole, since Jetty's own would see no reads or writes.
 *
 * <p>Tunnels that cannot be spliced take ConnectHandler's copying path unchanged: TLS between the client and the
 * proxy, HTTP/2 extended CONNECT, Unix-domain sockets, and every tunnel when splicing is off
 * ({@code splice4j.enabled} not {@code true}) or no provider is available (one INFO line says why, at start).
 */
public class SpliceConnectHandler extends ConnectHandler {

    /** Context key under which the upstream connection leaves the tunnel for the downstream one. */
    private static final String TUNNEL = SplicedSockets.class.getName();

    private final LongAdder spliced = new LongAdder();
    private final LongAdder stock = new LongAdder();
    private final LongAdder ended = new LongAdder();
    private Splicer configured;
    private SplicerChoice choice;

    public SpliceConnectHandler() {
    }

    public SpliceConnectHandler(Handler handler) {
        super(handler);
    }

    /** The splicer to use instead of the default one; the caller keeps owning it. Set before start. */
    public void setSplicer(Splicer splicer) {
        this.configured = splicer;
    }

    /** Whether tunnels are spliced where their sockets allow it (known once started). */
    public boolean isSplicing() {
        SplicerChoice c = choice;
        return c != null && c.splicer().isPresent();
    }

    /** How many tunnels went to the splicer since start. */
    public long getSplicedTunnels() {
        return spliced.sum();
    }

    /** How many spliced tunnels are open now. */
    public long getOpenSplicedTunnels() {
        return spliced.sum() - ended.sum();
    }

    /** How many tunnels took ConnectHandler's copying path since start. */
    public long getStockTunnels() {
        return stock.sum();
    }

    @Override
    protected void doStart() throws Exception {
        choice = SplicerChoice.forAdapter(configured, this);
        spliced.reset();
        stock.reset();
        ended.reset();
        super.doStart();
    }

    /**
     * Called once a spliced tunnel has ended and both its endpoints are closed, on the splicer's notifier thread
     * (never a selector thread), with what it relayed: spliced tunnels are invisible to {@link #read} and
     * {@link #write}, so this is where to count their bytes. The default does nothing; keep overrides short.
     */
    protected void onSplicedTunnelEnded(SpliceResult result) {
    }

    @Override
    protected UpstreamConnection newUpstreamConnection(EndPoint endPoint, ConnectContext connectContext) {
        Splicer splicer = choice.splicer().orElse(null);
        EndPoint clientSide = connectContext.getEndPoint();
        if (splicer == null || SplicedSockets.spliceableSocket(clientSide) == null
                || SplicedSockets.spliceableSocket(endPoint) == null) {
            stock.increment();
            if (splicer != null) {
                splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, "CONNECT " + endPoint.getRemoteSocketAddress(),
                        "not a cleartext TCP socket: " + (SplicedSockets.spliceableSocket(clientSide) == null
                                ? clientSide : endPoint));
            }
            return super.newUpstreamConnection(endPoint, connectContext);
        }
        // The client's pipelined bytes are not known yet: Jetty writes them upstream before the takeover.
        SplicedSockets tunnel = new SplicedSockets(splicer,
                SplicedSockets.Socket.of(clientSide, null), SplicedSockets.Socket.of(endPoint, null));
        connectContext.getContext().put(TUNNEL, tunnel);
        return new SplicedUpstreamConnection(endPoint, connectContext, tunnel);
    }

    @Override
    protected DownstreamConnection newDownstreamConnection(EndPoint endPoint, ConcurrentMap<String, Object> context) {
        Object tunnel = context.get(TUNNEL);
        if (tunnel instanceof SplicedSockets t) {
            return new SplicedDownstreamConnection(endPoint, context, t);
        }
        return super.newDownstreamConnection(endPoint, context);
    }

    /**
     * The server side. It never asks Jetty to read: bytes a server sends first (an SSH or SMTP banner) stay in the
     * kernel for the splicer. It reads the stock way only if the splicer refuses the tunnel.
     */
    protected class SplicedUpstreamConnection extends UpstreamConnection {
        private static final int JETTY_ASKED = 1;
        private static final int STOCK_PATH = 2;
        private final SplicedSockets tunnel;
        /** Which of the two conditions for a stock read hold; the read is asked for once, when both do. */
        private final AtomicInteger stockRead = new AtomicInteger();

        protected SplicedUpstreamConnection(EndPoint endPoint, ConnectContext context, SplicedSockets tunnel) {
            super(endPoint, SpliceConnectHandler.this.getExecutor(), SpliceConnectHandler.this.getByteBufferPool(), context);
            this.tunnel = tunnel;
        }

        /**
         * {@code onOpen} asks for the first read here. The client side may already have taken its own path by then
         * (the 200 is written from {@code onOpen}, and the client's connection opens on another thread), so the
         * read is asked for only once both this call was made and the splicer refused the tunnel.
         */
        @Override
        public void fillInterested() {
            holds(JETTY_ASKED);
        }

        void takeStockPath() {
            holds(STOCK_PATH);
        }

        private void holds(int condition) {
            int before = stockRead.getAndAccumulate(condition, (a, b) -> a | b);
            if (before != (JETTY_ASKED | STOCK_PATH) && (before | condition) == (JETTY_ASKED | STOCK_PATH)) {
                super.fillInterested();
            }
        }

        @Override
        public void onClose(Throwable cause) {
            tunnel.closedByJetty(); // before Jetty's listeners run: the session stops touching the socket
            super.onClose(cause);
        }
    }

    /**
     * The client side. ConnectHandler calls {@link #fillInterested()} once the 200 is written, the HTTP connection is
     * upgraded away and the client's pipelined bytes reached the server: from then on no byte of the tunnel is in
     * user space, and that is where the splicer takes over.
     */
    protected class SplicedDownstreamConnection extends DownstreamConnection {
        private final SplicedSockets tunnel;
        private boolean started;

        protected SplicedDownstreamConnection(EndPoint endPoint, ConcurrentMap<String, Object> context,
                                              SplicedSockets tunnel) {
            super(endPoint, SpliceConnectHandler.this.getExecutor(), SpliceConnectHandler.this.getByteBufferPool(), context);
            this.tunnel = tunnel;
        }

        @Override
        public void fillInterested() {
            if (started) {
                super.fillInterested(); // the stock path
                return;
            }
            started = true;
            // start() takes whatever the splicer throws, an Error included, as a refusal and gives both endpoints
            // their idle timeouts back: the stock path below then relays and times out the tunnel as ConnectHandler.
            if (tunnel.start()) {
                spliced.increment();
                tunnel.result().thenAccept(r -> {
                    ended.increment();
                    onSplicedTunnelEnded(r);
                });
                return;
            }
            stock.increment();
            ((SplicedUpstreamConnection) getConnection()).takeStockPath();
            super.fillInterested();
        }

        @Override
        public void onClose(Throwable cause) {
            tunnel.closedByJetty();
            super.onClose(cause);
        }
    }
}
