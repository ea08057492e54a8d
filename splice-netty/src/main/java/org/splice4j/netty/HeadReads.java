package org.splice4j.netty;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * Keeps what Netty reads from a channel during a bounded transfer, at the head of its pipeline, so that the handlers
 * behind it (an HTTP codec) see no byte of the transferred body: bytes up to the bound become the transfer's
 * already-read bytes ({@link #take}), the rest, and the transport's events (an end of stream), are fired from the head
 * in their order once the channel is handed back ({@link #detachIfStill}, {@link #refire}).
 *
 * <p>Only the channel's event loop touches it, or another thread while the channel is deregistered.
 */
final class HeadReads extends ChannelInboundHandlerAdapter {

    static final String NAME = "splice4j-head-reads";

    /** The channel's autoRead when the transfer took it: given back with the channel. */
    final boolean autoReadBefore;
    /** ByteBufs and user events (an end of stream) in the order Netty fired them. */
    private final ArrayDeque<Object> kept = new ArrayDeque<>();
    /**
     * An exception Netty reported meanwhile (a reset): the transfer fails with it. Volatile: written on the channel's
     * loop, read on {@code from}'s, which may be another one.
     */
    volatile Throwable failure;
    /** Whether the channel went inactive meanwhile (volatile as {@link #failure}). */
    volatile boolean inactive;
    /** The copying transfer's hook: runs after a read batch, an event, a failure or a writability change. */
    Runnable onChange;
    private ChannelHandlerContext ctx;
    /** Set while a finished transfer hands the channel back; a new transfer's {@link #install} clears it. */
    private boolean handingBack;
    private int generation;

    private HeadReads(boolean autoReadBefore) {
        this.autoReadBefore = autoReadBefore;
    }

    /**
     * Channel's event loop, or a deregistered channel: adds the collector first in the pipeline. A collector still
     * there because the transfer before is being handed back (a transfer started by its future's listener) is taken
     * over instead, with what it kept: those bytes come first in the next transfer, in order.
     */
    static HeadReads install(Channel ch) {
        HeadReads existing = of(ch);
        if (existing != null) {
            existing.takeOver();
            return existing;
        }
        HeadReads r = new HeadReads(ch.config().isAutoRead());
        ch.pipeline().addFirst(NAME, r);
        // At once, not in the hand-over's task: called from a handler, Netty is inside a read loop that would
        // otherwise go on reading (up to maxMessagesPerRead buffers, a megabyte on epoll) into this collector, bytes
        // that are then copied instead of spliced. With autoRead off the loop ends after the current read.
        ch.config().setAutoRead(false);
        return r;
    }

    /** Marks this collector as being handed back; returns the mark {@link #detachIfStill} expects. */
    synchronized int release() {
        handingBack = true;
        return generation;
    }

    private synchronized void takeOver() {
        if (handingBack) {
            handingBack = false;
            generation++;
            onChange = null;
        }
    }

    /**
     * Channel's event loop, once it is registered again: unless a new transfer took this collector over since
     * {@link #release}, removes it and returns what it kept, for {@link #refire}; null if it was taken over.
     */
    synchronized List<Object> detachIfStill(Channel ch, int mark) {
        if (!handingBack || generation != mark) {
            return null;
        }
        handingBack = false;
        return detach(ch);
    }

    static HeadReads of(Channel ch) {
        return ch.pipeline().get(HeadReads.class);
    }

    /** The context to write through so that a write bypasses every handler (it goes straight to the socket). */
    ChannelHandlerContext context() {
        return ctx;
    }

    /** Puts bytes read before the transfer (a decoder's leftovers) in front of what was kept; takes ownership. */
    void addFirst(ByteBuf b) {
        if (b == null) {
            return;
        }
        if (b.isReadable()) {
            kept.addFirst(b);
        } else {
            b.release();
        }
    }

    /**
     * Removes and returns up to {@code max} bytes from the front of what was kept (never bytes behind an event), as one
     * buffer the caller releases, or null if there is none; the bytes past {@code max} stay kept.
     */
    ByteBuf take(long max) {
        List<ByteBuf> parts = new ArrayList<>(2);
        long left = max;
        while (left > 0 && kept.peekFirst() instanceof ByteBuf b) {
            if (b.readableBytes() <= left) {
                kept.pollFirst();
                parts.add(b);
                left -= b.readableBytes();
            } else {
                parts.add(b.readRetainedSlice((int) left)); // the rest of b stays first in line
                left = 0;
            }
        }
        if (parts.isEmpty()) {
            return null;
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        CompositeByteBuf all = parts.get(0).alloc().compositeBuffer(parts.size());
        for (ByteBuf p : parts) {
            all.addComponent(true, p); // ownership passes to the composite
        }
        return all;
    }

    /** Whether an end of stream is kept in front of any byte still kept (so no byte may follow). */
    boolean endOfStreamNext() {
        Object first = kept.peekFirst();
        return first instanceof ChannelInputShutdownEvent;
    }

    private List<Object> detach(Channel ch) {
        List<Object> rest = new ArrayList<>(kept);
        kept.clear();
        onChange = null;
        if (ctx != null && !ctx.isRemoved()) {
            ch.pipeline().remove(this);
        }
        return rest;
    }

    /**
     * Channel's event loop: fires what a collector kept from the head of the pipeline, in order, as Netty would
     * have, then restores autoRead (a read started now delivers its bytes after those just fired).
     */
    static void refire(Channel ch, List<Object> rest, boolean autoRead) {
        boolean bytes = false;
        for (Object o : rest) {
            if (o instanceof ByteBuf) {
                ch.pipeline().fireChannelRead(o);
                bytes = true;
            } else {
                ch.pipeline().fireUserEventTriggered(o);
            }
        }
        if (bytes) {
            ch.pipeline().fireChannelReadComplete();
        }
        ch.config().setAutoRead(autoRead);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        kept.add(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        changed();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        kept.add(evt); // from the transport (an end of stream): fired again in order after the hand-back
        changed();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (failure == null) {
            failure = cause;
        }
        changed();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        inactive = true;
        ctx.fireChannelInactive(); // the handlers behind must see the close: the transfer fails and closes both
        changed();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        ctx.fireChannelWritabilityChanged();
        changed();
    }

    private void changed() {
        Runnable r = onChange;
        if (r != null) {
            r.run();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        // Removed without a hand-back (the channel closed): free what it kept.
        for (Object o : kept) {
            ReferenceCountUtil.release(o);
        }
        kept.clear();
    }
}
