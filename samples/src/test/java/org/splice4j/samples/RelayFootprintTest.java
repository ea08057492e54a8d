package org.splice4j.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.Pipe;
import java.util.List;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

/** {@link RelayFootprint}: the /proc parsing, and a snapshot of this JVM that sees a pipe it opens. */
class RelayFootprintTest {

    private static final String STATUS = String.join("\n",
            "Name:\tjava",
            "VmPeak:\t 9000000 kB",
            "VmRSS:\t   51234 kB",
            "RssAnon:\t   40000 kB",
            "RssFile:\t   11234 kB",
            "Threads:\t27");

    @Test
    void readsKibFieldsOfStatus() {
        assertEquals(51234, RelayFootprint.statusKib(STATUS, "VmRSS"));
        assertEquals(40000, RelayFootprint.statusKib(STATUS, "RssAnon"));
        assertEquals(0, RelayFootprint.statusKib(STATUS, "RssShmem"), "absent field");
        assertEquals(0, RelayFootprint.statusKib("Name:\tkthreadd", "VmRSS"), "a kernel thread has none");
    }

    @Test
    void readsPipeInodesAndNothingElse() {
        assertEquals(OptionalLong.of(123456), RelayFootprint.pipeInode("pipe:[123456]"));
        assertEquals(OptionalLong.empty(), RelayFootprint.pipeInode("socket:[123456]"));
        assertEquals(OptionalLong.empty(), RelayFootprint.pipeInode("anon_inode:[eventpoll]"));
        assertEquals(OptionalLong.empty(), RelayFootprint.pipeInode("/tmp/pipe:[1]"));
        assertEquals(OptionalLong.empty(), RelayFootprint.pipeInode("pipe:[x]"));
    }

    @Test
    void aSnapshotCountsAPipeOnceWithItsCapacity() throws IOException {
        long self = ProcessHandle.current().pid();
        RelayFootprint.Snapshot before = RelayFootprint.read(List.of(self));
        assertTrue(before.rssKib() > 0 && before.anonKib() > 0 && before.anonKib() <= before.rssKib(),
                before.toString());
        Pipe p = Pipe.open();
        // Ours: both ends closed by try-with-resources.
        try (Pipe.SourceChannel source = p.source(); Pipe.SinkChannel sink = p.sink()) {
            RelayFootprint.Snapshot with = RelayFootprint.read(List.of(self, self)); // listed twice, counted once
            assertEquals(before.pipes() + 1, with.pipes(), "two ends, one pipe");
            if (RelayFootprint.readsPipeCapacity()) {
                // A new pipe has the kernel's default capacity, 16 pages; other pipes of this JVM did not change.
                assertEquals(before.pipeBytes() + 16 * 4096, with.pipeBytes(), with.toString());
            }
        }
    }
}
