package org.splice4j.spi.copy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.support.AbstractSplicer;

/**
 * The copy provider's splicer: {@code splice4j.threads} selector loops, sessions spread round-robin. It serves
 * {@link java.nio.channels.SocketChannel} endpoints only; raw descriptors are rejected before anything starts.
 */
final class CopySplicer extends AbstractSplicer<CopySession> {

    private static final AtomicInteger IDS = new AtomicInteger();

    private final CopyLoop[] loops;
    private final AtomicInteger next = new AtomicInteger();

    CopySplicer(SpliceConfig config) {
        super("copy", config);
        int id = IDS.incrementAndGet();
        loops = new CopyLoop[config.threads()];
        try {
            for (int i = 0; i < loops.length; i++) {
                loops[i] = new CopyLoop("splice4j-copy-" + id + "-" + i, config.copyBufferSize());
            }
        } catch (IOException e) {
            for (CopyLoop l : loops) {
                if (l != null) {
                    l.stop();
                }
            }
            throw new UncheckedIOException("cannot open a selector for the copy provider", e);
        }
    }

    @Override
    public boolean supports(SpliceEndpoint endpoint) {
        return !endpoint.isDescriptor();
    }

    @Override
    protected CopySession newSession(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options) {
        CopyLoop loop = loops[Math.floorMod(next.getAndIncrement(), loops.length)];
        return new CopySession(this, loop, a, b, options.idleTimeoutOr(config.idleTimeout()), options);
    }

    @Override
    protected void start(CopySession session) {
        session.loop().execute(session::register);
    }

    @Override
    protected void shutdown() {
        for (CopyLoop l : loops) {
            l.stop();
        }
    }
}
