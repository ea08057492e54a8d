package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.splice4j.netty.SpliceRelay;

/**
 * The flags of the Netty samples, {@code --name value} pairs, some repeatable. A bad flag prints the usage and exits
 * with status 2.
 */
final class Flags {

    private static final Set<String> REPEATABLE = Set.of("--allow");

    private final String command;
    private final Map<String, List<String>> values = new LinkedHashMap<>();

    Flags(String command, String[] args) {
        this.command = command;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (!flag.startsWith("--")) {
                Main.usage("unexpected argument for " + command + ": " + flag);
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
            return new TunnelServer(get("--transport", "nio"), SpliceRelay.defaults());
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
