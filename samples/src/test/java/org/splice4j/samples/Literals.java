package org.splice4j.samples;

import io.netty.util.NetUtil;

/**
 * For the fuzz tests of the flag parsers, which resolve host names with InetAddress: an input whose host would be
 * looked up as a name is skipped, so fuzzing never sends DNS queries. A literal InetAddress parses itself.
 */
final class Literals {

    private Literals() {
    }

    /** True when {@code host} is an IP literal (or empty, which InetAddress takes for loopback): no lookup. */
    static boolean noLookup(String host) {
        return host.isEmpty() || NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host)
                || (host.indexOf(':') >= 0 && host.chars().allMatch(c -> c == ':' || c == '.' || c == '%'
                        || Character.digit(c, 16) >= 0)); // bad IPv6 literals: InetAddress refuses them unresolved
    }
}
