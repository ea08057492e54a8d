package org.splice4j.spi.contract;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import org.splice4j.spi.SpliceEndpoint;
import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * A splicer for the adapters' fault tests: it claims the capabilities it is given, so the adapter tries it,
 * and then its {@code splice} throws what {@code fault} gives: a provider's refusal, the {@link UncheckedIOException}
 * a provider throws when it cannot dup a socket (EMFILE), or an {@link Error} no provider documents and every adapter
 * must survive all the same.
 */
public final class FailingSplicer implements Splicer {

    /** How many times {@code splice} was called: proof that the adapter did ask it. */
    public final AtomicInteger calls = new AtomicInteger();
    private final String providerName;
    private final boolean servesDescriptors;
    private final boolean relaysOnOwnDuplicates;
    private final Supplier<? extends Throwable> fault;

    public FailingSplicer(String providerName, boolean servesDescriptors, boolean relaysOnOwnDuplicates,
                          Supplier<? extends Throwable> fault) {
        this.providerName = providerName;
        this.servesDescriptors = servesDescriptors;
        this.relaysOnOwnDuplicates = relaysOnOwnDuplicates;
        this.fault = fault;
    }

    /** What {@code OwnedFd} throws when {@code fcntl(F_DUPFD_CLOEXEC)} fails for want of descriptors. */
    public static Throwable emfile() {
        return new UncheckedIOException(new IOException("fcntl(F_DUPFD_CLOEXEC): Too many open files (injected)"));
    }

    public static Throwable outOfMemory() {
        return new OutOfMemoryError("Java heap space (injected)");
    }

    @Override
    public String providerName() {
        return providerName;
    }

    @Override
    public boolean servesDescriptors() {
        return servesDescriptors;
    }

    @Override
    public boolean relaysOnOwnDuplicates() {
        return relaysOnOwnDuplicates;
    }

    @Override
    public SpliceSession splice(SpliceEndpoint a, SpliceEndpoint b, SpliceOptions options) {
        calls.incrementAndGet();
        Throwable t = fault.get();
        if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        throw new IllegalStateException(t);
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
