package org.splice4j.spi.support;

import java.lang.System.Logger.Level;
import java.util.EnumMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.splice4j.spi.SpliceFallback;

/**
 * One INFO line per fallback reason, at most once a minute each, saying how many were not logged: a proxy whose every
 * tunnel falls back (TLS everywhere, a pipe limit reached) must not write a line per tunnel, yet the operator must
 * learn why within a minute. The figures and the Flight Recorder keep every one.
 */
final class FallbackLog {

    private static final System.Logger LOG = System.getLogger(FallbackLog.class.getName());
    static final long INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final EnumMap<SpliceFallback, Limiter> limiters = new EnumMap<>(SpliceFallback.class);

    FallbackLog() {
        for (SpliceFallback f : SpliceFallback.values()) {
            limiters.put(f, new Limiter());
        }
    }

    /** Any thread. */
    void record(String splicer, SpliceFallback reason, String label, String detail) {
        long suppressed = limiters.get(reason).tryLine(System.nanoTime());
        if (suppressed >= 0 && LOG.isLoggable(Level.INFO)) {
            LOG.log(Level.INFO, "splice4j: " + splicer + ": fallback " + reason + " for " + label
                    + (detail == null ? "" : ": " + detail)
                    + (suppressed > 0 ? " (and " + suppressed + " more since the last line)" : "")
                    + "; at most one line a minute per reason, the MBean counts every one");
        }
    }

    /** Lets one line through per interval and counts those it held back. */
    static final class Limiter {
        private final AtomicLong nextLine = new AtomicLong(Long.MIN_VALUE);
        private final AtomicLong held = new AtomicLong();

        /** @return -1 to stay quiet, else the number of fallbacks held back since the last line */
        long tryLine(long now) {
            long next = nextLine.get();
            if ((next == Long.MIN_VALUE || now - next >= 0) && nextLine.compareAndSet(next, now + INTERVAL_NANOS)) {
                return held.getAndSet(0);
            }
            held.incrementAndGet();
            return -1;
        }
    }
}
