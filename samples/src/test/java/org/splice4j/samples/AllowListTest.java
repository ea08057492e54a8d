package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Allow-list rules are literal addresses: a rule that is a name (even one of hex letters) is refused, never looked up. */
class AllowListTest {

    @ParameterizedTest
    @ValueSource(strings = {"dead.beef", "cafe/16", "1.2.3.4.5", "localhost", "face.b00c:80", "10.0.0.256x"})
    void aNameIsRefusedWithoutALookup(String rule) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AllowList().add(rule));
        assertTrue(e.getMessage().contains(rule), e.getMessage());
    }

    @Test
    void literalRulesMatchAsWritten() throws Exception {
        AllowList a = new AllowList().add("10.1.0.0/16:443").add("[2001:db8::/32]:80-81").add("::1");
        assertTrue(a.allows(InetAddress.getByName("10.1.2.3"), 443));
        assertFalse(a.allows(InetAddress.getByName("10.1.2.3"), 80));
        assertTrue(a.allows(InetAddress.getByName("2001:db8::7"), 81));
        assertTrue(a.allows(InetAddress.getByName("::1"), 22));
        assertFalse(a.allows(InetAddress.getByName("10.2.0.1"), 443));
    }
}
