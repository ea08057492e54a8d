package org.splice4j.spi.support;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** The Flight Recorder event of one fallback ({@link org.splice4j.spi.SpliceFallback}). */
@Name("org.splice4j.Fallback")
@Label("Splice Fallback")
@Category("splice4j")
@Description("Bytes that went through user space, or a tunnel that went its framework's stock way, and why")
@StackTrace(false)
final class FallbackEvent extends Event {

    @Label("Splicer")
    String splicer;

    @Label("Reason")
    String reason;

    @Label("Label")
    String label;

    @Label("Detail")
    String detail;
}
