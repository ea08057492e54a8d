package org.splice4j.linux;

/**
 * The policy that says when a direction's pipe is grown ({@link PipePool#grow} is the mechanism): when one splice
 * fills half of it or more. A pipe's 16 default slots rarely hold a full 64 KiB of TCP segments, so half full in one
 * call already marks a bulk stream, which a bigger pipe serves with fewer calls. Small messages never get there, so
 * they never cost a bigger pipe's memory.
 */
final class PipeGrowth {

    private PipeGrowth() {
    }

    /** Whether a splice that brought {@code n} bytes into {@code pipe} asks for a bigger pipe. */
    static boolean wanted(Pipe pipe, long n) {
        return n >= pipe.capacity / 2;
    }
}
