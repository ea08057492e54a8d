package org.splice4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Pipes shrunk by the kernel: past {@code /proc/sys/fs/pipe-user-pages-soft} an unprivileged user's new pipes get two
 * pages and F_SETPIPE_SZ fails. Root is exempt, so the relay runs in a child JVM as user {@code nobody}
 * ({@code setpriv}), with the class path copied where that user can read it ({@link ShrunkPipesMain}).
 */
class ShrunkPipesTest {

    @Test
    void anUnprivilegedUserPastThePipeLimitStillRelaysEveryByte() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        Path setpriv = Stream.of("/usr/bin/setpriv", "/bin/setpriv").map(Path::of).filter(Files::isExecutable)
                .findFirst().orElse(null);
        if (!root || setpriv == null) {
            // CI runs as root on Debian, where util-linux has setpriv: there the test must run.
            assertTrue(System.getenv("CI") == null, "CI must run this test as root with setpriv");
            Assumptions.abort("needs root and setpriv to run a child as an unprivileged user");
        }
        Path dir = Files.createTempDirectory("splice4j-shrunk");
        try {
            List<String> cp = new ArrayList<>();
            int n = 0;
            for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
                Path src = Path.of(entry);
                if (!Files.exists(src)) {
                    continue;
                }
                Path dst = dir.resolve((n++) + "-" + src.getFileName());
                copy(src, dst);
                cp.add(dst.toString());
            }
            Path tmp = Files.createDirectory(dir.resolve("tmp"));
            openUp(dir);
            List<String> cmd = new ArrayList<>(List.of(setpriv.toString(), "--reuid=65534", "--regid=65534",
                    "--clear-groups", Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
                    "-Djava.io.tmpdir=" + tmp, "-Djna.tmpdir=" + tmp, "-Xmx256m",
                    "-cp", String.join(File.pathSeparator, cp), ShrunkPipesMain.class.getName()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), "child did not exit: " + out);
            assertEquals(0, p.exitValue(), out);
            String ok = out.lines().filter(l -> l.startsWith("OK ")).findFirst().orElseThrow(() -> new AssertionError(out));
            System.out.println("ShrunkPipesTest child: " + ok);
            int fresh = field(ok, "fresh");
            assertTrue(fresh <= 2 * 4096, "a new pipe past the limit has two pages, not " + fresh + ": " + ok);
            assertTrue(field(ok, "smallestGranted") <= 2 * 4096, "the provider's pipes were shrunk too: " + ok);
            assertTrue(field(ok, "growRefusals") > 0, "growing them was refused: " + ok);
        } finally {
            deleteTree(dir);
        }
    }

    private static int field(String line, String name) {
        for (String kv : line.split(" ")) {
            if (kv.startsWith(name + "=")) {
                return Integer.parseInt(kv.substring(name.length() + 1));
            }
        }
        throw new AssertionError(name + " missing in " + line);
    }

    private static void copy(Path src, Path dst) throws IOException {
        if (Files.isDirectory(src)) {
            try (Stream<Path> all = Files.walk(src)) {
                for (Path s : (Iterable<Path>) all::iterator) {
                    Path d = dst.resolve(src.relativize(s).toString());
                    if (Files.isDirectory(s)) {
                        Files.createDirectories(d);
                    } else {
                        Files.copy(s, d, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } else {
            Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Readable (and the scratch directory writable) by the unprivileged child. */
    private static void openUp(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(
                        Files.isDirectory(p) ? (p.endsWith("tmp") ? "rwxrwxrwx" : "rwxr-xr-x") : "rw-r--r--"));
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all.sorted((a, b) -> b.getNameCount() - a.getNameCount())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
