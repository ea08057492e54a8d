package org.splice4j.spi.copy;

import java.util.Optional;

import org.splice4j.spi.Splice;
import org.splice4j.spi.SpliceConfig;
import org.splice4j.spi.SpliceProvider;
import org.splice4j.spi.Splicer;

/**
 * The portable {@code copy} provider: a pure java.nio relay with large buffers on its own selector thread(s).
 * Always available, but chosen only when {@code splice4j.provider=copy} names it: it is the baseline splicing is
 * measured against, and the relay of last resort on systems without splice.
 */
public final class CopyProvider implements SpliceProvider {

    @Override
    public String name() {
        return Splice.COPY;
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Optional<String> unavailabilityCause() {
        return Optional.empty();
    }

    @Override
    public Splicer newSplicer(SpliceConfig config) {
        return new CopySplicer(config);
    }
}
