package org.splice4j.samples;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The bytes that one direction of one {@link BenchTunnels} tunnel carries: a pseudo-random stream seeded by the
 * tunnel's id and its direction, so that bytes delivered to the wrong tunnel, in the wrong direction, twice, out of
 * order or not at all are told apart from the right ones.
 *
 * <p>Counter-based (the SplitMix64 finalizer of seed + word index): the byte at any position is computed without
 * state, so a sender whose write was only partly taken regenerates the rest from where it stands, and a receiver
 * checks each read from its count of bytes so far. It costs a few nanoseconds per 8 bytes, which is what lets one
 * thread generate and check about 100 MB/s each way without eating the core the relay needs.
 */
final class TunnelPattern {

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private TunnelPattern() {
    }

    /** The seed of tunnel {@code tunnel}'s stream in direction {@code up} (client to target) or down. */
    static long seed(int tunnel, boolean up) {
        return mix(((long) tunnel << 1 | (up ? 1 : 0)) * GOLDEN + 0x5EED_5EEDL);
    }

    /** Word {@code index} of the stream: bytes {@code 8 * index} to {@code 8 * index + 7}, least significant first. */
    static long word(long seed, long index) {
        return mix(seed + index * GOLDEN);
    }

    /** The byte at {@code position} of the stream. */
    static byte at(long seed, long position) {
        return (byte) (word(seed, position >>> 3) >>> ((position & 7) << 3));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Puts {@code n} bytes of the stream, from {@code position} on, into {@code dst} at its position, and advances
     * it. Sets {@code dst}'s byte order to little-endian (the order of a word's bytes in the stream).
     */
    static void fill(ByteBuffer dst, long seed, long position, int n) {
        dst.order(ByteOrder.LITTLE_ENDIAN);
        int at = dst.position();
        int end = at + n;
        long p = position;
        while (at < end && (p & 7) != 0) {
            dst.put(at++, at(seed, p++));
        }
        for (long w = p >>> 3; end - at >= 8; w++, at += 8, p += 8) {
            dst.putLong(at, word(seed, w));
        }
        while (at < end) {
            dst.put(at++, at(seed, p++));
        }
        dst.position(end);
    }

    /**
     * How many bytes of {@code src} (position to limit) differ from the stream from {@code position} on. Leaves
     * {@code src}'s position where it is; sets its byte order to little-endian.
     */
    static int mismatches(ByteBuffer src, long seed, long position) {
        src.order(ByteOrder.LITTLE_ENDIAN);
        int at = src.position();
        int end = src.limit();
        long p = position;
        int wrong = 0;
        while (at < end && (p & 7) != 0) {
            wrong += src.get(at++) == at(seed, p++) ? 0 : 1;
        }
        for (long w = p >>> 3; end - at >= 8; w++, at += 8, p += 8) {
            long diff = src.getLong(at) ^ word(seed, w);
            if (diff != 0) {
                for (int b = 0; b < 8; b++) {
                    wrong += (diff >>> (b << 3) & 0xFF) == 0 ? 0 : 1;
                }
            }
        }
        while (at < end) {
            wrong += src.get(at++) == at(seed, p++) ? 0 : 1;
        }
        return wrong;
    }
}
