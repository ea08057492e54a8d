package org.splice4j.jetty;

import org.splice4j.spi.contract.FailingSplicer;

/**
 * The two failures the Jetty adapter must survive at a tunnel's start: an {@link OutOfMemoryError} (an Error, which
 * no provider documents) or an {@link java.io.UncheckedIOException} (what a provider throws when it cannot dup a
 * descriptor). It claims what the linux provider can do (raw descriptors, its own duplicates), so the servlet accepts
 * the splicer too.
 */
final class ThrowingSplicer {

    enum Failure { OUT_OF_MEMORY, UNCHECKED_IO }

    private ThrowingSplicer() {
    }

    static FailingSplicer of(Failure failure) {
        return new FailingSplicer("throwing", true, true,
                failure == Failure.OUT_OF_MEMORY ? FailingSplicer::outOfMemory : FailingSplicer::emfile);
    }
}
