package org.splice4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The one decision every adapter makes ({@link SplicerChoice#forAdapter}), and what a splicer says it can do. The
 * cases that resolve the process-wide default splicer are the adapters' tests (it is made once per JVM).
 */
class SplicerChoiceTest {

    @Test
    void aGivenSplicerIsUsedWhateverTheProperties() {
        try (Splicer copy = Splice.newSplicer(SpliceConfig.defaults().withProvider(Splice.COPY))) {
            withProperties(Map.of(SpliceConfig.ENABLED, "false"), () -> {
                SplicerChoice c = SplicerChoice.forAdapter(copy, "test");
                assertSame(copy, c.splicer().orElseThrow());
                assertTrue(c.reason().isEmpty());
            });
        }
    }

    @Test
    void offUnlessEnabledWithTheReason() {
        withProperties(Map.of(SpliceConfig.ENABLED, "false", SpliceConfig.PROVIDER, "no-such-provider"), () -> {
            SplicerChoice c = SplicerChoice.forAdapter(null, "test");
            assertTrue(c.splicer().isEmpty());
            assertEquals("splicing is off (splice4j.enabled is not true)", c.reason().orElseThrow());
        });
    }

    @Test
    void aNamedProviderThatIsNotThereIsAnErrorNeverASilentStockPath() {
        withProperties(Map.of(SpliceConfig.ENABLED, "true", SpliceConfig.PROVIDER, "no-such-provider"), () -> {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> SplicerChoice.forAdapter(null, "test"));
            assertTrue(e.getMessage().contains("splice4j.provider=no-such-provider"), e.getMessage());
        });
    }

    @Test
    void aMalformedPropertyFailsTheDecisionNamingIt() {
        withProperties(Map.of(SpliceConfig.ENABLED, "true", "splice4j.threads", "many"), () -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SplicerChoice.forAdapter(null, "test"));
            assertTrue(e.getMessage().contains("splice4j.threads"), e.getMessage());
        });
    }

    @Test
    void theCopyProviderServesChannelsOnlyAndRelaysThroughThem() {
        try (Splicer copy = Splice.newSplicer(SpliceConfig.defaults().withProvider(Splice.COPY))) {
            assertFalse(copy.servesDescriptors());
            assertFalse(copy.relaysOnOwnDuplicates());
            assertFalse(copy.supports(SpliceEndpoint.ofDescriptor(0, null)));
        }
    }

    private static void withProperties(Map<String, String> values, Runnable body) {
        Map<String, String> before = new HashMap<>();
        for (String k : values.keySet()) {
            before.put(k, System.getProperty(k));
        }
        try {
            values.forEach(System::setProperty);
            body.run();
        } finally {
            before.forEach((k, v) -> {
                if (v == null) {
                    System.clearProperty(k);
                } else {
                    System.setProperty(k, v);
                }
            });
        }
    }
}
