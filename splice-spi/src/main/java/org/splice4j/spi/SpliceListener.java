package org.splice4j.spi;

/**
 * Observes the sessions of a {@link Splicer}, for example to count what framework statistics no longer see.
 *
 * <p>Called on the splicer's notifier thread, never on a loop thread; keep it short.
 */
public interface SpliceListener {

    default void sessionStarted(SpliceSession session) {
    }

    default void sessionEnded(SpliceSession session, SpliceResult result) {
    }
}
