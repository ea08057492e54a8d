package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.Splicer;

/** Availability, provider choice, and what a user sees when a JVM flag is missing (checked in child JVMs). */
class LinuxProviderTest {

    @BeforeAll
    static void linuxOnly() {
        Assumptions.assumeTrue(LinuxContractBase.IS_LINUX, "the linux provider exists only on Linux");
    }

    @Test
    void onLinuxTheProviderLoadsAndIsChosenAutomatically() {
        LinuxProvider p = new LinuxProvider();
        assertTrue(p.isAvailable(), () -> "must load on Linux: " + p.unavailabilityCause().get());
        assertEquals("linux", Splice.chooseProvider(SpliceConfig.defaults()).orElseThrow().name());
    }

    private record Run(String out, String err) {
    }

    private static Run child(String... jvmFlags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-ea:org.splice4j..."); // our threading asserts, as in surefire's own JVM
        cmd.addAll(List.of(jvmFlags));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ProbeMain.class.getName());
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not exit");
        return new Run(out, err);
    }

    @Test
    void itSaysItServesRawDescriptorsAndRelaysOnItsOwnDuplicates() {
        try (Splicer s = Splice.newSplicer(SpliceConfig.defaults().withProvider("linux"))) {
            assertTrue(s.servesDescriptors());
            assertTrue(s.relaysOnOwnDuplicates());
            assertTrue(s.supports(SpliceEndpoint.ofDescriptor(0, null)));
        }
    }

    @Test
    void withoutTheFdFlagTheReasonNamesTheFlag() throws Exception {
        Run run = child("--enable-native-access=ALL-UNNAMED");
        assertTrue(run.out.contains("cause: ") && run.out.contains(FdAccess.FLAG), run.out);
        assertTrue(run.out.contains("named: splice4j.provider=linux names a provider that is not available here")
                && run.out.lines().filter(l -> l.startsWith("named:")).allMatch(l -> l.contains(FdAccess.FLAG)),
                run.out);
        assertFalse(run.err.contains("Exception"), "no stack of reflection errors: " + run.err);
    }

    @Test
    void withTheFlagsEverythingLoadsQuietly() throws Exception {
        Run run = child("--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED");
        assertTrue(run.out.contains("cause: none") && run.out.contains("splicer: linux"), run.out + run.err);
        assertFalse(run.err.contains("WARNING"), run.err);
    }

    @Test
    void withoutNativeAccessOnJdk22AndLaterTheWarningNamesTheFlag() throws Exception {
        Assumptions.assumeTrue(Runtime.version().feature() >= 22, "JDK 21 and older need no native-access flag");
        Run run = child("--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED");
        assertTrue(run.out.contains("splicer: linux"), run.out + run.err);
        assertTrue(run.err.contains("splice4j") && run.err.contains("--enable-native-access=ALL-UNNAMED"), run.err);
    }
}
