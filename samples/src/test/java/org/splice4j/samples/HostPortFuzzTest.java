package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes {@link HostPort#parse}: the input is the flag's value. Only an {@link IllegalArgumentException} naming the
 * flag may escape; a parsed address has a port in 0-65535 and parses back from {@code HOST:PORT} (IPv6 in brackets)
 * to an equal address.
 */
class HostPortFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] input) {
        String value = new String(input, StandardCharsets.ISO_8859_1);
        int colon = value.lastIndexOf(':');
        String host = colon > 0 ? value.substring(0, colon) : "";
        if (host.startsWith("[") && host.endsWith("]") && host.length() >= 2) {
            host = host.substring(1, host.length() - 1);
        }
        if (!Literals.noLookup(host)) {
            return; // HostPort would ask DNS: not while fuzzing
        }
        InetSocketAddress a;
        try {
            a = HostPort.parse("--listen", value);
        } catch (IllegalArgumentException e) {
            assertTrue(String.valueOf(e.getMessage()).startsWith("--listen "), () -> "message without the flag: " + e);
            return;
        }
        assertFalse(a.isUnresolved(), () -> value + " gave an unresolved " + a);
        assertTrue(a.getPort() >= 0 && a.getPort() <= 65535, () -> value + " gave port " + a.getPort());
        String literal = a.getAddress().getHostAddress();
        String again = (literal.indexOf(':') >= 0 ? "[" + literal + "]" : literal) + ":" + a.getPort();
        assertEquals(a, HostPort.parse("--listen", again), () -> value + " -> " + again);
    }
}
