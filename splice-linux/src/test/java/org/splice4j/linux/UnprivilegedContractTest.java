package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The linux provider's contract suite run as user {@code nobody}: pipe sizes and counts are then bounded by
 * {@code pipe-user-pages-soft} and {@code pipe-max-size}, which root is exempt from. Every rule must hold all the same.
 */
class UnprivilegedContractTest {

    @Test
    void theContractHoldsForAnUnprivilegedUser() throws Exception {
        UnprivilegedChild.Result r = UnprivilegedChild.run(UnprivilegedContractMain.class, 600);
        String result = r.output().lines().filter(l -> l.startsWith("RESULT ")).findFirst()
                .orElseThrow(() -> new AssertionError(r.output()));
        System.out.println("UnprivilegedContractTest child: " + result);
        assertEquals(0, r.exitValue(), r.output());
        assertTrue(result.contains("user=nobody") && !result.contains(" found=0 "), result);
    }
}
