package org.splice4j.spi.contract;

import java.util.concurrent.LinkedBlockingQueue;

import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;

/** A splicer listener that queues the result of every session that ends, for tests to wait on. */
public final class EndedSessions extends LinkedBlockingQueue<SpliceResult> implements SpliceListener {

    private static final long serialVersionUID = 1L;

    @Override
    public void sessionEnded(SpliceSession session, SpliceResult result) {
        add(result);
    }
}
