package org.splice4j.linux;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.Splicer;

/** Run in a child JVM by {@link LinuxProviderTest}: reports what a user would see with the flags it was given. */
public final class ProbeMain {
    public static void main(String[] args) {
        System.out.println("cause: " + Splice.unavailabilityCause(SpliceConfig.defaults()).orElse("none"));
        try (Splicer s = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"))) {
            System.out.println("splicer: " + s.providerName());
        } catch (IllegalStateException e) {
            System.out.println("named: " + e.getMessage());
        }
    }
}
