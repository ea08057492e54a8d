package org.splice4j.jetty;

import java.util.concurrent.CompletionStage;

import org.splice4j.spi.SpliceResult;

/**
 * What {@link SpliceProxyServlet} leaves on a request whose response body it spliced the closing way (its fallback,
 * with {@code Connection: close}; a kept-alive spliced response has none), as the request attribute
 * {@value #ATTRIBUTE}: the status and head it wrote to the client itself, and the tunnel's result.
 *
 * <p>Jetty cannot know either: the servlet wrote the head on the raw socket, and the splicer the body. Jetty's own
 * response for that request records a 500 and the size of an error page it could not send. {@link SplicedRequestLog}
 * reads this attribute to log the real status and byte count; a request log of one's own can do the same.
 */
public final class SplicedResponse {

    /** The request attribute under which {@link SpliceProxyServlet} leaves this object. */
    public static final String ATTRIBUTE = "org.splice4j.jetty.splicedResponse";

    private final int status;
    private final long headBytes;
    private final CompletionStage<SpliceResult> result;

    SplicedResponse(int status, long headBytes, CompletionStage<SpliceResult> result) {
        this.status = status;
        this.headBytes = headBytes;
        this.result = result;
    }

    /** The status line's code the client got: the server's 200 or 206. */
    public int status() {
        return status;
    }

    /** The length of the response head the servlet wrote (status line, headers, the blank line). */
    public long headBytes() {
        return headBytes;
    }

    /**
     * Completes when the tunnel has ended and both connections are closed, on a splicer's notifier thread. The
     * client is the session's A side and the server its B side, so {@link SpliceResult#bytesBToA()} counts what the
     * client received: the head, then the body.
     */
    public CompletionStage<SpliceResult> result() {
        return result;
    }

    /**
     * The body bytes the client received, as {@code %O} of Jetty's {@code CustomRequestLog} counts them for a response
     * Jetty wrote (content only, no head): fewer than the Content-Length when the tunnel ended early.
     */
    public long bodyBytesSent(SpliceResult ended) {
        return Math.max(0, ended.bytesBToA() - headBytes);
    }

    @Override
    public String toString() {
        return "SplicedResponse[" + status + ", head=" + headBytes + "]";
    }
}
