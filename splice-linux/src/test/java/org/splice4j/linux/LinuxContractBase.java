package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.contract.SpliceProviderContractTest;

/**
 * The contract for the linux provider; variants override {@link #config()}. On Linux these tests must run: if the
 * provider cannot load here, they fail. They skip only on other systems.
 */
abstract class LinuxContractBase extends SpliceProviderContractTest {

    static final boolean IS_LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");

    @BeforeAll
    static void requireProviderOnLinux() {
        Assumptions.assumeTrue(IS_LINUX, "the linux provider exists only on Linux");
        LinuxProvider p = new LinuxProvider();
        assertTrue(p.isAvailable(), () -> "the linux provider must load on Linux: " + p.unavailabilityCause().get());
    }

    protected SpliceConfig config() {
        return SpliceConfig.defaults();
    }

    @Override
    protected Splicer newSplicer() {
        return Splice.newSplicer(config().withProvider("linux"));
    }

    @Override
    protected int idleFdAllowance() {
        return 2 * config().maxPipes();
    }

    @Override
    protected void checkBulkResult(SpliceResult result, long bytes) {
        if (config().maxPipes() == 0) {
            assertTrue(result.splicedBytes() == 0, "no pipes, so everything is copied: " + result);
        } else if (bytes >= MiB) {
            assertTrue(result.splicedBytes() > 0, "the splice path must have run: " + result);
        }
    }
}
