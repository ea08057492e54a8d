package org.splice4j.samples;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Destinations a proxy may connect to: {@code CIDR[:PORT[-PORT]]} rules (IPv6 with a port in brackets,
 * {@code [2001:db8::/32]:443}). Empty means loopback only, so a sample is never an open proxy by default.
 */
final class AllowList {

    private record Rule(byte[] network, int prefix, int fromPort, int toPort) {
        boolean matches(byte[] addr, int port) {
            if (addr.length != network.length || port < fromPort || port > toPort) {
                return false;
            }
            int full = prefix / 8;
            for (int i = 0; i < full; i++) {
                if (addr[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefix % 8;
            return rest == 0 || ((addr[full] ^ network[full]) & (0xff << (8 - rest)) & 0xff) == 0;
        }
    }

    private final List<Rule> rules = new ArrayList<>();
    private final List<String> text = new ArrayList<>();

    /** Loopback only: 127.0.0.0/8 and ::1, any port. */
    static AllowList loopbackOnly() {
        AllowList a = new AllowList();
        a.add("127.0.0.0/8");
        a.add("::1/128");
        return a;
    }

    /**
     * Adds a rule.
     *
     * @throws IllegalArgumentException naming the rule when it is malformed
     */
    AllowList add(String rule) {
        String cidr = rule.trim();
        String ports = null;
        if (cidr.startsWith("[")) {
            int close = cidr.indexOf(']');
            if (close < 0) {
                throw bad(rule);
            }
            String after = cidr.substring(close + 1);
            if (!after.isEmpty()) {
                if (!after.startsWith(":")) {
                    throw bad(rule);
                }
                ports = after.substring(1);
            }
            cidr = cidr.substring(1, close);
        } else {
            int slash = cidr.indexOf('/');
            int colon = slash >= 0 ? cidr.indexOf(':', slash) : (cidr.indexOf(':') == cidr.lastIndexOf(':')
                    ? cidr.indexOf(':') : -1);
            if (colon >= 0) {
                ports = cidr.substring(colon + 1);
                cidr = cidr.substring(0, colon);
            }
        }
        int slash = cidr.indexOf('/');
        String host = slash >= 0 ? cidr.substring(0, slash) : cidr;
        // Literal addresses only, so a rule never triggers a DNS lookup: a dotted quad, or text with a colon (the JDK
        // parses those as IPv6 literals and never looks them up). "dead.beef" is hex letters but a name.
        boolean ipv4 = host.matches("\\d{1,3}(\\.\\d{1,3}){3}");
        boolean ipv6 = host.contains(":") && host.matches("[0-9a-fA-F:.]+");
        if (!ipv4 && !ipv6) {
            throw bad(rule);
        }
        byte[] network;
        try {
            network = InetAddress.getByName(host).getAddress();
        } catch (UnknownHostException e) {
            throw bad(rule);
        }
        int prefix;
        try {
            prefix = slash >= 0 ? Integer.parseInt(cidr.substring(slash + 1)) : network.length * 8;
        } catch (NumberFormatException e) {
            throw bad(rule);
        }
        if (prefix < 0 || prefix > network.length * 8) {
            throw bad(rule);
        }
        int from = 0;
        int to = 65535;
        if (ports != null) {
            try {
                int dash = ports.indexOf('-');
                from = Integer.parseInt(dash >= 0 ? ports.substring(0, dash) : ports);
                to = dash >= 0 ? Integer.parseInt(ports.substring(dash + 1)) : from;
            } catch (NumberFormatException e) {
                throw bad(rule);
            }
            if (from < 0 || to > 65535 || from > to) {
                throw bad(rule);
            }
        }
        rules.add(new Rule(network, prefix, from, to));
        text.add(rule);
        return this;
    }

    boolean allows(InetAddress address, int port) {
        byte[] addr = address.getAddress();
        for (Rule r : rules) {
            if (r.matches(addr, port)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return String.join(" ", text);
    }

    private static IllegalArgumentException bad(String rule) {
        return new IllegalArgumentException("--allow expects CIDR[:PORT[-PORT]] (IPv6 with a port as [CIDR]:PORT), got "
                + rule);
    }
}
