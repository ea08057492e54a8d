package org.splice4j.spi.support;

import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * A splicer's relay loops: made up front, handed out round-robin, stopped together. A loop found stopped while the
 * splicer is open (its thread ended against all expectation) is replaced by a new one, so later sessions are relayed
 * instead of all ending as cancelled.
 *
 * <p>Provider-internal: public so that providers in other modules can build on it, not for applications; it may
 * change between releases without notice.
 *
 * @param <L> the provider's loop type
 */
public final class LoopGroup<L extends RelayLoop> {

    private static final System.Logger LOG = System.getLogger(LoopGroup.class.getName());

    private final RelayLoop[] loops;
    private final IntFunction<L> factory;
    private final AtomicInteger next = new AtomicInteger();
    private volatile boolean stopped;

    /**
     * Makes {@code size} loops with {@code factory} (given the loop's index); if one cannot be made, those made are
     * stopped and the failure is rethrown.
     */
    public LoopGroup(int size, IntFunction<L> factory) {
        this.loops = new RelayLoop[size];
        this.factory = factory;
        try {
            for (int i = 0; i < size; i++) {
                loops[i] = factory.apply(i);
            }
        } catch (RuntimeException | Error e) {
            stop();
            throw e;
        }
    }

    /** The next loop, round-robin; a stopped one is replaced first (unless the group is stopping). Any thread. */
    @SuppressWarnings("unchecked")
    public L next() {
        int i = Math.floorMod(next.getAndIncrement(), loops.length);
        L loop = (L) loops[i];
        if (loop.isRunning() || stopped) {
            return loop;
        }
        synchronized (this) {
            loop = (L) loops[i];
            if (!loop.isRunning() && !stopped) {
                LOG.log(Level.WARNING, "splice4j: relay loop " + i + " stopped unexpectedly; starting a new one");
                loop = factory.apply(i);
                loops[i] = loop;
            }
            return loop;
        }
    }

    /** The loops now (for tests and metrics). */
    @SuppressWarnings("unchecked")
    public L get(int i) {
        return (L) loops[i];
    }

    public int size() {
        return loops.length;
    }

    /** Stops every loop (ending their sessions as cancelled); returns once their threads ended. */
    public void stop() {
        synchronized (this) {
            stopped = true;
        }
        for (RelayLoop l : loops) {
            if (l != null) {
                l.stop();
            }
        }
    }
}
