package org.splice4j.jetty;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * A splicer whose {@code splice} throws: an {@link OutOfMemoryError} (an Error, which no provider documents, and
 * which the adapter must survive all the same) or an {@link UncheckedIOException} (what a provider throws when it
 * cannot dup a descriptor). Its provider name is not {@code copy}, so the servlet accepts it too.
 */
final class ThrowingSplicer implements Splicer {

    enum Failure { OUT_OF_MEMORY, UNCHECKED_IO }

    private final Failure failure;
    /** How many times {@code splice} was called: shows the adapter did ask it. */
    final AtomicInteger calls = new AtomicInteger();

    ThrowingSplicer(Failure failure) {
        this.failure = failure;
    }

    @Override
    public String providerName() {
        return "throwing";
    }

    @Override
    public SpliceSession splice(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options) {
        calls.incrementAndGet();
        if (failure == Failure.OUT_OF_MEMORY) {
            throw new OutOfMemoryError("thrown by the test's splicer");
        }
        throw new UncheckedIOException(new IOException("Too many open files (thrown by the test's splicer)"));
    }

    @Override
    public boolean supports(SpliceEndpoint endpoint) {
        return true;
    }

    @Override
    public void addListener(SpliceListener listener) {
    }

    @Override
    public void removeListener(SpliceListener listener) {
    }

    @Override
    public void close() {
    }
}
