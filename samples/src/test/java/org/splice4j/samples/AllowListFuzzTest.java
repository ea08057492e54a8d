package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes {@link AllowList#add} and {@link AllowList#allows}. Input: a rule, a newline, then probe bytes (16 address
 * bytes and 2 port bytes for IPv6, or 4 and 2 for IPv4). Only an {@link IllegalArgumentException} naming the rule may
 * escape {@code add}; an accepted rule reparses from {@link AllowList#toString()} to a list that decides the probe
 * the same way, and a rule without ports allows its own address on any port.
 */
class AllowListFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void rule(byte[] input) throws UnknownHostException {
        String text = new String(input, StandardCharsets.ISO_8859_1);
        int nl = text.indexOf('\n');
        String rule = nl >= 0 ? text.substring(0, nl) : text;
        byte[] probe = nl >= 0 ? Arrays.copyOfRange(input, nl + 1, input.length) : new byte[0];
        RuleText parts = RuleText.of(rule);
        if (!Literals.noLookup(parts.host)) {
            return; // AllowList.add would ask DNS (README "Fuzzing" notes which rules do): not while fuzzing
        }
        AllowList a = new AllowList();
        try {
            a.add(rule);
        } catch (IllegalArgumentException e) {
            assertTrue(String.valueOf(e.getMessage()).endsWith(rule), () -> "message does not name the rule: " + e);
            return;
        }
        AllowList again = new AllowList().add(a.toString());
        assertEquals(rule, a.toString());
        InetAddress own = InetAddress.getByName(parts.host);
        if (probe.length >= 6) {
            InetAddress addr = InetAddress.getByAddress(Arrays.copyOf(probe, probe.length >= 18 ? 16 : 4));
            int port = ((probe[probe.length >= 18 ? 16 : 4] & 0xff) << 8) | (probe[probe.length >= 18 ? 17 : 5] & 0xff);
            assertEquals(a.allows(addr, port), again.allows(addr, port), () -> "reparsed " + rule + " decides "
                    + addr + ":" + port + " differently");
            if (!parts.hasPorts) {
                assertTrue(a.allows(own, port), () -> rule + " refuses its own address " + own + " on port " + port);
            }
        }
    }

    /** The host and whether ports follow, split as the rule syntax says (the test's own reading, not AllowList's). */
    private record RuleText(String host, boolean hasPorts) {
        static RuleText of(String rule) {
            String r = rule.trim();
            if (r.startsWith("[")) {
                int close = r.indexOf(']');
                String inside = close < 0 ? r.substring(1) : r.substring(1, close);
                return new RuleText(cut(inside, '/'), close >= 0 && close + 1 < r.length());
            }
            int slash = r.indexOf('/');
            int colon = slash >= 0 ? r.indexOf(':', slash) : (r.indexOf(':') == r.lastIndexOf(':') ? r.indexOf(':') : -1);
            String cidr = colon >= 0 ? r.substring(0, colon) : r;
            return new RuleText(cut(cidr, '/'), colon >= 0);
        }

        private static String cut(String s, char c) {
            int i = s.indexOf(c);
            return i >= 0 ? s.substring(0, i) : s;
        }
    }
}
