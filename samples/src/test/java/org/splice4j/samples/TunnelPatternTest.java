package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** {@link TunnelPattern}: what the bench's tunnels send and how a receiver checks it. */
class TunnelPatternTest {

    private static final long SEED = TunnelPattern.seed(7, true);

    @Test
    void anyStretchAtAnyPositionIsTheStreamsBytes() {
        Random random = new Random(1);
        for (int i = 0; i < 200; i++) {
            long position = random.nextInt(1 << 20);
            int n = random.nextInt(100);
            ByteBuffer buf = ByteBuffer.allocate(n + 5).position(3);
            TunnelPattern.fill(buf, SEED, position, n);
            assertEquals(3 + n, buf.position());
            for (int k = 0; k < n; k++) {
                assertEquals(TunnelPattern.at(SEED, position + k), buf.get(3 + k), "byte " + (position + k));
            }
        }
    }

    @Test
    void aStreamWrittenInPiecesIsTheStreamWrittenAtOnce() {
        // What a sender does when a write takes only part: regenerate from where it stands.
        int total = 100_000;
        ByteBuffer whole = ByteBuffer.allocateDirect(total);
        TunnelPattern.fill(whole, SEED, 0, total);
        ByteBuffer pieces = ByteBuffer.allocateDirect(total);
        Random random = new Random(2);
        for (int at = 0; at < total; ) {
            int n = Math.min(total - at, 1 + random.nextInt(5000));
            TunnelPattern.fill(pieces, SEED, at, n);
            at += n;
        }
        assertEquals(-1, whole.flip().mismatch(pieces.flip()));
    }

    @Test
    void theRightBytesMatchAtEveryAlignmentAndEachWrongOneIsCounted() {
        for (int offset = 0; offset < 16; offset++) {
            ByteBuffer buf = ByteBuffer.allocate(4096);
            TunnelPattern.fill(buf, SEED, 1000 + offset, 4096);
            buf.flip().position(5); // a receiver checks from the buffer's position on, at the stream's position
            assertEquals(0, TunnelPattern.mismatches(buf, SEED, 1005 + offset));
            assertEquals(5, buf.position(), "checking leaves the position");
            buf.put(100, (byte) (buf.get(100) ^ 1));
            buf.put(101, (byte) (buf.get(101) ^ 0x80));
            buf.put(4095, (byte) ~buf.get(4095));
            assertEquals(3, TunnelPattern.mismatches(buf, SEED, 1005 + offset), "offset " + offset);
        }
    }

    @Test
    void anotherTunnelsOrDirectionsOrAShiftedStreamIsAlmostAllWrong() {
        int n = 5120; // one tick of a tunnel at 100 KiB/s
        ByteBuffer right = ByteBuffer.allocate(n);
        TunnelPattern.fill(right, SEED, 10 * n, n);
        right.flip();
        long[][] wrong = {
            {TunnelPattern.seed(8, true), 10 * n}, // the next tunnel's bytes
            {TunnelPattern.seed(7, false), 10 * n}, // the other direction's
            {SEED, 10 * n + 1}, // one byte lost
            {SEED, 10 * n - 8}, // a word twice
            {SEED, 9 * n}, // a tick twice
        };
        for (long[] w : wrong) {
            int bad = TunnelPattern.mismatches(right, w[0], w[1]);
            // Random bytes agree by chance once in 256.
            assertTrue(bad > n * 0.98, bad + " of " + n + " wrong for seed " + w[0] + " at " + w[1]);
        }
    }

    @Test
    void everyTunnelAndDirectionHasItsOwnSeed() {
        Set<Long> seeds = new HashSet<>();
        for (int tunnel = -1; tunnel < 10_000; tunnel++) {
            assertTrue(seeds.add(TunnelPattern.seed(tunnel, true)));
            assertTrue(seeds.add(TunnelPattern.seed(tunnel, false)));
        }
    }
}
