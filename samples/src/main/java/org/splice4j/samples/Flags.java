package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.splice4j.netty.SpliceRelay;

/**
 * The flags of the Netty samples, {@code --name value} pairs, some repeatable. A bad flag prints the usage and exits
 * with status 2.
 */
final class Flags {

    private static final Set<String> REPEATABLE = Set.of("--allow");
    /** Flags that take no value. */
    private static final Set<String> SWITCHES = Set.of("--allow-open");

    private final String command;
    private final Map<String, List<String>> values = new LinkedHashMap<>();

    Flags(String command, String[] args) {
        this.command = command;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (!flag.startsWith("--")) {
                Main.usage("unexpected argument for " + command + ": " + flag);
            }
            if (SWITCHES.contains(flag)) {
                values.computeIfAbsent(flag, k -> new ArrayList<>()).add("true");
                continue;
            }
            if (i + 1 >= args.length) {
                Main.usage(flag + " needs a value");
            }
            List<String> list = values.computeIfAbsent(flag, k -> new ArrayList<>());
            if (!list.isEmpty() && !REPEATABLE.contains(flag)) {
                Main.usage(flag + " given twice");
            }
            list.add(args[++i]);
        }
    }

    /** Fails with the usage if a flag outside {@code known} was given. */
    Flags only(String... known) {
        for (String flag : values.keySet()) {
            if (!List.of(known).contains(flag)) {
                Main.usage("unknown flag for " + command + ": " + flag);
            }
        }
        return this;
    }

    String get(String flag, String dflt) {
        List<String> v = values.get(flag);
        return v == null ? dflt : v.get(0);
    }

    List<String> all(String flag) {
        return values.getOrDefault(flag, List.of());
    }

    InetSocketAddress address(String flag) {
        String v = get(flag, null);
        if (v == null) {
            return null;
        }
        try {
            return HostPort.parse(flag, v);
        } catch (IllegalArgumentException e) {
            Main.usage(e.getMessage());
            return null;
        }
    }

    boolean has(String flag) {
        return values.containsKey(flag);
    }

    /**
     * A duration: a number with an {@code ms}, {@code s} or {@code m} suffix, or whole seconds; {@code 0} means none
     * where the flag allows it.
     */
    Duration duration(String flag, Duration dflt) {
        String v = get(flag, null);
        if (v == null) {
            return dflt;
        }
        String t = v.trim().toLowerCase(Locale.ROOT);
        try {
            Duration d;
            if (t.endsWith("ms")) {
                d = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            } else if (t.endsWith("s")) {
                d = Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            } else if (t.endsWith("m")) {
                d = Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
            } else {
                d = Duration.ofSeconds(Long.parseLong(t));
            }
            if (d.isNegative()) {
                Main.usage(flag + " must not be negative, got " + v);
            }
            d.toMillis(); // throws ArithmeticException past Long.MAX_VALUE ms: refused here, not on an event loop
            return d;
        } catch (NumberFormatException | ArithmeticException e) {
            Main.usage(flag + " expects a duration such as 500ms, 10s or 10m (0 for none), got " + v);
            return null;
        }
    }

    /** A whole number from {@code min} to {@code max}. */
    int integer(String flag, int dflt, int min, int max) {
        String v = get(flag, null);
        if (v == null) {
            return dflt;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n < min || n > max) {
                Main.usage(flag + " must be from " + min + " to " + max + ", got " + v);
            }
            return (int) n;
        } catch (NumberFormatException e) {
            Main.usage(flag + " expects a whole number from " + min + " to " + max + ", got " + v);
            return 0;
        }
    }

    /** The limits every proxy sample takes: handshake deadline, tunnel idle timeout, connection cap. */
    Limits limits() {
        return new Limits(duration("--handshake-timeout", Limits.DEFAULTS.handshakeTimeout()),
                duration("--idle-timeout", Limits.DEFAULTS.idleTimeout()),
                integer("--max-connections", Limits.DEFAULTS.maxConnections(), 1, 1_000_000));
    }

    /**
     * Refuses a listening address that is not loopback when nothing limits who gets through: with the default
     * loopback-only destinations, anyone who can reach the port would reach every loopback-only service of the host.
     *
     * @param limited whether the operator limited access ({@code --allow}, or {@code --user} for socks5)
     */
    void refuseOpenListen(InetSocketAddress listen, boolean limited, String limitFlags) {
        if (listen.getAddress() != null && !listen.getAddress().isLoopbackAddress() && !limited
                && !has("--allow-open")) {
            Main.usage(command + " listens on " + listen.getHostString() + ", which is not loopback, with no "
                    + limitFlags + ": anyone who can reach it would reach this host's loopback services through it. "
                    + "Give " + limitFlags + ", listen on loopback, or pass --allow-open to accept that");
        }
    }

    Duration grace() {
        try {
            long s = Long.parseLong(get("--grace", "5"));
            if (s < 0) {
                Main.usage("--grace must not be negative");
            }
            return Duration.ofSeconds(s);
        } catch (NumberFormatException e) {
            Main.usage("--grace expects whole seconds, got " + get("--grace", ""));
            return null;
        }
    }

    /** The server for {@code --transport}, relaying with {@link SpliceRelay#defaults()}. */
    TunnelServer server() {
        try {
            return new TunnelServer(get("--transport", "nio"), SpliceRelay.defaults(), limits());
        } catch (IllegalArgumentException e) {
            Main.usage(e.getMessage());
            return null;
        } catch (IllegalStateException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
            return null;
        }
    }
}
