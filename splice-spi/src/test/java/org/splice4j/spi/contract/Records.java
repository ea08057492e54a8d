package org.splice4j.spi.contract;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Self-checking streams for isolation tests: a stream is a sequence of records, each an 8-byte stream id, an 8-byte
 * sequence number (0, 1, 2, ...) and a payload whose length and bytes follow from id and sequence number alone. A
 * {@link Reader} knows the one id it may see, so any byte from another connection, a lost or repeated record, or a
 * changed byte fails at once, with the offset.
 */
final class Records {

    static final int HEADER = 16;
    /** Set in an id: its records are bulk (128 KiB to 384 KiB), for tests that end sessions mid-burst. */
    static final long BULK = 1L << 62;

    private Records() {
    }

    /** Payload length of record {@code seq} of stream {@code id}: mostly 0 to 2 KiB, one in 32 a 64 to 192 KiB burst. */
    static int payloadLength(long id, long seq) {
        long h = mix(id, seq);
        if ((id & BULK) != 0) {
            return 128 * 1024 + (int) ((h >>> 8) % (256 * 1024));
        }
        if ((h & 31) == 0) {
            return 64 * 1024 + (int) ((h >>> 8) % (128 * 1024)); // bulk enough for the splice path
        }
        return (int) ((h >>> 16) % 2048);
    }

    static byte[] payload(long id, long seq) {
        byte[] p = new byte[payloadLength(id, seq)];
        new SplittableRandom(mix(id, seq)).nextBytes(p);
        return p;
    }

    /** Record {@code seq} of stream {@code id}, ready to write. */
    static ByteBuffer record(long id, long seq) {
        byte[] p = payload(id, seq);
        ByteBuffer b = ByteBuffer.allocate(HEADER + p.length);
        b.putLong(id).putLong(seq).put(p).flip();
        return b;
    }

    private static long mix(long id, long seq) {
        long z = id * 0x9E3779B97F4A7C15L + seq * 0xC2B2AE3D27D4EB4FL + 0x165667B19E3779F9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The sending side of one stream: the records in order, and what was sent. */
    static final class Writer {
        final long id;
        long nextSeq;
        long bytes;
        private ByteBuffer current;

        Writer(long id) {
            this.id = id;
        }

        /** The record being written (made on first call after the previous one was fully written). */
        ByteBuffer current() {
            if (current == null || !current.hasRemaining()) {
                current = record(id, nextSeq++);
                bytes += current.remaining();
            }
            return current;
        }

        /** Whether a record was started and not fully written yet. */
        boolean midRecord() {
            return current != null && current.hasRemaining();
        }
    }

    /** The receiving side of one stream: checks every byte as it comes. */
    static final class Reader {
        final long id;
        final String name;
        long nextSeq;
        long bytes;
        private final ByteBuffer header = ByteBuffer.allocate(HEADER);
        private byte[] payload;
        private int payloadPos;

        Reader(long id, String name) {
            this.id = id;
            this.name = name;
        }

        /** Checks and consumes the buffer's remaining bytes. */
        void feed(ByteBuffer in) {
            while (in.hasRemaining()) {
                if (payload == null) {
                    while (in.hasRemaining() && header.hasRemaining()) {
                        header.put(in.get());
                        bytes++;
                    }
                    if (header.hasRemaining()) {
                        return;
                    }
                    long gotId = header.getLong(0);
                    long gotSeq = header.getLong(8);
                    if (gotId != id || gotSeq != nextSeq) {
                        throw new AssertionError(name + ": at byte " + (bytes - HEADER) + " expected record " + nextSeq
                                + " of stream " + Long.toHexString(id) + " but got record " + gotSeq + " of stream "
                                + Long.toHexString(gotId)
                                + (gotId != id ? " (bytes of another connection, or garbage)" : " (lost or reordered)"));
                    }
                    payload = payload(id, nextSeq);
                    payloadPos = 0;
                }
                int n = Math.min(in.remaining(), payload.length - payloadPos);
                int base = in.position();
                byte[] got;
                int gotOff;
                if (in.hasArray()) {
                    got = in.array();
                    gotOff = in.arrayOffset() + base;
                } else {
                    got = new byte[n];
                    in.get(base, got);
                    gotOff = 0;
                }
                int i = Arrays.mismatch(got, gotOff, gotOff + n, payload, payloadPos, payloadPos + n);
                if (i >= 0) {
                    throw new AssertionError(name + ": record " + nextSeq + " of stream " + Long.toHexString(id)
                            + " differs at payload byte " + (payloadPos + i) + " of " + payload.length
                            + " (stream byte " + (bytes + i) + ")");
                }
                in.position(base + n);
                payloadPos += n;
                bytes += n;
                if (payloadPos == payload.length) {
                    payload = null;
                    header.clear();
                    nextSeq++;
                }
            }
        }

        /** Whether the bytes so far end on a record boundary. */
        boolean atBoundary() {
            return payload == null && header.position() == 0;
        }

        /** At end of stream: exactly {@code records} whole records came. */
        void assertComplete(long records) {
            if (nextSeq != records || !atBoundary()) {
                throw new AssertionError(name + ": end of stream after " + nextSeq + " whole records of " + records
                        + (atBoundary() ? "" : " and part of the next") + " (" + bytes + " bytes): bytes lost");
            }
        }

        @Override
        public String toString() {
            return name + "[record " + nextSeq + ", " + bytes + " bytes" + (atBoundary() ? "" : ", mid-record") + "]";
        }
    }
}
