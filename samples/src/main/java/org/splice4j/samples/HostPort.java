package org.splice4j.samples;

import java.net.InetSocketAddress;

/** Parses {@code HOST:PORT} and {@code [V6]:PORT} flags. */
final class HostPort {

    private HostPort() {
    }

    static InetSocketAddress parse(String flag, String value) {
        int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1) {
            throw new IllegalArgumentException(flag + " expects HOST:PORT, got " + value);
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            // An IPv6 address with a port needs brackets: "::1:80" is ambiguous.
            throw new IllegalArgumentException(flag + " expects [IPV6]:PORT for an IPv6 address, got " + value);
        }
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " has a bad port: " + value);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(flag + " port out of range 0-65535: " + value);
        }
        InetSocketAddress a = new InetSocketAddress(host, port);
        if (a.isUnresolved()) {
            throw new IllegalArgumentException(flag + " names a host that does not resolve: " + value);
        }
        return a;
    }
}
