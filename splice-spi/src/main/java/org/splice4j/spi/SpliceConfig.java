package org.splice4j.spi;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;

/**
 * The settings a {@link Splicer} is created with, read from the {@code splice4j.*} system properties or built in code.
 *
 * <p>Values are checked when the config is built, so a bad value fails with an {@link IllegalArgumentException} that
 * names the property and its accepted range, at start-up, never later inside an event loop. Instances are immutable;
 * the {@code with*} methods return copies.
 *
 * <table>
 *   <caption>Properties</caption>
 *   <tr><th>property</th><th>default</th><th>syntax</th></tr>
 *   <tr><td>{@code splice4j.enabled}</td><td>{@code false}</td><td>{@code true} or {@code false}</td></tr>
 *   <tr><td>{@code splice4j.provider}</td><td>best available, never {@code copy}</td><td>{@code linux}, {@code copy}</td></tr>
 *   <tr><td>{@code splice4j.threads}</td><td>the number of available processors (at most 256)</td><td>1 to 256</td></tr>
 *   <tr><td>{@code splice4j.pipeSize}</td><td>{@code 1m}</td><td>bytes, or a {@code k}/{@code m} suffix; 4k to 1g</td></tr>
 *   <tr><td>{@code splice4j.maxPipes}</td><td>1024</td><td>0 (always copy) to 1,000,000</td></tr>
 *   <tr><td>{@code splice4j.idleTimeout}</td><td>{@code 0} (none)</td><td>milliseconds, or {@code ms}/{@code s}/{@code m} suffix</td></tr>
 *   <tr><td>{@code splice4j.copyBufferSize}</td><td>{@code 1m}</td><td>bytes, or a {@code k}/{@code m} suffix; 1k to 64m</td></tr>
 * </table>
 */
public final class SpliceConfig {

    public static final String ENABLED = "splice4j.enabled";
    public static final String PROVIDER = "splice4j.provider";
    public static final String THREADS = "splice4j.threads";
    public static final String PIPE_SIZE = "splice4j.pipeSize";
    public static final String MAX_PIPES = "splice4j.maxPipes";
    public static final String IDLE_TIMEOUT = "splice4j.idleTimeout";
    public static final String COPY_BUFFER_SIZE = "splice4j.copyBufferSize";

    private static final SpliceConfig DEFAULTS =
            new SpliceConfig(false, null, defaultThreads(), 1 << 20, 1024, Duration.ZERO, 1 << 20);

    private final boolean enabled;
    private final String provider;
    private final int threads;
    private final int pipeSize;
    private final int maxPipes;
    private final Duration idleTimeout;
    private final int copyBufferSize;

    private SpliceConfig(boolean enabled, String provider, int threads, int pipeSize, int maxPipes,
                         Duration idleTimeout, int copyBufferSize) {
        this.enabled = enabled;
        this.provider = provider;
        this.threads = checkRange(THREADS, threads, 1, 256);
        this.pipeSize = checkRange(PIPE_SIZE, pipeSize, 4096, 1 << 30);
        this.maxPipes = checkRange(MAX_PIPES, maxPipes, 0, 1_000_000);
        this.idleTimeout = checkDuration(IDLE_TIMEOUT, idleTimeout);
        this.copyBufferSize = checkRange(COPY_BUFFER_SIZE, copyBufferSize, 1024, 64 << 20);
    }

    /**
     * A relay loop per processor the JVM may use ({@link Runtime#availableProcessors}, which follows a container's CPU
     * quota and {@code -XX:ActiveProcessorCount}), at most 256. A loop does the relaying of its sessions, the kernel's
     * work of moving their bytes included, so one loop caps a proxy at one core of relaying however many it has; the
     * framework's own threads (Netty's event loops, Jetty's selectors) sit idle while their tunnels are spliced, so
     * they take nothing from these. Each loop costs a thread that sleeps while it has nothing to do, a few
     * descriptors and a 64 KiB copy buffer, made when the splicer starts. This supersedes the founding design's one
     * loop (see the README's "many connections" measurements).
     */
    private static int defaultThreads() {
        return Math.max(1, Math.min(256, Runtime.getRuntime().availableProcessors()));
    }

