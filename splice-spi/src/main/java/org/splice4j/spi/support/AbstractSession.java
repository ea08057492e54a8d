package org.splice4j.spi.support;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;

/**
 * Counters, completion and the end-once rule shared by every provider's sessions.
 *
 * <p>Counters are written by one thread at a time (the session's loop) and read by any thread.
 */
public abstract class AbstractSession implements SpliceSession {

    private final AbstractSplicer<?> splicer;
    private final String label;
    private final CompletableFuture<SpliceResult> future = new CompletableFuture<>();
    private final AtomicBoolean ended = new AtomicBoolean();

    protected volatile long bytesAToB;
    protected volatile long bytesBToA;
    protected volatile long splicedBytes;
    protected volatile long copiedBytes;

    protected AbstractSession(AbstractSplicer<?> splicer, SpliceOptions options) {
        this.splicer = splicer;
        this.label = options.label();
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

    final void completeFuture(SpliceResult result) {
        future.complete(result);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + label + ", a->b=" + bytesAToB + ", b->a=" + bytesBToA + "]";
    }
}
