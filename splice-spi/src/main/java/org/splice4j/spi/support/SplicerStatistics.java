package org.splice4j.spi.support;

import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;

import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SplicerMXBean;

/**
 * The figures of one splicer ({@link SplicerMXBean}) and their JMX registration. Sessions are counted when they start
 * and when they end, from the result each ended with, so the figures are exactly the sum of the results the
 * splicer's users saw. Any thread; counters are {@link LongAdder}s.
 */
final class SplicerStatistics implements SplicerMXBean {

    private static final System.Logger LOG = System.getLogger(SplicerStatistics.class.getName());
    private static final AtomicInteger IDS = new AtomicInteger();
    private static final int MAX_ERROR_KINDS = 64;

    private final String providerName;
    private final String splicerName;
    private final LongSupplier activeSessions;
    private final AbstractSplicer<?> splicer;
    private final LongAdder started = new LongAdder();
    private final EnumMap<SpliceResult.Outcome, LongAdder> ended = new EnumMap<>(SpliceResult.Outcome.class);
    private final LongAdder bytesAToB = new LongAdder();
    private final LongAdder bytesBToA = new LongAdder();
    private final LongAdder spliced = new LongAdder();
    private final LongAdder copied = new LongAdder();
    private final EnumMap<SpliceFallback, LongAdder> fallbacks = new EnumMap<>(SpliceFallback.class);
    /** Failed sessions by kind; bounded, so a provider's varied messages cannot grow it without end. */
    private final ConcurrentHashMap<String, LongAdder> errors = new ConcurrentHashMap<>();
    private volatile ObjectName registered;

    SplicerStatistics(AbstractSplicer<?> splicer, String providerName, LongSupplier activeSessions) {
        this.splicer = splicer;
        this.providerName = providerName;
        this.splicerName = providerName + "-" + IDS.incrementAndGet();
        this.activeSessions = activeSessions;
        for (SpliceResult.Outcome o : SpliceResult.Outcome.values()) {
            ended.put(o, new LongAdder());
        }
        for (SpliceFallback f : SpliceFallback.values()) {
            fallbacks.put(f, new LongAdder());
        }
    }

    void started() {
        started.increment();
    }

    void fallback(SpliceFallback reason) {
        fallbacks.get(reason).increment();
    }

    /** @param errorKind the kind of a failed session's error, or null for any other end */
    void ended(SpliceResult r, String errorKind) {
        if (errorKind != null) {
            String kind = errors.size() < MAX_ERROR_KINDS || errors.containsKey(errorKind) ? errorKind : "other";
            errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
        }
        ended.get(r.outcome()).increment();
        bytesAToB.add(r.bytesAToB());
        bytesBToA.add(r.bytesBToA());
        spliced.add(r.splicedBytes());
        copied.add(r.copiedBytes());
    }

    /**
     * Registers {@code org.splice4j:type=Splicer,name=PROVIDER-N} in the platform MBean server. A JVM without JMX (or
     * a security manager refusing it) costs the figures their JMX view only: logged at DEBUG, never an error.
     */
    void register() {
        try {
            ObjectName name = new ObjectName("org.splice4j:type=Splicer,name=" + splicerName);
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            server.registerMBean(new StandardMBean(this, SplicerMXBean.class, true), name);
            registered = name;
        } catch (JMException | RuntimeException | LinkageError e) {
            LOG.log(Level.DEBUG, "splice4j: no JMX view of the " + providerName + " splicer: " + e);
        }
    }

    void unregister() {
        ObjectName name = registered;
        registered = null;
        if (name != null) {
            try {
                ManagementFactory.getPlatformMBeanServer().unregisterMBean(name);
            } catch (JMException | RuntimeException e) {
                LOG.log(Level.DEBUG, "splice4j: unregistering " + name + ": " + e);
            }
        }
    }

    /** The name it is registered under, or null. */
    ObjectName objectName() {
        return registered;
    }

    @Override
    public String getSplicerName() {
        return splicerName;
    }

    @Override
    public String getProviderName() {
        return providerName;
    }

    @Override
    public long getActiveSessions() {
        return activeSessions.getAsLong();
    }

    @Override
    public long getSessionsStarted() {
        return started.sum();
    }

    @Override
    public long getSessionsCompleted() {
        return ended.get(SpliceResult.Outcome.COMPLETED).sum();
    }

    @Override
    public long getSessionsBoundsReached() {
        return ended.get(SpliceResult.Outcome.BOUNDS_REACHED).sum();
    }

    @Override
    public long getSessionsReset() {
        return ended.get(SpliceResult.Outcome.RESET).sum();
    }

    @Override
    public long getSessionsIdleTimedOut() {
        return ended.get(SpliceResult.Outcome.IDLE_TIMEOUT).sum();
    }

    @Override
    public long getSessionsCancelled() {
        return ended.get(SpliceResult.Outcome.CANCELLED).sum();
    }

    @Override
    public long getSessionsFailed() {
        return ended.get(SpliceResult.Outcome.FAILED).sum();
    }

    @Override
    public long getBytesAToB() {
        return bytesAToB.sum();
    }

    @Override
    public long getBytesBToA() {
        return bytesBToA.sum();
    }

    @Override
    public long getSplicedBytes() {
        return spliced.sum();
    }

    @Override
    public long getCopiedBytes() {
        return copied.sum();
    }

    @Override
    public long getFallbacksNotEligible() {
        return fallbacks.get(SpliceFallback.NOT_ELIGIBLE).sum();
    }

    @Override
    public long getFallbacksProviderRefused() {
        return fallbacks.get(SpliceFallback.PROVIDER_REFUSED).sum();
    }

    @Override
    public long getFallbacksNoPipe() {
        return fallbacks.get(SpliceFallback.NO_PIPE).sum();
    }

    @Override
    public long getFallbacksSpliceRefused() {
        return fallbacks.get(SpliceFallback.SPLICE_REFUSED).sum();
    }

    @Override
    public Map<String, Long> getErrorsByKind() {
        Map<String, Long> m = new TreeMap<>();
        errors.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    @Override
    public long getPipesOpen() {
        return splicer.pipesOpen();
    }

    @Override
    public long getPipesPooled() {
        return splicer.pipesPooled();
    }

    @Override
    public long getSmallestPipeGranted() {
        return splicer.smallestPipeGranted();
    }

    @Override
    public long getPipeGrowRefusals() {
        return splicer.pipeGrowRefusals();
    }

    @Override
    public long getPipeBudget() {
        return splicer.pipeBudget();
    }
}