    /** The defaults (the README's "System properties" table), ignoring system properties. */
    public static SpliceConfig defaults() {
        return DEFAULTS;
    }

    /** Reads the {@code splice4j.*} system properties; unset ones take their defaults. */
    public static SpliceConfig fromSystemProperties() {
        return from(System.getProperties());
    }

    /**
     * Reads the {@code splice4j.*} keys of the given properties; unset ones take their defaults.
     *
     * @throws IllegalArgumentException naming the property and the accepted values when one is malformed or out of range
     */
    public static SpliceConfig from(Properties p) {
        SpliceConfig d = DEFAULTS;
        String providerName = trimToNull(p.getProperty(PROVIDER));
        return new SpliceConfig(
                parseBoolean(ENABLED, p.getProperty(ENABLED), d.enabled),
                providerName == null ? null : providerName.toLowerCase(Locale.ROOT),
                // Range-checked as long, before narrowing: (int) 4294967297 would be 1, a valid thread count.
                checkRange(THREADS, parseLong(THREADS, p.getProperty(THREADS), d.threads, "an integer from 1 to 256"),
                        1, 256),
                checkRange(PIPE_SIZE, parseSize(PIPE_SIZE, p.getProperty(PIPE_SIZE), d.pipeSize, "4k to 1g"),
                        4096, 1 << 30),
                checkRange(MAX_PIPES, parseLong(MAX_PIPES, p.getProperty(MAX_PIPES), d.maxPipes,
                        "an integer from 0 to 1000000"), 0, 1_000_000),
                parseDuration(IDLE_TIMEOUT, p.getProperty(IDLE_TIMEOUT), d.idleTimeout),
                checkRange(COPY_BUFFER_SIZE, parseSize(COPY_BUFFER_SIZE, p.getProperty(COPY_BUFFER_SIZE),
                        d.copyBufferSize, "1k to 64m"), 1024, 64 << 20));
    }

    public boolean enabled() { return enabled; }

    /** The provider named by {@code splice4j.provider}, lower case, or {@code null} for automatic choice. */
    public String provider() { return provider; }

    public int threads() { return threads; }

    public int pipeSize() { return pipeSize; }

    public int maxPipes() { return maxPipes; }

    /** The default idle timeout of a session; {@link Duration#ZERO} means none. */
    public Duration idleTimeout() { return idleTimeout; }

    public int copyBufferSize() { return copyBufferSize; }

    public SpliceConfig withEnabled(boolean v) {
        return new SpliceConfig(v, provider, threads, pipeSize, maxPipes, idleTimeout, copyBufferSize);
    }

    public SpliceConfig withProvider(String v) {
        return new SpliceConfig(enabled, v == null ? null : v.toLowerCase(Locale.ROOT), threads, pipeSize, maxPipes,
                idleTimeout, copyBufferSize);
    }

    public SpliceConfig withThreads(int v) {
        return new SpliceConfig(enabled, provider, v, pipeSize, maxPipes, idleTimeout, copyBufferSize);
    }

    public SpliceConfig withPipeSize(int v) {
        return new SpliceConfig(enabled, provider, threads, v, maxPipes, idleTimeout, copyBufferSize);
    }

    public SpliceConfig withMaxPipes(int v) {
        return new SpliceConfig(enabled, provider, threads, pipeSize, v, idleTimeout, copyBufferSize);
    }

    public SpliceConfig withIdleTimeout(Duration v) {
        return new SpliceConfig(enabled, provider, threads, pipeSize, maxPipes, v, copyBufferSize);
    }

    public SpliceConfig withCopyBufferSize(int v) {
        return new SpliceConfig(enabled, provider, threads, pipeSize, maxPipes, idleTimeout, v);
    }

