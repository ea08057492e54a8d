package org.splice4j.spi.contract;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Sizes and seeds of the contract suite's stress tests ({@code sessionsStayIsolatedWhileDescriptorsAreReused},
 * {@code randomisedSessionsKeepTheContract}).
 *
 * <ul>
 *   <li>{@code -Dsplice4j.test.scale=full}: the larger sizes (1,000 concurrent sessions and more tunnels); the default,
 *       {@code ci}, keeps each test to a few seconds, as the suite runs once per provider variant and JDK.</li>
 *   <li>{@code -Dsplice4j.test.seed=N}: the seed of the randomised plans; without it each run draws one and prints it,
 *       so a failure reruns with the same plan.</li>
 * </ul>
 * Maven passes both from its command line to the test JVM.
 */
public final class TestScale {

    public static final String SCALE_PROPERTY = "splice4j.test.scale";
    public static final String SEED_PROPERTY = "splice4j.test.seed";

    private TestScale() {
    }

    public static boolean full() {
        return "full".equalsIgnoreCase(System.getProperty(SCALE_PROPERTY, "ci").trim());
    }

    /** {@code ci} or {@code full}, whichever scale this run has. */
    public static int pick(int ci, int full) {
        return full() ? full : ci;
    }

    /** The seed given with {@code -Dsplice4j.test.seed}, else a new one; printed either way with how to rerun it. */
    public static long seed(String what) {
        String given = System.getProperty(SEED_PROPERTY);
        long seed = given == null || given.isBlank() ? ThreadLocalRandom.current().nextLong() : Long.decode(given.trim());
        System.out.println(what + ": seed " + seed + (given == null ? " (drawn)" : " (given)") + ", scale "
                + (full() ? "full" : "ci") + "; rerun with -D" + SEED_PROPERTY + "=" + seed);
        return seed;
    }
}
