package org.splice4j.samples;

/**
 * Round-trip times in whole microseconds, counted in 1 µs buckets up to {@link #MAX_MICROS} (anything longer lands in
 * the last bucket), so that a run of any length takes the same 400 KB, and percentiles are exact to the microsecond.
 * Thread-safe: the ping-pong thread records while the bench resets and reads.
 */
final class LatencyHistogram {

    static final int MAX_MICROS = 100_000;

    private final long[] counts = new long[MAX_MICROS + 1];
    private long total;

    synchronized void record(long nanos) {
        counts[(int) Math.min(MAX_MICROS, Math.max(0, nanos / 1000))]++;
        total++;
    }

    synchronized void reset() {
        java.util.Arrays.fill(counts, 0);
        total = 0;
    }

    synchronized long count() {
        return total;
    }

    /**
     * The smallest bucket (µs) at or below which at least {@code fraction} of the round trips fell (nearest rank);
     * NaN when nothing was recorded.
     */
    synchronized double percentile(double fraction) {
        if (total == 0) {
            return Double.NaN;
        }
        long rank = Math.max(1, (long) Math.ceil(fraction * total));
        long seen = 0;
        for (int us = 0; us <= MAX_MICROS; us++) {
            seen += counts[us];
            if (seen >= rank) {
                return us;
            }
        }
        return MAX_MICROS;
    }
}
