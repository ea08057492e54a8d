package org.splice4j.linux;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs the linux provider's contract suite in this JVM, which {@link UnprivilegedContractTest} starts as user
 * {@code nobody}: the kernel's per-user pipe limits then apply. Prints the failures and a {@code RESULT} line; exits
 * 0 only if every test passed.
 */
public final class UnprivilegedContractMain {

    private UnprivilegedContractMain() {
    }

    public static void main(String[] args) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(LinuxProviderContractTest.class)).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 30);
        out.println("RESULT user=" + System.getProperty("user.name") + " found=" + s.getTestsFoundCount()
                + " succeeded=" + s.getTestsSucceededCount() + " failed=" + s.getTotalFailureCount()
                + " skipped=" + s.getTestsSkippedCount() + " aborted=" + s.getTestsAbortedCount());
        out.flush();
        System.exit(s.getTotalFailureCount() == 0 && s.getTestsAbortedCount() == 0 ? 0 : 1);
    }
}
