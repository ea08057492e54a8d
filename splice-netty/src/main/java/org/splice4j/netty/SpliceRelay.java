package org.splice4j.netty;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Predicate;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.DefaultChannelPromise;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerChoice;

/**
 * Relays two connected Netty channels to each other once a proxy's handshake is done: the call that replaces a
 * proxy's pair of relay handlers.
 *
 * <p>It splices (the kernel moves the bytes) when splicing is enabled ({@code splice4j.enabled=true}, or a splicer
 * given to the constructor), a splice provider is available, both channels are connected TCP channels of the NIO or
 * epoll transport, and the rest of both pipelines is passive: no handlers left, handlers declared passive with
 * {@link #withPassiveHandlers}, or idle/read/write timeout handlers (removed; their timeout becomes the session's idle
 * timeout). Anything else (an {@code SslHandler}, codecs, {@code LoggingHandler}, traffic shaping, other transports,
 * splicing off) gets the stock copying relay, through the same API and result type, with a debug line naming the
 * reason.
 *
 * <p>Either way the relay owns both channels from the call on and closes them when the relay ends, so
 * {@code channelInactive} and close futures fire as usual. A user's {@code close()} of either channel ends the relay.
 * Channels should have {@link io.netty.channel.ChannelOption#ALLOW_HALF_CLOSURE} set, so that an end of stream is
 * forwarded as a half-close rather than closing the tunnel. Thread-safe; call from any thread.
 *
 * <p>{@link #transfer} is the bounded counterpart, for protocols that go on after a long message (an HTTP/1.1 body on
 * a kept-alive connection): it moves exactly N bytes past both pipelines, codecs included, and then hands both
 * channels back to their pipelines instead of closing them.
 */
public final class SpliceRelay {

    private static final InternalLogger LOG = InternalLoggerFactory.getInstance(SpliceRelay.class);

    private static volatile SpliceRelay defaultRelay;

    /** The splicer or the reason there is none, decided once, as every adapter decides it. */
    private final SplicerChoice choice;
    /** The chosen splicer, or null when this relay always copies. */
    private final Splicer splicer;
    /** Why this relay does not splice, when {@link #splicer} is null. */
    private final String notSplicing;
    private final Predicate<ChannelHandler> passive;

    /**
     * Splices when {@code splice4j.enabled=true} and a provider is available, with {@link Splice#splicer()}.
     *
     * @throws IllegalStateException    if {@code splice4j.provider} names a provider that is unknown or unavailable
     *                                  here (as Jetty's adapter fails its start): a named provider is never replaced by
     *                                  copying silently
     * @throws IllegalArgumentException if a {@code splice4j.*} property is malformed
     */
    public SpliceRelay() {
        this(SplicerChoice.forAdapter(null, "SpliceRelay"), null);
    }

    /** Always splices with {@code splicer} where the channels allow it (the caller keeps owning the splicer). */
    public SpliceRelay(Splicer splicer) {
        this(SplicerChoice.forAdapter(Objects.requireNonNull(splicer, "splicer"), "SpliceRelay"), null);
    }

    private SpliceRelay(SplicerChoice choice, Predicate<ChannelHandler> passive) {
        this.choice = choice;
        this.splicer = choice.splicer().orElse(null);
        this.notSplicing = choice.reason().orElse(null);
        this.passive = passive != null ? passive : h -> false;
    }

    /** The relay the static {@code relay} methods use: {@link #SpliceRelay()}, made on first use. */
    public static SpliceRelay defaults() {
        SpliceRelay r = defaultRelay;
        if (r == null) {
            synchronized (SpliceRelay.class) {
                r = defaultRelay;
                if (r == null) {
                    r = new SpliceRelay();
                    defaultRelay = r;
                }
            }
        }
        return r;
    }

