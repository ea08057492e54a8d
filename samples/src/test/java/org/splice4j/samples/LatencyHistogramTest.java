package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link LatencyHistogram}: nearest-rank percentiles to the microsecond. */
class LatencyHistogramTest {

    @Test
    void percentilesAreNearestRankToTheMicrosecond() {
        LatencyHistogram h = new LatencyHistogram();
        assertTrue(Double.isNaN(h.percentile(0.5)));
        for (int us = 1; us <= 100; us++) {
            h.record(us * 1000L + 999); // 1.999 µs counts as 1
        }
        assertEquals(100, h.count());
        assertEquals(50, h.percentile(0.50));
        assertEquals(99, h.percentile(0.99));
        assertEquals(100, h.percentile(1.0));
        assertEquals(1, h.percentile(0.0));
        h.record(5_000_000_000L); // 5 s lands in the last bucket
        assertEquals(LatencyHistogram.MAX_MICROS, h.percentile(1.0));
        h.reset();
        assertEquals(0, h.count());
        assertTrue(Double.isNaN(h.percentile(0.99)));
    }
}
