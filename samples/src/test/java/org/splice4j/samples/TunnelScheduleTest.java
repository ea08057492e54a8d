package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** {@link TunnelSchedule}: when each tunnel writes and how much, in time order. */
class TunnelScheduleTest {

    private static final long START = 1_000_000_000L;

    @Test
    void eachStreamTicksOncePerTickInOrderAndTheirTimesNeverGoBack() {
        int n = 1000;
        TunnelSchedule s = new TunnelSchedule(n, 100 * 1024, START);
        long last = Long.MIN_VALUE;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < n; i++) {
                assertEquals(i, s.stream());
                long due = s.dueNanos();
                assertTrue(due >= last, "tick " + round + "/" + i);
                assertTrue(due >= START + round * TunnelSchedule.TICK_NANOS
                        && due < START + (round + 1) * TunnelSchedule.TICK_NANOS);
                last = due;
                s.advance();
            }
        }
    }

    @Test
    void theWritesOfAThousandTunnelsAreSpreadOverTheTick() {
        int n = 1000;
        int[] perMilli = new int[(int) TimeUnit.NANOSECONDS.toMillis(TunnelSchedule.TICK_NANOS)];
        for (int i = 0; i < n; i++) {
            long phase = TunnelSchedule.phaseNanos(i, n);
            assertTrue(phase >= 0 && phase < TunnelSchedule.TICK_NANOS);
            perMilli[(int) TimeUnit.NANOSECONDS.toMillis(phase)]++;
        }
        for (int count : perMilli) {
            assertEquals(n / perMilli.length, count, "ticks per millisecond");
        }
    }

    @Test
    void theAllowanceIsTheRateTimesTheTicksInWholeBytesWithoutDrift() {
        long rate = 100_003; // not a multiple of the ticks per second: every tick rounds
        int n = 3;
        TunnelSchedule s = new TunnelSchedule(n, rate, START);
        long previous = 0;
        for (int tick = 1; tick <= 20 * 3600; tick++) { // an hour of ticks
            long allowance = 0;
            for (int i = 0; i < n; i++) {
                allowance = s.allowance(); // the same for every stream in a round
                s.advance();
            }
            assertEquals(rate * tick / TunnelSchedule.TICKS_PER_SECOND, allowance);
            long step = allowance - previous;
            assertTrue(step == rate / 20 || step == rate / 20 + 1, "tick " + tick + ": " + step);
            previous = allowance;
        }
        assertEquals(rate * 3600, previous, "an hour at the rate, to the byte");
    }
}
