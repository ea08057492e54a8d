package org.splice4j.samples;

import java.util.ArrayList;
import java.util.List;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/**
 * At the socket end of a test pipeline: when holding, writes wait (unflushed, their promises open) until
 * {@link #release()}, as on a socket whose send buffer is full because the client reads nothing. An
 * EmbeddedChannel otherwise completes every write at once, so a close that waits for a write would never wait.
 */
final class HeldWrites extends ChannelOutboundHandlerAdapter {

    private record Write(Object msg, ChannelPromise promise) {
    }

    private final boolean holding;
    private final List<Write> held = new ArrayList<>();
    private ChannelHandlerContext ctx;

    HeldWrites(boolean holding) {
        this.holding = holding;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (holding) {
            held.add(new Write(msg, promise));
        } else {
            ctx.write(msg, promise);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (!holding) {
            ctx.flush();
        }
    }

    /** Lets the held writes through, in order. */
    void release() {
        for (Write w : held) {
            ctx.write(w.msg(), w.promise());
        }
        held.clear();
        ctx.flush();
    }
}
