package org.splice4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes {@link SpliceConfig#from(Properties)}. The input is a properties file, so a seed is readable text such as
 * {@code splice4j.threads=4294967297}. Only an {@link IllegalArgumentException} that names a property may escape; a
 * config that is built has every value in the range the class documents, and a plain number is taken as written
 * (never wrapped into range by a narrowing cast).
 */
class SpliceConfigFuzzTest {

    private static final List<String> KEYS = List.of(SpliceConfig.ENABLED, SpliceConfig.PROVIDER,
            SpliceConfig.THREADS, SpliceConfig.PIPE_SIZE, SpliceConfig.MAX_PIPES, SpliceConfig.IDLE_TIMEOUT,
            SpliceConfig.COPY_BUFFER_SIZE);
    /** A decimal number with an optional size suffix: the only syntax this test computes a value for itself. */
    private static final Pattern NUMBER = Pattern.compile("(\\d{1,18})\\s*([kKmMgG]?)");

    @FuzzTest(maxDuration = "60s")
    void from(byte[] input) {
        Properties p = new Properties();
        try {
            p.load(new StringReader(new String(input, StandardCharsets.ISO_8859_1)));
        } catch (IOException | IllegalArgumentException notAPropertiesFile) {
            return; // a malformed unicode escape: Properties' own parser, not ours
        }
        SpliceConfig c;
        try {
            c = SpliceConfig.from(p);
        } catch (IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage());
            assertTrue(KEYS.stream().anyMatch(k -> p.getProperty(k) != null && m.startsWith(k + "=")),
                    () -> "the message does not name a property that was set: " + m);
            return;
        }
        assertInRange(SpliceConfig.THREADS, c.threads(), 1, 256);
        assertInRange(SpliceConfig.PIPE_SIZE, c.pipeSize(), 4096, 1 << 30);
        assertInRange(SpliceConfig.MAX_PIPES, c.maxPipes(), 0, 1_000_000);
        assertInRange(SpliceConfig.COPY_BUFFER_SIZE, c.copyBufferSize(), 1024, 64 << 20);
        assertTrue(!c.idleTimeout().isNegative(), () -> "negative idle timeout " + c.idleTimeout());
        if (c.provider() != null) {
            assertEquals(c.provider().trim().toLowerCase(Locale.ROOT), c.provider(), "provider not normalised");
        }
        // The range checks alone miss a value wrapped by (int): 4294967297 becomes 1, which is in range.
        assertTakenAsWritten(p, SpliceConfig.THREADS, c.threads(), false);
        assertTakenAsWritten(p, SpliceConfig.MAX_PIPES, c.maxPipes(), false);
        assertTakenAsWritten(p, SpliceConfig.PIPE_SIZE, c.pipeSize(), true);
        assertTakenAsWritten(p, SpliceConfig.COPY_BUFFER_SIZE, c.copyBufferSize(), true);
    }

    private static void assertInRange(String key, long v, long min, long max) {
        if (v < min || v > max) {
            fail(key + "=" + v + " was accepted but is outside " + min + ".." + max);
        }
    }

    /** When {@code key} was set to a plain number (and suffix, for sizes), the config holds exactly that number. */
    private static void assertTakenAsWritten(Properties p, String key, long actual, boolean size) {
        String text = p.getProperty(key);
        if (text == null) {
            return;
        }
        Matcher m = NUMBER.matcher(text.trim());
        if (!m.matches() || (!size && !m.group(2).isEmpty())) {
            return;
        }
        char unit = m.group(2).isEmpty() ? ' ' : Character.toLowerCase(m.group(2).charAt(0));
        long shift = unit == 'k' ? 10 : unit == 'm' ? 20 : unit == 'g' ? 30 : 0;
        long n = Long.parseLong(m.group(1));
        if (n > (Long.MAX_VALUE >> shift)) {
            fail(key + "=" + text + " overflows a long yet was accepted as " + actual);
        }
        assertEquals(n << shift, actual, () -> key + "=" + text + " was accepted as " + actual);
    }
}
