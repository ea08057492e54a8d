package org.splice4j.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Splicing off is the default; a malformed switch fails when the relay is made, naming the property. */
class SpliceRelayConfigTest {

    @Test
    void offByDefaultWithTheReasonGiven() {
        String before = System.getProperty("splice4j.enabled");
        try {
            System.clearProperty("splice4j.enabled");
            String why = new SpliceRelay().spliceRefusal(null, null);
            assertTrue(why.contains("splice4j.enabled"), why);
        } finally {
            restore(before);
        }
    }

    @Test
    void aMalformedSwitchFailsAtConstruction() {
        String before = System.getProperty("splice4j.enabled");
        try {
            System.setProperty("splice4j.enabled", "yes");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, SpliceRelay::new);
            assertEquals("splice4j.enabled=\"yes\" is not valid: accepted true or false", e.getMessage());
        } finally {
            restore(before);
        }
    }

    @Test
    void aNamedButUnknownProviderFailsAtConstructionInsteadOfCopyingSilently() {
        String before = System.getProperty("splice4j.enabled");
        String provider = System.getProperty("splice4j.provider");
        try {
            System.setProperty("splice4j.enabled", "true");
            System.setProperty("splice4j.provider", "no-such-provider");
            IllegalStateException e = assertThrows(IllegalStateException.class, SpliceRelay::new);
            assertTrue(e.getMessage().contains("splice4j.provider=no-such-provider"), e.getMessage());
        } finally {
            restore(before);
            if (provider == null) {
                System.clearProperty("splice4j.provider");
            } else {
                System.setProperty("splice4j.provider", provider);
            }
        }
    }

    private static void restore(String before) {
        if (before == null) {
            System.clearProperty("splice4j.enabled");
        } else {
            System.setProperty("splice4j.enabled", before);
        }
    }
}
