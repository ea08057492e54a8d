package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Pipes shrunk by the kernel: past {@code /proc/sys/fs/pipe-user-pages-soft} an unprivileged user's new pipes get two
 * pages and F_SETPIPE_SZ fails. Root is exempt, so the relay runs in a child JVM as user {@code nobody}
 * ({@link UnprivilegedChild}), running {@link ShrunkPipesMain}.
 */
class ShrunkPipesTest {

    @Test
    void anUnprivilegedUserPastThePipeLimitStillRelaysEveryByte() throws Exception {
        UnprivilegedChild.Result r = UnprivilegedChild.run(ShrunkPipesMain.class, 180);
        String out = r.output();
        assertEquals(0, r.exitValue(), out);
        String ok = out.lines().filter(l -> l.startsWith("OK ")).findFirst().orElseThrow(() -> new AssertionError(out));
        System.out.println("ShrunkPipesTest child: " + ok);
        int fresh = field(ok, "fresh");
        assertTrue(fresh <= 2 * 4096, "a new pipe past the limit has two pages, not " + fresh + ": " + ok);
        assertTrue(field(ok, "smallestGranted") <= 2 * 4096, "the provider's pipes were shrunk too: " + ok);
        assertTrue(field(ok, "growRefusals") > 0, "growing them was refused: " + ok);
    }

    private static int field(String line, String name) {
        for (String kv : line.split(" ")) {
            if (kv.startsWith(name + "=")) {
                return Integer.parseInt(kv.substring(name.length() + 1));
            }
        }
        throw new AssertionError(name + " missing in " + line);
    }
}
