package org.splice4j.netty;

import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * Keeps the bytes Netty reads from a channel while the relay is taking it over, so that none reaches the pipeline's
 * tail (which drops them). Netty's epoll transport reads on EPOLLRDHUP even with autoRead off, so a client that sends
 * and half-closes during the hand-over would otherwise lose its bytes. The relay that takes the channel then sends
 * what was kept first ({@link #take}).
 *
 * <p>Installed at the end of the pipeline on the channel's event loop, the moment the relay gets the channel, and
 * before a channel is registered back with Netty (the collector is then in place before the first read). Only the
 * channel's event loop touches it, or another thread once the channel is deregistered.
 */
final class EarlyReads extends ChannelInboundHandlerAdapter {

    static final String NAME = "splice4j-early-reads";

    private final List<ByteBuf> kept = new ArrayList<>();
    /** An exception Netty reported meanwhile (a reset): the hand-over fails with it. */
    Throwable failure;

    /** Channel's event loop, or a deregistered channel: installs the collector unless one is there already. */
    static EarlyReads install(Channel ch) {
        EarlyReads existing = ch.pipeline().get(EarlyReads.class);
        if (existing != null) {
            return existing;
        }
        EarlyReads r = new EarlyReads();
        ch.pipeline().addLast(NAME, r);
        return r;
    }

    /** The collector on this channel, or null. */
    static EarlyReads of(Channel ch) {
        return ch.pipeline().get(EarlyReads.class);
    }

    /**
     * Channel's event loop, or a deregistered channel: removes the collector (if any) and returns {@code first}
     * followed by what it kept, as one buffer the caller releases, or null if there is nothing. Allocates nothing but
     * a composite view; on any failure everything is released before it is rethrown.
     */
    static ByteBuf take(Channel ch, ByteBuf first) {
        EarlyReads r = of(ch);
        List<ByteBuf> bufs = new ArrayList<>(2);
        try {
            if (first != null && first.isReadable()) {
                bufs.add(first);
            } else if (first != null) {
                first.release();
            }
            first = null;
            if (r != null) {
                bufs.addAll(r.kept);
                r.kept.clear();
                ch.pipeline().remove(r);
            }
            if (bufs.isEmpty()) {
                return null;
            }
            if (bufs.size() == 1) {
                return bufs.get(0);
            }
            CompositeByteBuf all;
            try {
                all = bufs.get(0).alloc().compositeBuffer(bufs.size());
            } catch (Throwable t) {
                for (ByteBuf b : bufs) {
                    ReferenceCountUtil.release(b);
                }
                throw t;
            }
            int handed = 0;
            try {
                while (handed < bufs.size()) {
                    // Ownership passes to the composite with the call, even if it fails (it then releases the buffer).
                    all.addComponent(true, bufs.get(handed++));
                }
            } catch (Throwable t) {
                all.release(); // and with it every buffer already handed over
                for (int i = handed; i < bufs.size(); i++) {
                    ReferenceCountUtil.release(bufs.get(i));
                }
                throw t;
            }
            return all;
        } catch (Throwable t) {
            ReferenceCountUtil.release(first);
            throw t;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            kept.add((ByteBuf) msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        // An end of stream seen now is seen again by the relay: a socket at EOF keeps reading 0, and the copying relay
        // checks isInputShutdown() when it starts.
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (failure == null) {
            failure = cause;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        // Removed without being taken (the channel closed during the hand-over): free what it kept.
        for (ByteBuf b : kept) {
            ReferenceCountUtil.release(b);
        }
        kept.clear();
    }
}
