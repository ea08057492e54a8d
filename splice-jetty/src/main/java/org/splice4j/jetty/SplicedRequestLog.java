package org.splice4j.jetty;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.security.Principal;
import java.util.Locale;
import java.util.Objects;
import java.util.TimeZone;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.CustomRequestLog;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.DateCache;
import org.eclipse.jetty.util.component.ContainerLifeCycle;

/**
 * A request log that writes the responses {@link SpliceProxyServlet} spliced with their real status and byte count,
 * and passes every other request to the request log it wraps, unchanged.
 *
 * <p>Only responses spliced the closing way need it ({@code SpliceProxyServlet}'s fallback, where Jetty refuses its
 * stream wrapper or {@value SpliceProxyServlet#KEEP_ALIVE_PARAM} is {@code false}): a response spliced on a kept-alive
 * connection is completed by Jetty, carries no {@link SplicedResponse}, and goes to the wrapped log like any other.
 *
 * <p>Jetty's own log cannot: the servlet writes such a response's head itself and the splicer its body, so Jetty
 * sees its connection close before its response completed and records a 500 and the size of an error page that
 * never left ({@code "GET /big HTTP/1.1" 500 547}). A {@code Response.Wrapper} cannot correct that count, since
 * {@code Response.getContentBytesWritten}, which {@code CustomRequestLog} prints, reads the connection's own
 * response under every wrapper.
 *
 * <p>So for a request that carries a {@link SplicedResponse} (the attribute {@value SplicedResponse#ATTRIBUTE}),
 * this log does not call the wrapped log: once the tunnel has ended it writes the line itself, through the wrapped
 * log's writer, in {@link CustomRequestLog#NCSA_FORMAT} or {@link CustomRequestLog#EXTENDED_NCSA_FORMAT} (the same
 * fields and date format as {@code CustomRequestLog}), with the status the client got and the body bytes it received
 * ({@code %O}: content only, as {@code CustomRequestLog} counts it). The line is written when the tunnel ends, on a
 * splicer's notifier thread, so it may come after lines of requests that began later. {@code CustomRequestLog}'s
 * ignore paths and filter do not apply to it.
 *
 * <p>Install it in place of the log it wraps: {@code server.setRequestLog(new SplicedRequestLog(customRequestLog))}.
 */
public class SplicedRequestLog extends ContainerLifeCycle implements RequestLog {

    private static final System.Logger LOG = System.getLogger(SplicedRequestLog.class.getName());

    private final RequestLog log;
    private final RequestLog.Writer writer;
    private final boolean extended;
    /** {@code %t} as {@code CustomRequestLog} formats it: its default format, GMT, the default locale. */
    private final DateCache dates =
            new DateCache(CustomRequestLog.DEFAULT_DATE_FORMAT, Locale.getDefault(), TimeZone.getTimeZone("GMT"));

    /**
     * Wraps {@code log}, writing spliced lines through its writer and in its format.
     *
     * @throws IllegalArgumentException if its format is neither {@code NCSA_FORMAT} nor {@code EXTENDED_NCSA_FORMAT}
     */
    public SplicedRequestLog(CustomRequestLog log) {
        this(log, log.getWriter(), log.getFormatString());
    }

    /**
     * Wraps {@code log}, any request log, writing spliced lines through {@code writer} in {@code format}.
     *
     * @param format {@link CustomRequestLog#NCSA_FORMAT} or {@link CustomRequestLog#EXTENDED_NCSA_FORMAT}
     * @throws IllegalArgumentException for any other format
     */
    public SplicedRequestLog(RequestLog log, RequestLog.Writer writer, String format) {
        this.log = Objects.requireNonNull(log, "log");
        this.writer = Objects.requireNonNull(writer, "writer");
        if (CustomRequestLog.NCSA_FORMAT.equals(format)) {
            extended = false;
        } else if (CustomRequestLog.EXTENDED_NCSA_FORMAT.equals(format)) {
            extended = true;
        } else {
            throw new IllegalArgumentException("SplicedRequestLog writes CustomRequestLog.NCSA_FORMAT or "
                    + "EXTENDED_NCSA_FORMAT only, not " + format);
        }
        // Started and stopped with this log, as they would be if they were the server's own.
        addBean(log);
        addBean(writer);
    }

    /** The request log every request that was not spliced goes to. */
    public RequestLog getRequestLog() {
        return log;
    }

    @Override
    public void log(Request request, Response response) {
        if (!(request.getAttribute(SplicedResponse.ATTRIBUTE) instanceof SplicedResponse spliced)) {
            log.log(request, response);
            return;
        }
        // Jetty may recycle the request once this returns: what the line says of it is read now.
        String before;
        String after;
        try {
            before = requestFields(request);
            after = extended ? headerFields(request) : "";
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "splice4j: cannot log the spliced response to " + request.getHttpURI(), e);
            return;
        }
        spliced.result().whenComplete((ended, refused) -> {
            // Never exceptional while the attribute is set (the servlet removes it if the splicer refuses); then the
            // line would still say that the client got the head, not more.
            long bytes = ended == null ? 0 : spliced.bodyBytesSent(ended);
            write(before + spliced.status() + ' ' + bytes + after);
        });
    }

    /** {@code %{client}a - %u %t "%r" }, as {@code CustomRequestLog} writes them. */
    private String requestFields(Request request) {
        StringBuilder b = new StringBuilder(256);
        append(b, Request.getRemoteAddr(request));
        b.append(" - ");
        Request.AuthenticationState auth = Request.getAuthenticationState(request);
        Principal user = auth == null ? null : auth.getUserPrincipal();
        append(b, user == null ? null : user.getName());
        b.append(" [");
        append(b, dates.format(Request.getTimeStamp(request)));
        b.append("] \"");
        append(b, request.getMethod());
        b.append(' ');
        append(b, request.getHttpURI().getPathQuery());
        b.append(' ');
        append(b, request.getConnectionMetaData().getProtocol());
        return b.append("\" ").toString();
    }

    /** The extended format's {@code  "%{Referer}i" "%{User-Agent}i"}. */
    private static String headerFields(Request request) {
        StringBuilder b = new StringBuilder(128).append(" \"");
        append(b, request.getHeaders().get(HttpHeader.REFERER));
        b.append("\" \"");
        append(b, request.getHeaders().get(HttpHeader.USER_AGENT));
        return b.append('"').toString();
    }

    /** A field, or {@code -} when it is absent or empty (CustomRequestLog's rule). */
    private static void append(StringBuilder b, String field) {
        b.append(field == null || field.isEmpty() ? "-" : field);
    }

    private void write(String line) {
        try {
            writer.write(line);
        } catch (IOException | RuntimeException e) {
            // As CustomRequestLog does: a lost line is reported, and nothing else is affected.
            LOG.log(Level.WARNING, "splice4j: cannot write the request log line " + line, e);
        }
    }
}
