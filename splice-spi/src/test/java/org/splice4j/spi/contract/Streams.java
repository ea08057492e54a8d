package org.splice4j.spi.contract;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/** Pseudo-random streams written and read with their SHA-256, so tests compare what arrived with what was sent. */
public final class Streams {

    private static final int CHUNK = 64 * 1024;

    private Streams() {
    }

    /** What a reader saw: byte count and SHA-256. */
    public record Received(long bytes, String sha256) {
    }

    /** The SHA-256 of {@code size} bytes of the stream with this seed, without sending it. */
    public static String expected(long seed, long size, byte[] prefix) {
        MessageDigest md = sha256();
        md.update(prefix);
        SplittableRandom r = new SplittableRandom(seed);
        byte[] chunk = new byte[CHUNK];
        for (long left = size; left > 0; ) {
            int n = (int) Math.min(CHUNK, left);
            r.nextBytes(chunk);
            md.update(chunk, 0, n);
            left -= n;
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Writes {@code size} bytes of the seeded stream to a blocking channel; returns their SHA-256. */
    public static String write(SocketChannel ch, long seed, long size) throws IOException {
        MessageDigest md = sha256();
        SplittableRandom r = new SplittableRandom(seed);
        byte[] chunk = new byte[CHUNK];
        ByteBuffer buf = ByteBuffer.wrap(chunk);
        for (long left = size; left > 0; ) {
            int n = (int) Math.min(CHUNK, left);
            r.nextBytes(chunk);
            md.update(chunk, 0, n);
            buf.clear().limit(n);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            left -= n;
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Writes the stream, then shuts the channel's output down (a half-close). */
    public static String writeAndShutdown(SocketChannel ch, long seed, long size) throws IOException {
        String sha = write(ch, seed, size);
        ch.shutdownOutput();
        return sha;
    }

    /** Reads a blocking channel to end of stream. */
    public static Received readToEnd(SocketChannel ch) throws IOException {
        MessageDigest md = sha256();
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        long total = 0;
        while (true) {
            buf.clear();
            int n = ch.read(buf);
            if (n < 0) {
                break;
            }
            md.update(buf.array(), 0, n);
            total += n;
        }
        return new Received(total, HexFormat.of().formatHex(md.digest()));
    }

    /** What a reader saw up to end of stream or a failure (a reset): byte count, SHA-256, and the failure if any. */
    public record Partial(long bytes, String sha256, IOException failure) {
        /** Whether what arrived is exactly the first {@link #bytes()} bytes of the seeded stream. */
        public boolean isPrefixOf(long seed) {
            return sha256.equals(expected(seed, bytes, new byte[0]));
        }
    }

    /** Reads a blocking channel until end of stream or until a read fails (a reset), digesting what came. */
    public static Partial readUntilEndOrFailure(SocketChannel ch) {
        return readUpTo(ch, Long.MAX_VALUE);
    }

    /** Reads a blocking channel until {@code max} bytes came, end of stream or a failed read, digesting what came. */
    public static Partial readUpTo(SocketChannel ch, long max) {
        MessageDigest md = sha256();
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        long total = 0;
        IOException failure = null;
        try {
            while (total < max) {
                buf.clear().limit((int) Math.min(CHUNK, max - total));
                int n = ch.read(buf);
                if (n < 0) {
                    break;
                }
                md.update(buf.array(), 0, n);
                total += n;
            }
        } catch (IOException e) {
            failure = e;
        }
        return new Partial(total, HexFormat.of().formatHex(md.digest()), failure);
    }

    /**
     * Writes the seeded stream until a write fails (the peer reset, the channel closed); returns that failure, or
     * null if all {@code cap} bytes went out without one.
     */
    public static IOException writeUntilFailure(SocketChannel ch, long seed, long cap) {
        try {
            write(ch, seed, cap);
            return null;
        } catch (IOException e) {
            return e;
        }
    }

    /** The seeded stream as an {@link InputStream} of {@code size} bytes (the bytes {@link #write} sends). */
    public static InputStream inputStream(long seed, long size) {
        return new InputStream() {
            private final SplittableRandom random = new SplittableRandom(seed);
            private final byte[] chunk = new byte[CHUNK];
            private int pos = CHUNK;
            private long left = size;

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left == 0) {
                    return -1;
                }
                if (pos == CHUNK) {
                    random.nextBytes(chunk);
                    pos = 0;
                }
                int n = (int) Math.min(Math.min(len, CHUNK - pos), left);
                System.arraycopy(chunk, pos, b, off, n);
                pos += n;
                left -= n;
                return n;
            }
        };
    }

    /** Reads a stream to its end. */
    public static Received readToEnd(InputStream in) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[CHUNK];
        long total = 0;
        for (int n; (n = in.read(buf)) >= 0; ) {
            md.update(buf, 0, n);
            total += n;
        }
        return new Received(total, HexFormat.of().formatHex(md.digest()));
    }

    /** Reads exactly {@code n} bytes from a stream and digests them; fails at an early end of stream. */
    public static Received readExactlyDigest(InputStream in, long n) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[CHUNK];
        for (long left = n; left > 0; ) {
            int r = in.read(buf, 0, (int) Math.min(CHUNK, left));
            if (r < 0) {
                throw new IOException("end of stream with " + left + " of " + n + " bytes missing");
            }
            md.update(buf, 0, r);
            left -= r;
        }
        return new Received(n, HexFormat.of().formatHex(md.digest()));
    }

    /** Reads exactly {@code n} bytes from a blocking channel and digests them; fails at an early end of stream. */
    public static Received readExactlyDigest(SocketChannel ch, long n) throws IOException {
        MessageDigest md = sha256();
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        for (long left = n; left > 0; ) {
            buf.clear().limit((int) Math.min(CHUNK, left));
            int r = ch.read(buf);
            if (r < 0) {
                throw new IOException("end of stream with " + left + " of " + n + " bytes missing");
            }
            md.update(buf.array(), 0, r);
            left -= r;
        }
        return new Received(n, HexFormat.of().formatHex(md.digest()));
    }

    /** Reads exactly {@code n} bytes, or fails at end of stream. */
    public static byte[] readExactly(SocketChannel ch, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new IOException("end of stream after " + buf.position() + " of " + n + " bytes");
            }
        }
        return buf.array();
    }

    public static byte[] randomBytes(long seed, int n) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
