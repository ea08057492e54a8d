package org.splice4j.linux;

import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.support.AbstractSplicer;
import org.splice4j.spi.support.LoopGroup;

/**
 * The Linux provider's splicer: {@code splice4j.threads} epoll loops, sessions spread round-robin, one pipe pool.
 * It serves both endpoint kinds: {@link SocketChannel}s (descriptor read through {@link FdAccess}) and raw descriptors.
 */
final class LinuxSplicer extends AbstractSplicer<LinuxSession> {

    private static final AtomicInteger IDS = new AtomicInteger();

    private final LoopGroup<EpollLoop> loops;
    private final PipePool pool;

    LinuxSplicer(SpliceConfig config) {
        super("linux", config);
        int id = IDS.incrementAndGet();
        this.pool = new PipePool(config.maxPipes(), config.pipeSize());
        this.loops = new LoopGroup<>(config.threads(), i -> new EpollLoop("splice4j-linux-" + id + "-" + i));
    }

    /** Both endpoint kinds: a {@link SocketChannel}'s descriptor or a raw one, each dup'ed. */
    @Override
    public boolean servesDescriptors() {
        return true;
    }

    /** Sessions relay on the {@link OwnedFd} dups taken in {@link #newSession}, never on the caller's descriptors. */
    @Override
    public boolean relaysOnOwnDuplicates() {
        return true;
    }

    @Override
    protected LinuxSession newSession(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options) {
        // Caller's thread: take our own dups now, while the caller guarantees its sockets are open.
        OwnedFd fa = dup(a);
        OwnedFd fb;
        try {
            fb = dup(b);
        } catch (RuntimeException e) {
            fa.close();
            throw e;
        }
        try {
            EpollLoop loop = loops.next(); // may make a new loop, which can fail (no descriptor for epoll)
            return new LinuxSession(this, loop, pool, fa, a.alreadyRead(), fb, b.alreadyRead(),
                    options.idleTimeoutOr(config.idleTimeout()), options);
        } catch (RuntimeException | Error e) {
            fa.close(); // our dups, not yet handed to any session
            fb.close();
            throw e;
        }
    }

    private static OwnedFd dup(SpliceEndpoint e) {
        return e.isDescriptor()
                ? OwnedFd.dupOf(e.descriptor(), e.expectedLocalAddress(), e.expectedRemoteAddress())
                : OwnedFd.dupOf(e.channel());
    }

    @Override
    protected void start(LinuxSession session) {
        session.loop().execute(session::register);
    }

    @Override
    protected void shutdown() {
        loops.stop();
        pool.close();
    }

    // The MBean is registered by AbstractSplicer's constructor, before the pool exists: -1 until it does.

    @Override
    protected long pipesOpen() {
        return pool == null ? -1 : pool.total();
    }

    @Override
    protected long pipesPooled() {
        return pool == null ? -1 : pool.pooled();
    }

    @Override
    protected long smallestPipeGranted() {
        int s = pool == null ? Integer.MAX_VALUE : pool.smallestGranted();
        return s == Integer.MAX_VALUE ? -1 : s;
    }

    @Override
    protected String providerSettings() {
        long budget = pool.budget();
        return "pipes grown up to " + pool.maxPipeSize() + " bytes (asked " + config.pipeSize()
                + ", the kernel's pipe-max-size caps it), at most " + config.maxPipes() + " pipes"
                + (budget == PipeBudget.NONE ? "" : ", all within a budget of " + budget + " bytes (3/4 of this"
                        + " user's pipe-user-pages-soft, which applies to this process)");
    }

    @Override
    protected long pipeBudget() {
        return pool == null ? -1 : pool.budget();
    }

    @Override
    protected String errorKind(Throwable cause) {
        return cause instanceof Errno.NativeIoException ? ((Errno.NativeIoException) cause).kind()
                : super.errorKind(cause);
    }

    @Override
    protected long pipeGrowRefusals() {
        return pool == null ? -1 : pool.growRefusals();
    }

    /** The loops (for tests). */
    LoopGroup<EpollLoop> loops() {
        return loops;
    }

    /** The pipe pool (for tests and metrics). */
    PipePool pipePool() {
        return pool;
    }

    /** Pipes open now, pooled or in use (for tests and metrics). */
    int openPipes() {
        return pool.total();
    }
}
