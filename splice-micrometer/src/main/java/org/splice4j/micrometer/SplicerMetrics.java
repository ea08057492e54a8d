package org.splice4j.micrometer;

import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;

import org.splice4j.spi.SpliceListener;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;
import org.splice4j.spi.SplicerMXBean;

/**
 * A splicer's figures as Micrometer meters, the same figures its JMX MBean shows ({@link SplicerMXBean}), for Spring
 * Boot's actuator, Prometheus and any other registry:
 *
 * <pre>{@code
 * new SplicerMetrics(Splice.splicer()).bindTo(registry);
 * }</pre>
 *
 * <table>
 *   <caption>Meters, each tagged {@code splicer} (the MBean's name, such as {@code linux-1}) and {@code provider}</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th></tr>
 *   <tr><td>{@code splice4j.sessions.active}</td><td>gauge</td><td></td></tr>
 *   <tr><td>{@code splice4j.sessions.started}</td><td>counter</td><td></td></tr>
 *   <tr><td>{@code splice4j.sessions.ended}</td><td>counter</td><td>{@code outcome}: completed, bounds_reached,
 *       reset, idle_timeout, cancelled, failed</td></tr>
 *   <tr><td>{@code splice4j.bytes}</td><td>counter, bytes</td><td>{@code direction}: a_to_b, b_to_a</td></tr>
 *   <tr><td>{@code splice4j.bytes.moved}</td><td>counter, bytes</td><td>{@code by}: kernel (spliced), copy</td></tr>
 *   <tr><td>{@code splice4j.fallbacks}</td><td>counter</td><td>{@code reason}: not_eligible, provider_refused,
 *       no_pipe, splice_refused</td></tr>
 *   <tr><td>{@code splice4j.errors}</td><td>counter</td><td>{@code kind}: as {@link SplicerMXBean#getErrorsByKind()},
 *       a meter per kind from its first failed session on</td></tr>
 *   <tr><td>{@code splice4j.pipes.open}, {@code splice4j.pipes.pooled}</td><td>gauge</td><td>(linux provider)</td></tr>
 *   <tr><td>{@code splice4j.pipes.smallest.granted}</td><td>gauge, bytes</td><td>(linux provider)</td></tr>
 *   <tr><td>{@code splice4j.pipes.budget}</td><td>gauge, bytes</td><td>(linux provider; -1 where no per-user pipe
 *       limit applies)</td></tr>
 *   <tr><td>{@code splice4j.pipes.grow.refusals}</td><td>counter</td><td>(linux provider)</td></tr>
 * </table>
 *
 * <p>Byte counters count sessions that ended, as the MBean does. The meters read the figures when the registry asks;
 * this class holds no counter of its own. A splicer without figures (a test double) binds no meter.
 */
public final class SplicerMetrics implements MeterBinder {

    private final Splicer splicer;
    private final Tags tags;

    /** Binds {@code splicer}'s figures, tagged with its name and provider. */
    public SplicerMetrics(Splicer splicer) {
        this(splicer, Tags.empty());
    }

