package org.splice4j.spi.support;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * The Flight Recorder event of one session, committed when it ends. Its own timestamp is the end;
 * {@link #sessionDuration} is how long the session ran (not JFR's own duration, which would need the event made when
 * the session starts and held all its life, even with no recording running). Touched only through {@link FlightRecorderEvents}, which checks that the JVM has JFR.
 */
@Name("org.splice4j.Session")
@Label("Splice Session")
@Category("splice4j")
@Description("One tunnel a splicer relayed, when it ended: what it moved, how, for how long and how it ended")
@StackTrace(false) // committed on a loop or notifier thread: its stack says nothing about the tunnel
final class SessionEvent extends Event {

    @Label("Splicer")
    @Description("The splicer's MBean name, or its provider")
    String splicer;

    @Label("Label")
    String label;

    @Label("Endpoint A")
    @Description("The remote address of side A (the client, for an adapter)")
    String endpointA;

    @Label("Endpoint B")
    @Description("The remote address of side B (the target, for an adapter)")
    String endpointB;

    @Label("Bytes A to B")
    @DataAmount
    long bytesAToB;

    @Label("Bytes B to A")
    @DataAmount
    long bytesBToA;

    @Label("Spliced Bytes")
    @Description("Bytes the kernel moved with splice(2), both directions")
    @DataAmount
    long splicedBytes;

    @Label("Copied Bytes")
    @Description("Bytes copied through user space, both directions")
    @DataAmount
    long copiedBytes;

    @Label("Session Duration")
    @Description("How long the session ran (the event's own duration is zero: it is committed at the end)")
    @Timespan(Timespan.NANOSECONDS)
    long sessionDuration;

    @Label("Outcome")
    String outcome;

    @Label("Cause")
    String cause;
}