    @Override
    public String toString() {
        return "SpliceConfig[enabled=" + enabled + ", provider=" + (provider == null ? "auto" : provider)
                + ", threads=" + threads + ", pipeSize=" + pipeSize + ", maxPipes=" + maxPipes
                + ", idleTimeout=" + idleTimeout.toMillis() + "ms, copyBufferSize=" + copyBufferSize + "]";
    }

    // ---- parsing: one place that knows the syntax, so every property reports errors the same way ----

    static boolean parseBoolean(String property, String value, boolean dflt) {
        String v = trimToNull(value);
        if (v == null) {
            return dflt;
        }
        if (v.equalsIgnoreCase("true")) {
            return true;
        }
        if (v.equalsIgnoreCase("false")) {
            return false;
        }
        throw invalid(property, value, "true or false");
    }

    static long parseLong(String property, String value, long dflt, String accepted) {
        String v = trimToNull(value);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw invalid(property, value, accepted);
        }
    }

    /**
     * Bytes, or a number with a {@code k} or {@code m} (or {@code g}) suffix, binary multiples; adapters parse their
     * own size settings with it so every splice4j size reads the same way.
     *
     * @param property the setting's name, for the message
     * @param value    the text, or null or blank for {@code dflt}
     * @param range    the accepted range in words, for the message
     * @throws IllegalArgumentException naming the setting, the value and what is accepted
     */
    public static long parseSize(String property, String value, long dflt, String range) {
        String v = trimToNull(value);
        if (v == null) {
            return dflt;
        }
        String accepted = "a size in bytes or with a k/m suffix, " + range;
        String lower = v.toLowerCase(Locale.ROOT);
        long unit = 1;
        char last = lower.charAt(lower.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            unit = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
            lower = lower.substring(0, lower.length() - 1).trim();
        }
        try {
            long n = Long.parseLong(lower);
            if (n < 0 || n > (Long.MAX_VALUE / unit) || n * unit > Integer.MAX_VALUE) {
                throw invalid(property, value, accepted);
            }
            return n * unit;
        } catch (NumberFormatException e) {
            throw invalid(property, value, accepted);
        }
    }

    /** Milliseconds, or a number with an {@code ms}, {@code s} or {@code m} suffix; 0 means none. */
    static Duration parseDuration(String property, String value, Duration dflt) {
        String v = trimToNull(value);
        if (v == null) {
            return dflt;
        }
        String accepted = "a duration in milliseconds or with an ms/s/m suffix, 0 for none";
        String lower = v.toLowerCase(Locale.ROOT);
        try {
            if (lower.endsWith("ms")) {
                return Duration.ofMillis(nonNegative(property, value, accepted, lower.substring(0, lower.length() - 2)));
            }
            if (lower.endsWith("s")) {
                return Duration.ofSeconds(nonNegative(property, value, accepted, lower.substring(0, lower.length() - 1)));
            }
            if (lower.endsWith("m")) {
                return Duration.ofMinutes(nonNegative(property, value, accepted, lower.substring(0, lower.length() - 1)));
            }
            return Duration.ofMillis(nonNegative(property, value, accepted, lower));
        } catch (NumberFormatException | ArithmeticException e) {
            throw invalid(property, value, accepted);
        }
    }

    private static long nonNegative(String property, String value, String accepted, String digits) {
        long n = Long.parseLong(digits.trim());
        if (n < 0) {
            throw invalid(property, value, accepted);
        }
        return n;
    }

    private static int checkRange(String property, long v, long min, long max) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(property + "=" + v + " is out of range: accepted " + min + " to " + max);
        }
        return (int) v;
    }

    private static Duration checkDuration(String property, Duration d) {
        Objects.requireNonNull(d, property);
        if (d.isNegative()) {
            throw new IllegalArgumentException(property + "=" + d + " is negative: accepted 0 (none) or more");
        }
        return d;
    }

    private static IllegalArgumentException invalid(String property, String value, String accepted) {
        return new IllegalArgumentException(property + "=\"" + value + "\" is not valid: accepted " + accepted);
    }

    private static String trimToNull(String s) {
        if (s == null) {
            return null;
        }
        String t = s.trim();
        return t.isEmpty() ? null : t;
    }
}
