package org.splice4j.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** This JVM's open descriptors by kind, from the links in {@code /proc/self/fd}. */
record OpenDescriptors(int sockets, int pipes, int others) {

    static OpenDescriptors now() throws IOException {
        List<Path> fds;
        try (Stream<Path> list = Files.list(Path.of("/proc/self/fd"))) {
            fds = list.toList(); // includes the listing's own directory descriptor, in others
        }
        int sockets = 0;
        int pipes = 0;
        int others = 0;
        for (Path fd : fds) {
            String target;
            try {
                target = Files.readSymbolicLink(fd).toString();
            } catch (IOException closedSinceListed) {
                continue; // the listing's own descriptor, or one another thread closed meanwhile
            }
            if (target.startsWith("socket:")) {
                sockets++;
            } else if (target.startsWith("pipe:")) {
                pipes++;
            } else {
                others++;
            }
        }
        return new OpenDescriptors(sockets, pipes, others);
    }

    int total() {
        return sockets + pipes + others;
    }
}
