package org.splice4j.spi.support;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import javax.management.ObjectName;

import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerMXBean;

/**
 * What every provider's splicer shares: the session registry, listeners, and the notifier thread that completes
 * sessions off the loop threads, so that user callbacks can never stall a relay loop.
 *
 * <p>Provider-internal: public so that providers in other modules can build on it, not for applications; it may
 * change between releases without notice.
 *
 * <p>Subclasses implement {@link #start} (take over the endpoints and hand the session to a loop) and
 * {@link #shutdown()} (cancel what is left and stop their threads).
 */
public abstract class AbstractSplicer<S extends AbstractSession> implements Splicer {

    private static final System.Logger LOG = System.getLogger(AbstractSplicer.class.getName());

    protected final SpliceConfig config;
    private final String providerName;
    private final List<SpliceListener> listeners = new CopyOnWriteArrayList<>();
    private final Set<S> sessions = ConcurrentHashMap.newKeySet();
    private final ThreadPoolExecutor notifier;
    private final SplicerStatistics statistics;
    private final FallbackLog fallbackLog = new FallbackLog();
    private volatile boolean closed;

    protected AbstractSplicer(String providerName, SpliceConfig config) {
        this.providerName = Objects.requireNonNull(providerName);
        this.config = Objects.requireNonNull(config);
        // One daemon thread, started on demand and gone after 10 s of quiet: completions keep their order
        // (started before ended) and never run on a loop thread.
        this.notifier = new ThreadPoolExecutor(1, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "splice4j-" + providerName + "-notifier");
            t.setDaemon(true);
            return t;
        });
        this.notifier.allowCoreThreadTimeOut(true);
        this.statistics = new SplicerStatistics(this, providerName, sessions::size);
        statistics.register(); // unregistered by close()
    }

    /** This splicer's figures, as its MBean shows them. */
    @Override
    public final Optional<SplicerMXBean> statistics() {
        return Optional.of(statistics);
    }

    /** The splicer's name in its figures, events and log lines: {@code PROVIDER-N}, its MBean's name key. */
    private String displayName() {
        return statistics.getSplicerName();
    }

    /** Counts it, records a Flight Recorder event, and logs a line at most once a minute per reason. */
    @Override
    public final void recordFallback(SpliceFallback reason, String label, String detail) {
        Objects.requireNonNull(reason, "reason");
        try {
            statistics.fallback(reason);
            FlightRecorderEvents.fallback(displayName(), reason, label, detail);
            fallbackLog.record(displayName(), reason, label, detail);
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "splice4j: recording a fallback: " + e); // figures must never break a tunnel
        }
    }

    /**
     * The kind of a failed session's error, for {@link SplicerMXBean#getErrorsByKind()}: few distinct values, so that
     * they can be counted. This one is the exception's simple class name; a provider may say more (the system call).
     */
    protected String errorKind(Throwable cause) {
        return cause.getClass().getSimpleName();
    }

    /** The name of this splicer's MBean in the platform MBean server, or null if JMX refused it. */
    public final ObjectName objectName() {
        return statistics.objectName();
    }

    /**
     * What the start-up log line says of this splicer: its loops, its provider's own settings, its idle timeout and
     * its MBean's name.
     */
    public String summary() {
        ObjectName n = objectName();
        return config.threads() + " loop(s), " + providerSettings() + ", idle timeout "
                + (config.idleTimeout().isZero() ? "none" : config.idleTimeout().toMillis() + " ms")
                + (n == null ? "" : ", JMX " + n);
    }

    /** The provider's own settings for {@link #summary()}: its pipes, or its buffers. */
    protected String providerSettings() {
        return "";
    }

    /** Pipes open now, pooled or in use, for the MBean; -1 for a provider without pipes. */
    protected long pipesOpen() {
        return -1;
    }

    /** Pipes pooled now, for the MBean; -1 for a provider without pipes. */
    protected long pipesPooled() {
        return -1;
    }

    /** The smallest size the kernel granted a new pipe, for the MBean; -1 if none. */
    protected long smallestPipeGranted() {
        return -1;
    }

    /** How often the kernel refused to grow a pipe, for the MBean; -1 for a provider without pipes. */
    protected long pipeGrowRefusals() {
        return -1;
    }

    /** The bytes all pipes are kept within, for the MBean; -1 without a budget or without pipes. */
    protected long pipeBudget() {
        return -1;
    }

    @Override
    public final String providerName() {
        return providerName;
    }

    public final SpliceConfig config() {
        return config;
    }

    @Override
    public final SpliceSession splice(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        Objects.requireNonNull(options, "options");
        if (closed) {
            throw new IllegalStateException("splicer is closed");
        }
        InetSocketAddress remoteA = remoteAddress(a); // before any descriptor is taken: nothing to undo if it fails
        InetSocketAddress remoteB = remoteAddress(b);
        S session;
        try {
            for (SpliceEndpoint e : new SpliceEndpoint[] {a, b}) {
                if (!supports(e)) {
                    throw new IllegalArgumentException("the " + providerName + " provider cannot serve " + e);
                }
            }
            session = newSession(a, b, options);
        } catch (RuntimeException | Error e) {
            recordFallback(SpliceFallback.PROVIDER_REFUSED, options.label(), e.toString());
            throw e;
        }
        session.endpoints(remoteA, remoteB);
        sessions.add(session);
        try {
            notifier.execute(() -> {
                for (SpliceListener l : listeners) {
                    try {
                        l.sessionStarted(session);
                    } catch (RuntimeException ex) {
                        LOG.log(Level.WARNING, "splice4j: listener failed in sessionStarted", ex);
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            // close() raced us and the notifier is gone: start anyway, the check below cancels the session.
        }
        try {
            start(session);
        } catch (RuntimeException | Error e) {
            sessions.remove(session);
            recordFallback(SpliceFallback.PROVIDER_REFUSED, options.label(), e.toString());
            throw e;
        }
        statistics.started();
        if (closed) {
            // close() may have run between the check above and the registration: make sure it is ended.
            session.cancel();
        }
        return session;
    }

    /** For the Flight Recorder: the peer's address, without a system call (a channel caches it). */
    private static InetSocketAddress remoteAddress(SpliceEndpoint e) {
        if (e.isDescriptor()) {
            return e.expectedRemoteAddress();
        }
        try {
            SocketAddress remote = e.channel().getRemoteAddress();
            return remote instanceof InetSocketAddress ? (InetSocketAddress) remote : null;
        } catch (IOException | RuntimeException closedMeanwhile) {
            return null;
        }
    }

    /** Takes over the endpoints on the caller's thread (read, dup and verify fds) and builds the session. */
    protected abstract S newSession(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options);

    /** Hands a new session to a loop. */
    protected abstract void start(S session);

    /** Cancels every session left and stops every thread and resource; called once by {@link #close()}. */
    protected abstract void shutdown();

    /** Called by a session, on any thread, exactly once, after the provider stopped touching its endpoints. */
    final void ended(AbstractSession session, SpliceResult result) {
        sessions.remove(session);
        String errorKind = null;
        if (result.outcome() == SpliceResult.Outcome.FAILED) {
            errorKind = result.cause().map(this::errorKindOrName).orElse("unknown");
        }
        statistics.ended(result, errorKind); // before the completion, so that whoever sees it sees the figures include it
        FlightRecorderEvents.sessionEnded(displayName(), session, result);
        Runnable notify = () -> {
            session.completeFuture(result);
            for (SpliceListener l : listeners) {
                try {
                    l.sessionEnded(session, result);
                } catch (RuntimeException ex) {
                    LOG.log(Level.WARNING, "splice4j: listener failed in sessionEnded", ex);
                }
            }
        };
        try {
            notifier.execute(notify);
        } catch (RejectedExecutionException e) {
            // The notifier is gone (close() finished): complete on this thread, which is never a loop thread then.
            notify.run();
        }
    }

    private String errorKindOrName(Throwable cause) {
        try {
            return errorKind(cause);
        } catch (RuntimeException e) {
            return cause.getClass().getSimpleName();
        }
    }

    /** A snapshot of the running sessions. */
    protected final List<S> sessions() {
        return new ArrayList<>(sessions);
    }

    public final int sessionCount() {
        return sessions.size();
    }

    protected final boolean isClosed() {
        return closed;
    }

    @Override
    public final void addListener(SpliceListener listener) {
        listeners.add(Objects.requireNonNull(listener));
    }

    @Override
    public final void removeListener(SpliceListener listener) {
        listeners.remove(listener);
    }

    @Override
    public final void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        shutdown();
        statistics.unregister();
        notifier.shutdown();
        if (!Thread.currentThread().getName().endsWith("-notifier")) {
            try {
                notifier.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
