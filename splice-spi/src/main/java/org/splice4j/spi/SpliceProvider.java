package org.splice4j.spi;

import java.util.Optional;

/**
 * A way of relaying bytes between two sockets, found with {@link java.util.ServiceLoader}.
 *
 * <p>Implementations register themselves in {@code META-INF/services/org.splice4j.spi.SpliceProvider} and must have a
 * public no-argument constructor that never throws: availability is worked out once, and reported as a value by
 * {@link #unavailabilityCause()}, the way Netty's {@code Epoll} does.
 */
public interface SpliceProvider {

    /** The short name used by {@code splice4j.provider}, for example {@code linux} or {@code copy}. */
    String name();

    /** Higher wins when no provider is named. The {@code copy} provider is never chosen automatically. */
    int priority();

    /** Why this provider cannot work in this JVM (OS, missing library, missing JVM flag), or empty if it can. */
    Optional<String> unavailabilityCause();

    default boolean isAvailable() {
        return unavailabilityCause().isEmpty();
    }

    /**
     * Creates an independent splicer with its own threads and resources.
     *
     * @throws IllegalStateException if this provider is not available, with the cause
     */
    Splicer newSplicer(SpliceConfig config);
}
