package org.splice4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SpliceConfigTest {

    private static SpliceConfig config(String... keyValues) {
        Properties p = new Properties();
        for (int i = 0; i < keyValues.length; i += 2) {
            p.setProperty(keyValues[i], keyValues[i + 1]);
        }
        return SpliceConfig.from(p);
    }

    @Test
    void defaultsAreThoseOfTheDesign() {
        SpliceConfig c = config();
        assertFalse(c.enabled());
        assertEquals(null, c.provider());
        assertEquals(Math.min(256, Runtime.getRuntime().availableProcessors()), c.threads());
        assertEquals(1 << 20, c.pipeSize());
        assertEquals(1024, c.maxPipes());
        assertEquals(Duration.ZERO, c.idleTimeout());
        assertEquals(1 << 20, c.copyBufferSize());
    }

    @Test
    void sizesAndDurationsAcceptTheirSuffixes() {
        SpliceConfig c = config("splice4j.enabled", "TRUE", "splice4j.provider", " Linux ", "splice4j.threads", "2",
                "splice4j.pipeSize", "256k", "splice4j.maxPipes", "0", "splice4j.idleTimeout", "30s",
                "splice4j.copyBufferSize", "65536");
        assertTrue(c.enabled());
        assertEquals("linux", c.provider());
        assertEquals(2, c.threads());
        assertEquals(256 * 1024, c.pipeSize());
        assertEquals(0, c.maxPipes());
        assertEquals(Duration.ofSeconds(30), c.idleTimeout());
        assertEquals(65536, c.copyBufferSize());
        assertEquals(Duration.ofMillis(1500), config("splice4j.idleTimeout", "1500ms").idleTimeout());
        assertEquals(Duration.ofMinutes(2), config("splice4j.idleTimeout", "2m").idleTimeout());
        assertEquals(Duration.ofMillis(250), config("splice4j.idleTimeout", "250").idleTimeout());
        assertEquals(1 << 20, config("splice4j.pipeSize", "1M").pipeSize());
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "splice4j.enabled, yes, true or false",
        "splice4j.threads, 0, 1 to 256",
        "splice4j.threads, many, integer from 1 to 256",
        "splice4j.threads, 4294967297, 1 to 256",
        "splice4j.maxPipes, 4294967296, 0 to",
        "splice4j.maxPipes, 9223372036854775807, 0 to",
        "splice4j.pipeSize, 1k, 4096 to",
        "splice4j.pipeSize, 12q, k/m suffix",
        "splice4j.pipeSize, 3g, k/m suffix",
        "splice4j.maxPipes, -1, 0 to",
        "splice4j.idleTimeout, -5s, ms/s/m suffix",
        "splice4j.idleTimeout, soon, ms/s/m suffix",
        "splice4j.copyBufferSize, 128m, 1024 to",
    })
    void aBadValueNamesThePropertyAndTheAcceptedRange(String key, String value, String accepted) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config(key, value));
        assertTrue(e.getMessage().startsWith(key + "="), e.getMessage());
        assertTrue(e.getMessage().contains(accepted), e.getMessage());
    }

    @Test
    void aNamedButUnknownProviderFailsNamingTheProperty() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Splice.newSplicer(SpliceConfig.defaults().withProvider("nope")));
        assertTrue(e.getMessage().contains("splice4j.provider=nope"), e.getMessage());
    }

    @Test
    void automaticChoiceNeverPicksCopy() {
        // Only the copy provider is on this module's class path.
        assertTrue(Splice.chooseProvider(SpliceConfig.defaults()).isEmpty());
        String why = Splice.unavailabilityCause(SpliceConfig.defaults()).orElseThrow();
        assertTrue(why.contains("copy is used only when named"), why);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Splice.newSplicer(SpliceConfig.defaults()));
        assertEquals(why, e.getMessage());
    }

    @Test
    void copyIsUsedWhenNamed() {
        try (Splicer s = Splice.newSplicer(SpliceConfig.defaults().withProvider("copy"))) {
            assertEquals("copy", s.providerName());
        }
    }

    @Test
    void theCopyProviderRejectsRawDescriptorsBeforeStarting() {
        try (Splicer s = Splice.newSplicer(SpliceConfig.defaults().withProvider("copy"))) {
            SpliceEndpoint fd = SpliceEndpoint.ofDescriptor(0, null);
            assertFalse(s.supports(fd));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.splice(fd, fd));
            assertTrue(e.getMessage().contains("cannot serve"), e.getMessage());
        }
    }
}
