package org.splice4j.spi.support;

import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;

import org.splice4j.spi.SpliceFallback;
import org.splice4j.spi.SpliceResult;

/**
 * Where splicers commit their JDK Flight Recorder events. Free when no recording runs: an event is made only to ask
 * {@code shouldCommit()}, which is false then. A JVM without the {@code jdk.jfr} module (a jlink image without it)
 * records nothing, and no event class is ever loaded there.
 */
final class FlightRecorderEvents {

    private static final System.Logger LOG = System.getLogger(FlightRecorderEvents.class.getName());
    private static final boolean AVAILABLE = available();
    /** Set when committing failed once (a JFR that refuses the event class): warned once, then nothing is tried. */
    private static volatile boolean broken;

    private FlightRecorderEvents() {
    }

    private static boolean available() {
        try {
            Class.forName("jdk.jfr.Event", false, FlightRecorderEvents.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            LOG.log(Level.DEBUG, "splice4j: no JDK Flight Recorder in this JVM, no splice4j events: " + e);
            return false;
        }
    }

    /** Any thread, once per session, when it ended. */
    static void sessionEnded(String splicer, AbstractSession session, SpliceResult result) {
        if (AVAILABLE && !broken) {
            try {
                Committer.session(splicer, session, result);
            } catch (RuntimeException | LinkageError e) {
                disable(e);
            }
        }
    }

    /** Any thread. */
    static void fallback(String splicer, SpliceFallback reason, String label, String detail) {
        if (AVAILABLE && !broken) {
            try {
                Committer.fallback(splicer, reason, label, detail);
            } catch (RuntimeException | LinkageError e) {
                disable(e);
            }
        }
    }

    private static void disable(Throwable e) {
        if (!broken) {
            broken = true;
            LOG.log(Level.WARNING, "splice4j: Flight Recorder refused an event; no more splice4j events", e);
        }
    }

    /** The only class that names the event classes: loaded only where {@code jdk.jfr} exists. */
    private static final class Committer {

        static void session(String splicer, AbstractSession session, SpliceResult result) {
            SessionEvent e = new SessionEvent();
            if (!e.shouldCommit()) {
                return;
            }
            e.splicer = splicer;
            e.label = session.label();
            e.endpointA = describe(session.remoteA());
            e.endpointB = describe(session.remoteB());
            e.bytesAToB = result.bytesAToB();
            e.bytesBToA = result.bytesBToA();
            e.splicedBytes = result.splicedBytes();
            e.copiedBytes = result.copiedBytes();
            e.sessionDuration = System.nanoTime() - session.startedNanos();
            e.outcome = result.outcome().name();
            e.cause = result.cause().map(Throwable::toString).orElse(null);
            e.commit();
        }

        static void fallback(String splicer, SpliceFallback reason, String label, String detail) {
            FallbackEvent e = new FallbackEvent();
            if (!e.shouldCommit()) {
                return;
            }
            e.splicer = splicer;
            e.reason = reason.name();
            e.label = label;
            e.detail = detail;
            e.commit();
        }

        private static String describe(InetSocketAddress a) {
            if (a == null) {
                return null;
            }
            String host = a.getHostString();
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
        }
    }
}