    /** A copy of this relay that also treats handlers of these types as passive (they neither read nor change bytes). */
    @SafeVarargs
    public final SpliceRelay withPassiveHandlers(Class<? extends ChannelHandler>... types) {
        List<Class<? extends ChannelHandler>> list = Arrays.asList(types.clone());
        Predicate<ChannelHandler> mine = passive;
        Predicate<ChannelHandler> more = h -> list.stream().anyMatch(t -> t.isInstance(h));
        return new SpliceRelay(choice, mine.or(more));
    }

    /** {@link #start(Channel, Channel, ByteBuf)} on {@link #defaults()}, with nothing read ahead. */
    public static Future<SpliceResult> relay(Channel inbound, Channel outbound) {
        return defaults().start(inbound, outbound, null);
    }

    /** {@link #start(Channel, Channel, ByteBuf)} on {@link #defaults()}. */
    public static Future<SpliceResult> relay(Channel inbound, Channel outbound, ByteBuf alreadyReadFromInbound) {
        return defaults().start(inbound, outbound, alreadyReadFromInbound);
    }

    /**
     * Starts relaying. Pending writes on both channels (a SOCKS reply, a CONNECT 200) are flushed first.
     *
     * @param alreadyReadFromInbound bytes read from {@code inbound} but not forwarded (a removed decoder's leftovers),
     *                               written to {@code outbound} first; released by the relay; may be null
     * @return completes with the result once both channels are closed; never fails. Its listeners run on the thread
     *         that ends the relay (an event loop, or the splicer's notifier thread): keep them short
     */
    public Future<SpliceResult> start(Channel inbound, Channel outbound, ByteBuf alreadyReadFromInbound) {
        // Immediate: listeners run on the thread that ends the relay (an event loop, or the splicer's notifier), and
        // still run when the relay ends because its event loop is shutting down.
        Promise<SpliceResult> promise = ImmediateEventExecutor.INSTANCE.newPromise();
        try {
            // From now on no byte Netty reads may reach the pipeline's tail, which drops it: collect it for the relay.
            // Inline on the channel's loop (the usual caller, a connect listener or a handler), so there is no window.
            collectReads(inbound);
            collectReads(outbound);
            String refusal = spliceRefusal(inbound, outbound);
            if (refusal == null) {
                SplicedChannels.start(splicer, inbound, outbound, alreadyReadFromInbound, promise);
            } else {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("splice4j: copying {} <-> {}: {}", inbound, outbound, refusal);
                }
                if (splicer != null) {
                    splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, SplicedChannels.label(inbound, outbound),
                            refusal);
                }
                CopyRelay.start(inbound, outbound, alreadyReadFromInbound, null, promise);
            }
        } catch (Throwable t) {
            // Nothing may leave the channels open and the future pending: close both, report the failure.
            LOG.debug("splice4j: cannot relay {} <-> {}", inbound, outbound, t);
            if (alreadyReadFromInbound != null && alreadyReadFromInbound.refCnt() > 0) {
                ReferenceCountUtil.safeRelease(alreadyReadFromInbound);
            }
            closeBoth(inbound, outbound, promise, t);
        }
        return promise;
    }

    /**
     * {@link #transfer(Channel, Channel, ByteBuf, long, Duration)} with nothing read ahead and the splicer's idle
     * timeout.
     */
    public Future<SpliceResult> transfer(Channel from, Channel to, long bytes) {
        return transfer(from, to, null, bytes, null);
    }

    /**
     * Moves exactly {@code bytes} bytes read from {@code from} to {@code to}, past both pipelines' handlers, then hands
     * both channels back to their pipelines: how an HTTP/1.1 proxy splices one large message body and then goes on
     * parsing the next message on the same connections.
     *
     * <p>Unlike {@link #start}, the pipelines may hold codecs: they stay in place and see no byte of the transfer.
     * What Netty reads while the transfer takes the channels is caught first in each pipeline and counted against the
     * bound; {@code to} is not read at all. When the future completes with
     * {@link SpliceResult.Outcome#BOUNDS_REACHED} both channels are registered on their own event loops again, with
     * their handlers and autoRead as they were, and no byte past the bound was written. Bytes Netty had already read
     * past the bound (from either channel) are then fired from the head of their pipelines, in order, followed by
     * normal reads. Any other outcome (an end of stream before the bound: {@code FAILED} with an
     * {@link java.io.EOFException}; a reset; the idle timeout; a user's {@code close()} of either channel:
     * {@code CANCELLED}) closes both channels before the future completes.
     *
     * <p>It splices where {@link #start} would (splicing on, a provider, NIO or epoll TCP channels) and copies
     * otherwise, through the same API: then both channels stay registered and the bytes are written through the
     * first handler's context. Timeout handlers stay in the pipelines and see no read during the transfer: give the
     * transfer its own {@code idleTimeout} instead. The transfer moves the bytes of the socket: TLS is refused.
     * Write what must precede the body (a response head) before calling: it is flushed first.
     *
     * @param from        the channel read from: a connected channel whose next {@code bytes} bytes (after
     *                    {@code alreadyRead}) are the body
     * @param to          the channel written to
     * @param alreadyRead bytes read from {@code from} but not consumed (a decoder's buffered bytes), the first of the
     *                    body; bytes past {@code bytes} in it are fired again from the head afterwards. Released by the
     *                    transfer; may be null
     * @param bytes       the body's length, at least 0
     * @param idleTimeout no byte moved for this long ends the transfer ({@code IDLE_TIMEOUT}); it also bounds the
     *                    hand-over (a peer that does not read the flushed head); {@link Duration#ZERO} none, null the
     *                    splicer's (the hand-over is then unbounded)
     * @return completes once the transfer is over and both channels are handed back or closed; never fails. It
     *         completes on {@code from}'s event loop before either channel reads again, so a listener can put the
     *         codecs back at the start of a message (a decoder's {@code reset()}) before the bytes past the bound
     *         reach them
     * @throws IllegalArgumentException if {@code bytes} is negative or a pipeline has an {@code SslHandler} (nothing
     *                                  is touched then, and {@code alreadyRead} is not released)
     */
    public Future<SpliceResult> transfer(Channel from, Channel to, ByteBuf alreadyRead, long bytes,
                                         Duration idleTimeout) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be at least 0, got " + bytes);
        }
        for (Channel ch : new Channel[] {from, to}) {
            if (ch.pipeline().get(SslHandler.class) != null) {
                throw new IllegalArgumentException(ch + " has an SslHandler: a transfer moves the socket's bytes");
            }
        }
        Promise<SpliceResult> promise = ImmediateEventExecutor.INSTANCE.newPromise();
        // Ours until from's collector takes it: whoever fails before that (here, or a loop refusing the task) frees it.
        AtomicReference<ByteBuf> ahead = new AtomicReference<>(alreadyRead);
        Consumer<Throwable> failed = t -> {
            LOG.debug("splice4j: cannot transfer {} -> {}", from, to, t);
            ReferenceCountUtil.safeRelease(ahead.getAndSet(null));
            TransferEnd.closeBoth(from, to, TransferEnd.failed(SpliceResult.Outcome.FAILED, 0, t), promise);
        };
        try {
            // Inline on the channel's loop (the usual caller, a handler), so no read can slip past the collector.
            onLoop(from, failed, () -> HeadReads.install(from).addFirst(ahead.getAndSet(null)));
            onLoop(to, failed, () -> HeadReads.install(to));
            String refusal = transferRefusal(from, to);
            if (refusal == null) {
                BoundedTransfer.start(splicer, from, to, bytes, idleTimeout, promise);
            } else {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("splice4j: copying the bounded transfer {} -> {}: {}", from, to, refusal);
                }
                if (splicer != null) {
                    splicer.recordFallback(SpliceFallback.NOT_ELIGIBLE, SplicedChannels.label(from, to), refusal);
                }
                // After to's collector is in place (its loop may be another one): the copy writes through it.
                onLoop(to, failed, () -> onLoop(from, failed,
                        () -> BoundedCopy.start(from, to, bytes, idleTimeout, promise)));
            }
        } catch (Throwable t) {
            failed.accept(t);
        }
        return promise;
    }

    /**
     * Runs {@code r} on {@code ch}'s loop: inline when already there (a failure goes to the caller), else as a task,
     * and then a loop refusing it (shutting down) or {@code r} failing there goes to {@code failed}, never to Netty's
     * task runner, where the promise would stay open and the read-ahead bytes unreleased.
     */
    private static void onLoop(Channel ch, Consumer<Throwable> failed, Runnable r) {
        if (ch.eventLoop().inEventLoop()) {
            r.run();
            return;
        }
        try {
            ch.eventLoop().execute(() -> {
                try {
                    r.run();
                } catch (Throwable t) {
                    failed.accept(t);
                }
            });
        } catch (RuntimeException e) {
            failed.accept(e);
        }
    }

    /** Why a bounded transfer between these channels cannot splice, or null if it can; pipelines do not matter. */
    String transferRefusal(Channel from, Channel to) {
        if (splicer == null) {
            return notSplicing;
        }
        for (Channel ch : new Channel[] {from, to}) {
            String why = ChannelEndpoints.whyNot(ch, splicer);
            if (why == null && !(ch.remoteAddress() instanceof InetSocketAddress)) {
                why = "not a TCP channel";
            }
            if (why == null && !ch.isActive()) {
                why = "not connected";
            }
            if (why != null) {
                return (ch == from ? "from " : "to ") + ch + ": " + why;
            }
        }
        return null;
    }

    /** The splicer this relay splices with, or empty when it always copies (splicing off, no provider). */
    public Optional<Splicer> splicer() {
        return Optional.ofNullable(splicer);
    }

    private static void collectReads(Channel ch) {
        if (ch.eventLoop().inEventLoop()) {
            EarlyReads.install(ch);
        } else {
            ch.eventLoop().execute(() -> EarlyReads.install(ch));
        }
    }

    private static void closeBoth(Channel a, Channel b, Promise<SpliceResult> promise, Throwable cause) {
        SpliceResult failed = new SpliceResult(SpliceResult.Outcome.FAILED, 0, 0, 0, 0, cause);
        AtomicInteger left = new AtomicInteger(2);
        for (Channel ch : new Channel[] {a, b}) {
            try {
                // A promise that notifies on the closing thread: the loop may be gone.
                ch.close(new DefaultChannelPromise(ch, ImmediateEventExecutor.INSTANCE)).addListener(f -> {
                    if (left.decrementAndGet() == 0) {
                        promise.trySuccess(failed);
                    }
                });
            } catch (Throwable e) {
                ch.unsafe().closeForcibly();
                if (left.decrementAndGet() == 0) {
                    promise.trySuccess(failed);
                }
            }
        }
    }

    /** Why these channels cannot be spliced, or null if they can. */
    String spliceRefusal(Channel inbound, Channel outbound) {
        if (splicer == null) {
            return notSplicing;
        }
        for (Channel ch : new Channel[] {inbound, outbound}) {
            String why = ChannelEndpoints.whyNot(ch, splicer);
            if (why == null && !(ch.remoteAddress() instanceof InetSocketAddress)) {
                why = "not a TCP channel";
            }
            if (why == null && !ch.isActive()) {
                why = "not connected";
            }
            if (why == null) {
                why = activeHandler(ch.pipeline());
            }
            if (why != null) {
                return (ch == inbound ? "inbound " : "outbound ") + ch + ": " + why;
            }
        }
        return null;
    }

    private String activeHandler(ChannelPipeline pipeline) {
        for (var e : pipeline) {
            ChannelHandler h = e.getValue();
            if (!Handover.isTimeoutHandler(h) && !(h instanceof EarlyReads) && !passive.test(h)) {
                return "its pipeline has " + h.getClass().getName() + " (\"" + e.getKey() + "\"), not declared passive";
            }
        }
        return null;
    }
}
