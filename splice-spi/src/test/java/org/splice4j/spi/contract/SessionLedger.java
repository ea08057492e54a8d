package org.splice4j.spi.contract;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;

/** A listener that records every start and end per session, to check that each session ends exactly once. */
final class SessionLedger implements SpliceListener {

    private final Map<SpliceSession, AtomicInteger> started = new ConcurrentHashMap<>();
    private final Map<SpliceSession, List<SpliceResult>> ended = new ConcurrentHashMap<>();

    @Override
    public void sessionStarted(SpliceSession session) {
        started.computeIfAbsent(session, k -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void sessionEnded(SpliceSession session, SpliceResult result) {
        ended.computeIfAbsent(session, k -> new CopyOnWriteArrayList<>()).add(result);
    }

    /**
     * Each of these sessions was started once and ended once, and its listener result is the one its completion
     * gave. Waits up to 10 s for notifications still on their way (completions come first, listeners next), then
     * a little longer for a second, wrong one.
     */
    void assertEachStartedAndEndedOnce(Collection<SpliceSession> sessions) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline && !sessions.stream().allMatch(ended::containsKey)) {
            Thread.sleep(10);
        }
        Thread.sleep(50);
        List<String> wrong = new ArrayList<>();
        for (SpliceSession s : sessions) {
            AtomicInteger starts = started.get(s);
            List<SpliceResult> ends = ended.getOrDefault(s, List.of());
            SpliceResult completion = s.completion().toCompletableFuture().getNow(null);
            if (starts == null || starts.get() != 1 || ends.size() != 1 || completion == null
                    || ends.get(0) != completion) {
                wrong.add(s + ": started " + (starts == null ? 0 : starts.get()) + " times, ended " + ends
                        + ", completion " + completion);
            }
        }
        if (!wrong.isEmpty()) {
            throw new AssertionError(wrong.size() + " of " + sessions.size() + " sessions not started and ended once: "
                    + wrong.subList(0, Math.min(5, wrong.size())));
        }
    }
}
