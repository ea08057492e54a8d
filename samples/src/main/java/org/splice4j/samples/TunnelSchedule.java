package org.splice4j.samples;

/**
 * When each of a {@link BenchTunnels} loop's streams writes and how much it may have written by then: every stream
 * gets {@code rate / TICKS_PER_SECOND} bytes per tick (50 ms), and stream {@code i} of {@code n} ticks at
 * {@code i / n} of a tick after the others' start, so that the writes of a thousand tunnels are spread over the tick
 * instead of landing at once. The allowance is counted from the start ({@code rate * ticks / TICKS_PER_SECOND}, in
 * whole bytes), so a loop that woke late catches up and rounding never drifts.
 *
 * <p>It walks the ticks in time order: {@link #stream()} is the stream of the next tick, {@link #dueNanos()} its
 * time, {@link #allowance()} what that stream may have written in all once it is due; {@link #advance()} moves on.
 * One loop thread owns it.
 */
final class TunnelSchedule {

    static final int TICKS_PER_SECOND = 20;
    static final long TICK_NANOS = 1_000_000_000L / TICKS_PER_SECOND;

    private final int streams;
    private final long rate;
    private final long startNanos;
    private int stream;
    private long round;

    /** @param rate bytes per second per stream */
    TunnelSchedule(int streams, long rate, long startNanos) {
        if (streams < 1 || rate < TICKS_PER_SECOND) {
            throw new IllegalArgumentException("streams " + streams + ", rate " + rate);
        }
        this.streams = streams;
        this.rate = rate;
        this.startNanos = startNanos;
    }

    /** How far into each tick stream {@code i} of {@code n} writes. */
    static long phaseNanos(int i, int n) {
        return TICK_NANOS * i / n;
    }

    int stream() {
        return stream;
    }

    long dueNanos() {
        return startNanos + round * TICK_NANOS + phaseNanos(stream, streams);
    }

    /** The bytes {@link #stream()} may have written in all once its next tick is due. */
    long allowance() {
        return rate * (round + 1) / TICKS_PER_SECOND;
    }

    void advance() {
        if (++stream == streams) {
            stream = 0;
            round++;
        }
    }
}
