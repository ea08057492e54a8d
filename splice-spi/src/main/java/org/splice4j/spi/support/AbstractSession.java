package org.splice4j.spi.support;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;

/**
 * What every provider's sessions share: the counters, the idle clock, completion and the end-once rule, and the ways
 * a session ends from outside ({@link #cancel()}, the idle timeout, its loop stopping), each of which calls the
 * provider's {@link #abort}. Provider-internal: for {@code SpliceProvider} implementations, not for applications.
 *
 * <p>Counters are written by the session's loop thread only and read by any thread; the idle clock is the loop's.
 */
public abstract class AbstractSession implements SpliceSession, RelayLoop.Member {

    private final AbstractSplicer<?> splicer;
    private final RelayLoop loop;
    private final String label;
    private final long idleTimeoutNanos;
    private final CompletableFuture<SpliceResult> future = new CompletableFuture<>();
    private final AtomicBoolean ended = new AtomicBoolean();
    /** For the Flight Recorder's session event: when it was made and whom it relays between. */
    private final long startedNanos = System.nanoTime();
    private volatile InetSocketAddress remoteA;
    private volatile InetSocketAddress remoteB;
    /** Loop thread only (the idle scan runs there too), so a plain field: no fence per system call. */
    private long lastActivity = System.nanoTime();

    private volatile long bytesAToB;
    private volatile long bytesBToA;
    private volatile long splicedBytes;
    private volatile long copiedBytes;

    protected AbstractSession(AbstractSplicer<?> splicer, RelayLoop loop, Duration idleTimeout,
                              SpliceOptions options) {
        this.splicer = splicer;
        this.loop = loop;
        this.label = options.label();
        this.idleTimeoutNanos = idleTimeout.toNanos();
    }

    /**
     * Loop thread: ends the session early (reset, failure, timeout, cancel), tells the peers as
     * {@link SpliceResult.Outcome} says, releases what the session holds and calls {@link #end}. Does nothing once the
     * session ended.
     */
    protected abstract void abort(SpliceResult.Outcome outcome, Throwable cause);

    @Override
    public final void cancel() {
        // Any thread. When this returns the loop has released the session and will not touch its sockets again.
        if (isEnded()) {
            return;
        }
        loop.executeAndWait(() -> abort(SpliceResult.Outcome.CANCELLED, null));
    }

    @Override
    public final long idleTimeoutNanos() {
        return idleTimeoutNanos;
    }

    @Override
    public final long lastActivityNanos() {
        return lastActivity;
    }

    @Override
    public final void onIdleTimeout() {
        abort(SpliceResult.Outcome.IDLE_TIMEOUT, null);
    }

    @Override
    public final void onLoopStop() {
        abort(SpliceResult.Outcome.CANCELLED, null);
    }

    /** Loop thread: {@code n} bytes reached a destination; they count as activity for the idle timeout. */
    protected final void moved(long n, boolean spliced, boolean aToB) {
        lastActivity = System.nanoTime();
        if (spliced) {
            splicedBytes += n;
        } else {
            copiedBytes += n;
        }
        if (aToB) {
            bytesAToB += n;
        } else {
            bytesBToA += n;
        }
    }

    @Override
    public final String label() {
        return label;
    }

    @Override
    public final CompletionStage<SpliceResult> completion() {
        return future.minimalCompletionStage();
    }

    @Override
    public final long bytesAToB() {
        return bytesAToB;
    }

    @Override
    public final long bytesBToA() {
        return bytesBToA;
    }

    public final boolean isEnded() {
        return ended.get();
    }

    /**
     * Records the end exactly once; call it after the provider stopped touching the endpoints.
     *
     * @return false if the session had already ended
     */
    protected final boolean end(SpliceResult.Outcome outcome, Throwable cause) {
        if (!ended.compareAndSet(false, true)) {
            return false;
        }
        SpliceResult result = new SpliceResult(outcome, bytesAToB, bytesBToA, splicedBytes, copiedBytes, cause);
        splicer.ended(this, result);
        return true;
    }

    final void endpoints(InetSocketAddress a, InetSocketAddress b) {
        remoteA = a;
        remoteB = b;
    }

    final InetSocketAddress remoteA() {
        return remoteA;
    }

    final InetSocketAddress remoteB() {
        return remoteB;
    }

    final long startedNanos() {
        return startedNanos;
    }

    /** Any thread: tells the splicer's figures, events and log that a direction fell back to copying. */
    protected final void fellBack(SpliceFallback reason, String detail) {
        splicer.recordFallback(reason, label, detail);
    }

    final void completeFuture(SpliceResult result) {
        future.complete(result);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + label + ", a->b=" + bytesAToB + ", b->a=" + bytesBToA + "]";
    }
}