    /** Binds {@code splicer}'s figures, with {@code extraTags} besides its name and provider. */
    public SplicerMetrics(Splicer splicer, Iterable<Tag> extraTags) {
        this.splicer = Objects.requireNonNull(splicer, "splicer");
        String name = splicer.statistics().map(SplicerMXBean::getSplicerName).orElse(splicer.providerName());
        this.tags = Tags.of("splicer", name, "provider", splicer.providerName()).and(extraTags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        SplicerMXBean figures = splicer.statistics().orElse(null);
        if (figures == null) {
            return;
        }
        Gauge.builder("splice4j.sessions.active", figures, SplicerMXBean::getActiveSessions)
                .description("Sessions running now").tags(tags).register(registry);
        counter(registry, "splice4j.sessions.started", figures, SplicerMXBean::getSessionsStarted, null,
                "Sessions started", Tags.empty());
        ended(registry, figures, "completed", SplicerMXBean::getSessionsCompleted);
        ended(registry, figures, "bounds_reached", SplicerMXBean::getSessionsBoundsReached);
        ended(registry, figures, "reset", SplicerMXBean::getSessionsReset);
        ended(registry, figures, "idle_timeout", SplicerMXBean::getSessionsIdleTimedOut);
        ended(registry, figures, "cancelled", SplicerMXBean::getSessionsCancelled);
        ended(registry, figures, "failed", SplicerMXBean::getSessionsFailed);
        counter(registry, "splice4j.bytes", figures, SplicerMXBean::getBytesAToB, BaseUnits.BYTES,
                "Bytes relayed, of the sessions that ended", Tags.of("direction", "a_to_b"));
        counter(registry, "splice4j.bytes", figures, SplicerMXBean::getBytesBToA, BaseUnits.BYTES,
                "Bytes relayed, of the sessions that ended", Tags.of("direction", "b_to_a"));
        counter(registry, "splice4j.bytes.moved", figures, SplicerMXBean::getSplicedBytes, BaseUnits.BYTES,
                "Bytes relayed, by the kernel (splice) or through user space (copy)", Tags.of("by", "kernel"));
        counter(registry, "splice4j.bytes.moved", figures, SplicerMXBean::getCopiedBytes, BaseUnits.BYTES,
                "Bytes relayed, by the kernel (splice) or through user space (copy)", Tags.of("by", "copy"));
        fallback(registry, figures, "not_eligible", SplicerMXBean::getFallbacksNotEligible);
        fallback(registry, figures, "provider_refused", SplicerMXBean::getFallbacksProviderRefused);
        fallback(registry, figures, "no_pipe", SplicerMXBean::getFallbacksNoPipe);
        fallback(registry, figures, "splice_refused", SplicerMXBean::getFallbacksSpliceRefused);
        if (figures.getPipesOpen() >= 0) { // a provider with pipes
            Gauge.builder("splice4j.pipes.open", figures, SplicerMXBean::getPipesOpen)
                    .description("Pipes open, pooled or in use").tags(tags).register(registry);
            Gauge.builder("splice4j.pipes.pooled", figures, SplicerMXBean::getPipesPooled)
                    .description("Pipes pooled, empty").tags(tags).register(registry);
            Gauge.builder("splice4j.pipes.smallest.granted", figures, SplicerMXBean::getSmallestPipeGranted)
                    .description("The smallest size the kernel granted a pipe (-1 before the first)")
                    .baseUnit(BaseUnits.BYTES).tags(tags).register(registry);
            Gauge.builder("splice4j.pipes.budget", figures, SplicerMXBean::getPipeBudget)
                    .description("The bytes all pipes are kept within under a user's pipe limit (-1 if none applies)")
                    .baseUnit(BaseUnits.BYTES).tags(tags).register(registry);
            counter(registry, "splice4j.pipes.grow.refusals", figures, SplicerMXBean::getPipeGrowRefusals, null,
                    "Times the kernel refused to grow a pipe (a user's pipe limit)", Tags.empty());
        }
        ErrorMeters errors = new ErrorMeters(registry, figures);
        errors.update(); // kinds already seen
        splicer.addListener(errors);
    }

    private void ended(MeterRegistry registry, SplicerMXBean figures, String outcome,
                       ToDoubleFunction<SplicerMXBean> f) {
        counter(registry, "splice4j.sessions.ended", figures, f, null, "Sessions ended, by outcome",
                Tags.of("outcome", outcome));
    }

    private void fallback(MeterRegistry registry, SplicerMXBean figures, String reason,
                          ToDoubleFunction<SplicerMXBean> f) {
        counter(registry, "splice4j.fallbacks", figures, f, null,
                "Tunnels or directions that were not spliced, by reason", Tags.of("reason", reason));
    }

    private void counter(MeterRegistry registry, String name, SplicerMXBean figures, ToDoubleFunction<SplicerMXBean> f,
                         String unit, String description, Tags more) {
        FunctionCounter.builder(name, figures, f).description(description).baseUnit(unit).tags(tags.and(more))
                .register(registry);
    }

    /**
     * Error kinds appear only as sessions fail: a counter is registered for each kind the first time it is seen, on
     * the splicer's notifier thread (never a relay loop), after the failed session's figures were counted.
     */
    private final class ErrorMeters implements SpliceListener {
        private final MeterRegistry registry;
        private final SplicerMXBean figures;
        private final Set<String> bound = ConcurrentHashMap.newKeySet();

        ErrorMeters(MeterRegistry registry, SplicerMXBean figures) {
            this.registry = registry;
            this.figures = figures;
        }

        @Override
        public void sessionEnded(SpliceSession session, SpliceResult result) {
            if (result.outcome() == SpliceResult.Outcome.FAILED) {
                update();
            }
        }

        void update() {
            for (Map.Entry<String, Long> e : figures.getErrorsByKind().entrySet()) {
                String kind = e.getKey();
                if (bound.add(kind)) {
                    FunctionCounter.builder("splice4j.errors", figures,
                                    f -> f.getErrorsByKind().getOrDefault(kind, 0L).doubleValue())
                            .description("Failed sessions, by the kind of their error")
                            .tags(tags.and("kind", kind)).register(registry);
                }
            }
        }
    }
}
