package org.splice4j.spi;

import java.util.concurrent.CompletionStage;

/**
 * One running relay between two endpoints, A and B.
 *
 * <p>Counters are live and may be read from any thread. {@link #cancel()} may be called from any thread, a completion
 * callback included.
 */
public interface SpliceSession {

    /** The label given in {@link SpliceOptions}, possibly empty. */
    String label();

    /** Completes once the provider no longer touches the endpoints; never completes exceptionally. */
    CompletionStage<SpliceResult> completion();

    /** Bytes delivered so far from A to B (already-read bytes included). */
    long bytesAToB();

    /** Bytes delivered so far from B to A (already-read bytes included). */
    long bytesBToA();

    /**
     * Ends the session abortively: bytes in flight are discarded, both sockets are shut down both ways (so the peers
     * see the close) and the session completes as {@link SpliceResult.Outcome#CANCELLED} unless it had already ended.
     * Returns only once the provider makes no further system call on the endpoints' sockets. It is for teardown, not
     * for handing a live stream back. Idempotent.
     */
    void cancel();
}
