package org.splice4j.samples;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What went wrong in one {@link BenchTunnels} run, from every thread of its load: bytes that arrived but were not
 * the bytes sent (each counted), and tunnels that broke (opening failed, reset, an end of stream before the run
 * ended). Any of them makes the bench fail; the first of each kind is kept to say where.
 */
final class TunnelFailures {

    private final AtomicLong wrongBytes = new AtomicLong();
    private final AtomicLong broken = new AtomicLong();
    private volatile String firstWrong;
    private volatile String firstBroken;

    void wrongBytes(int n, String where) {
        if (wrongBytes.getAndAdd(n) == 0) {
            firstWrong = where;
        }
    }

    void broken(String where, Throwable why) {
        if (broken.getAndIncrement() == 0) {
            firstBroken = where + ": " + why;
        }
    }

    long wrongBytes() {
        return wrongBytes.get();
    }

    long broken() {
        return broken.get();
    }

    boolean any() {
        return wrongBytes.get() > 0 || broken.get() > 0;
    }

    /** One line for stderr: the counts and the first of each; empty when nothing went wrong. */
    String summary() {
        StringBuilder s = new StringBuilder();
        if (wrongBytes.get() > 0) {
            s.append(wrongBytes.get()).append(" bytes did not match (first: ").append(firstWrong).append(')');
        }
        if (broken.get() > 0) {
            s.append(s.length() > 0 ? "; " : "").append(broken.get()).append(" tunnel(s) broke (first: ")
                    .append(firstBroken).append(')');
        }
        return s.toString();
    }
}
