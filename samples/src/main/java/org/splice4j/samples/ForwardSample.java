package org.splice4j.samples;

import java.net.InetSocketAddress;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import org.splice4j.netty.SpliceRelay;

/**
 * A TCP port forwarder on Netty: accept, connect to the target on the same event loop, then hand both channels to
 * {@link SpliceRelay}, which splices when {@code -Dsplice4j.enabled=true} and copies otherwise.
 */
final class ForwardSample {

    private ForwardSample() {
    }

    static void main(String[] args) throws Exception {
        Flags f = new Flags("forward", args).only("--listen", "--target", "--transport", "--grace");
        InetSocketAddress listen = f.address("--listen");
        InetSocketAddress target = f.address("--target");
        if (listen == null || target == null) {
            Main.usage("forward needs --listen and --target");
        }
        try (TunnelServer server = f.server()) {
            start(server, listen, target);
            server.runUntilShutdown(f.grace());
        }
    }

    /** Binds the forwarder; returns the address it listens on. */
    static InetSocketAddress start(TunnelServer server, InetSocketAddress listen, InetSocketAddress target)
            throws InterruptedException {
        return server.bind("forward", listen, "-> " + target.getHostString() + ":" + target.getPort(),
                ch -> ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        Channel in = ctx.channel();
                        server.connect(in, target).addListener(c -> {
                            if (!c.isSuccess()) {
                                System.err.println("forward: cannot connect to " + target + ": "
                                        + c.cause().getMessage());
                                in.close();
                                return;
                            }
                            ctx.pipeline().remove(this);
                            Channel out = ((io.netty.channel.ChannelFuture) c).channel();
                            server.track(server.relay.start(in, out, null));
                        });
                    }
                }));
    }
}
