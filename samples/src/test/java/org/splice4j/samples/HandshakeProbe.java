package org.splice4j.samples;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.util.NetUtil;

/**
 * A pass-through handler just before {@link Socks5Handler} for the SOCKS5 fuzz test: it sees what the handler itself
 * hides (it closes on any exception), how deep channelRead nests, and the host a CONNECT asks for, which
 * {@link #resolver()} needs since a task does not say what it resolves.
 */
final class HandshakeProbe extends ChannelInboundHandlerAdapter {

    private int depth;
    int maxNesting;
    Throwable error;
    private String host;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Socks5CommandRequest) {
            host = ((Socks5CommandRequest) msg).dstAddr();
        }
        maxNesting = Math.max(maxNesting, ++depth);
        try {
            ctx.fireChannelRead(msg);
        } finally {
            depth--;
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Error && error == null) {
            error = cause;
        }
        ctx.fireExceptionCaught(cause);
    }

    /**
     * The handler's resolver, without the network: a literal address resolves at once (InetAddress parses it), a
     * name is never answered, as if the lookup hung, which leaves the handshake waiting.
     */
    ExecutorService resolver() {
        return new AbstractExecutorService() {
            @Override
            public void execute(Runnable task) {
                if (host != null && (NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host))) {
                    task.run();
                }
            }

            @Override
            public void shutdown() {
            }

            @Override
            public List<Runnable> shutdownNow() {
                return List.of();
            }

            @Override
            public boolean isShutdown() {
                return false;
            }

            @Override
            public boolean isTerminated() {
                return false;
            }

            @Override
            public boolean awaitTermination(long timeout, TimeUnit unit) {
                return true;
            }
        };
    }
}
