package org.splice4j.netty;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.timeout.WriteTimeoutHandler;
import io.netty.util.ReferenceCountUtil;

/**
 * Takes one channel out of Netty's I/O, on its own event loop: stop reading, remove timeout handlers (keeping their
 * timeout), flush pending writes, deregister. Bytes Netty still reads meanwhile (epoll reads on EPOLLRDHUP even with
 * autoRead off) are collected here at the pipeline's tail, to be sent first once splicing starts.
 */
final class Handover extends ChannelInboundHandlerAdapter {

    static final String NAME = "splice4j-handover";

    private final Channel ch;
    private final List<ByteBuf> collected = new ArrayList<>();
    long idleTimeoutMillis;
    volatile Throwable failure;

    Handover(Channel ch) {
        this.ch = ch;
    }

    /** Any thread; {@code done} runs on the channel's loop once it is deregistered or failed. */
    void begin(Runnable done) {
        ch.eventLoop().execute(() -> {
            try {
                ch.config().setAutoRead(false);
                removeTimeoutHandlers();
                ch.pipeline().addLast(NAME, this);
            } catch (RuntimeException e) {
                failure = e;
                done.run();
                return;
            }
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(flushed -> {
                if (!flushed.isSuccess()) {
                    failure = flushed.cause();
                    done.run();
                    return;
                }
                ch.deregister().addListener(deregistered -> {
                    if (!deregistered.isSuccess()) {
                        failure = deregistered.cause();
                    } else if (!ch.isOpen()) {
                        failure = new java.nio.channels.ClosedChannelException();
                    }
                    done.run();
                });
            });
        });
    }

    private void removeTimeoutHandlers() {
        List<ChannelHandler> timeouts = new ArrayList<>();
        for (var e : ch.pipeline()) {
            ChannelHandler h = e.getValue();
            if (h instanceof IdleStateHandler) {
                IdleStateHandler idle = (IdleStateHandler) h;
                for (long t : new long[] {idle.getReaderIdleTimeInMillis(), idle.getWriterIdleTimeInMillis(),
                        idle.getAllIdleTimeInMillis()}) {
                    if (t > 0 && (idleTimeoutMillis == 0 || t < idleTimeoutMillis)) {
                        idleTimeoutMillis = t;
                    }
                }
                timeouts.add(h);
            } else if (h instanceof WriteTimeoutHandler) {
                timeouts.add(h); // a write timeout has no meaning once the kernel writes
            }
        }
        for (ChannelHandler h : timeouts) {
            ch.pipeline().remove(h);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf) {
            collected.add((ByteBuf) msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        // An end of stream seen now is seen again by the splicer: a socket at EOF keeps reading 0.
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (failure == null) {
            failure = cause;
        }
    }

    /**
     * The channel's event loop or after deregistration: {@code first} (may be null) then what was collected, as one
     * buffer; releases the Netty buffers and leaves the pipeline.
     */
    ByteBuffer takeCollected(ByteBuf first) {
        if (ch.pipeline().get(NAME) == this) {
            ch.pipeline().remove(this);
        }
        int size = first != null ? first.readableBytes() : 0;
        for (ByteBuf b : collected) {
            size += b.readableBytes();
        }
        ByteBuffer all = ByteBuffer.allocate(size);
        if (first != null) {
            first.readBytes(all);
            first.release();
        }
        for (ByteBuf b : collected) {
            b.readBytes(all);
            b.release();
        }
        collected.clear();
        return all.flip();
    }
}
