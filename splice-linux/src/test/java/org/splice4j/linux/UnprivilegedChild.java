package org.splice4j.linux;

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

/**
 * Runs a main class in a child JVM as user {@code nobody} ({@code setpriv}), with this JVM's class path copied where
 * that user can read it: the kernel's pipe limits ({@code pipe-user-pages-soft}, {@code pipe-max-size}) apply to
 * unprivileged users only, and CI runs as root.
 */
final class UnprivilegedChild {

    /** What the child printed (stdout and stderr) and its exit status. */
    record Result(int exitValue, String output) {
    }

    private UnprivilegedChild() {
    }

    /**
     * Skips the test where this cannot run (not root, or no setpriv), except under CI (root with util-linux), where it
     * must run.
     */
    static Path setprivOrSkip() {
        boolean root = "root".equals(System.getProperty("user.name"));
        Path setpriv = Stream.of("/usr/bin/setpriv", "/bin/setpriv").map(Path::of).filter(Files::isExecutable)
                .findFirst().orElse(null);
        if (!root || setpriv == null) {
            assertTrue(System.getenv("CI") == null, "CI must run this test as root with setpriv");
            Assumptions.abort("needs root and setpriv to run a child as an unprivileged user");
        }
        return setpriv;
    }

    static Result run(Class<?> main, long timeoutSeconds, String... args) throws Exception {
        Path setpriv = setprivOrSkip();
        Path dir = Files.createTempDirectory("splice4j-unprivileged");
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
                    "-ea:org.splice4j...", // our threading asserts, as in surefire's own JVM
                    "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
                    "-Djava.io.tmpdir=" + tmp, "-Djna.tmpdir=" + tmp, "-Xmx256m",
                    "-cp", String.join(File.pathSeparator, cp), main.getName()));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(timeoutSeconds, TimeUnit.SECONDS), "child did not exit: " + out);
            return new Result(p.exitValue(), out);
        } finally {
            deleteTree(dir);
        }
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
