package org.splice4j.spi.copy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.support.AbstractSplicer;
import org.splice4j.spi.support.LoopGroup;

/**
 * The copy provider's splicer: {@code splice4j.threads} selector loops, sessions spread round-robin. It serves
 * {@link java.nio.channels.SocketChannel} endpoints only (it does not {@link #servesDescriptors() serve descriptors}):
 * raw descriptors are rejected before anything starts. It relays through the caller's channels, not duplicates.
 */
final class CopySplicer extends AbstractSplicer<CopySession> {

    private static final AtomicInteger IDS = new AtomicInteger();

    private final LoopGroup<CopyLoop> loops;

    CopySplicer(SpliceConfig config) {
        super("copy", config);
        int id = IDS.incrementAndGet();
        loops = new LoopGroup<>(config.threads(), i -> {
            try {
                return new CopyLoop("splice4j-copy-" + id + "-" + i, config.copyBufferSize());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open a selector for the copy provider", e);
            }
        });
    }

    @Override
    protected CopySession newSession(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options) {
        CopyLoop loop = loops.next();
        return new CopySession(this, loop, a, b, options.idleTimeoutOr(config.idleTimeout()), options);
    }

    @Override
    protected void start(CopySession session) {
        session.loop().execute(session::register);
    }

    @Override
    protected String providerSettings() {
        return "copying through buffers of " + config.copyBufferSize() + " bytes";
    }

    /** The loops (for tests). */
    LoopGroup<CopyLoop> loops() {
        return loops;
    }

    @Override
    protected void shutdown() {
        loops.stop();
    }
}
