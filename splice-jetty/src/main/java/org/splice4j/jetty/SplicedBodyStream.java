package org.splice4j.jetty;

import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

import org.splice4j.spi.SpliceOptions;
import org.splice4j.spi.SpliceResult;
import org.splice4j.spi.SpliceSession;
import org.splice4j.spi.Splicer;

/**
 * The body of one response spliced on a kept-alive HTTP/1.1 client connection, while Jetty writes the head and
 * completes the response itself: an {@link HttpStream.Wrapper} under Jetty's response for that one request.
 *
 * <p>Jetty 12.1 has no public way to say that someone else wrote a response's body (the nearest work, pull request
 * 15759, adds it to the servlet layer only). What it has is the stream wrapper, under every count and check Jetty
 * makes. So the response goes through Jetty as if it were sent: the head, with Jetty's {@code Date} and
 * {@code Server} headers and its keep-alive decision, passes this stream with no content; the body is spliced from
 * the server's socket to the client's, exactly Content-Length bytes and not one past them (a bounded session, which
 * reads nothing from the client); then the caller writes Content-Length placeholder bytes through the servlet's
 * output ({@link #writePlaceholders}), which this stream swallows (they never reach the socket) and completes with an
 * empty last write. Jetty's content-length checks, its byte counts ({@code Response.getContentBytesWritten}, the
 * {@code %O} of {@code CustomRequestLog}; the servlet output's own count), its request log and the connection's
 * message count then see the response they would have seen unspliced, and the connection serves its next request.
 *
 * <p>States, in order: {@code HEAD} (the next send is the head alone: passed on without content), {@code SPLICING}
 * (no send may reach the socket: failed), then {@code WRITTEN} (the body is in the client's socket: sends are
 * swallowed, the last passed on empty) or {@code FAILED} (the body ended early: the client's connection is closed,
 * every send fails). {@code PASS_THROUGH} when the splicer refused the body: everything goes to the wrapped stream,
 * so the stock path can go on.
 *
 * <p>Thread: {@link #send} on whichever thread writes the response (serialized by Jetty); {@link #splice} on the
 * caller's; the session's end on the splicer's notifier thread.
 */
final class SplicedBodyStream extends HttpStream.Wrapper {

    private static final System.Logger LOG = System.getLogger(SplicedBodyStream.class.getName());

    /** What {@link #writePlaceholders} writes: zeros nobody reads, as this stream never passes them on. */
    private static final byte[] PLACEHOLDER = new byte[64 * 1024];

    private enum State { HEAD, SPLICING, WRITTEN, FAILED, PASS_THROUGH }

    private final AtomicReference<State> state = new AtomicReference<>(State.HEAD);
    /** The body's length, which the head must announce as its Content-Length (and nothing else: no chunking). */
    private final long contentLength;
    private volatile boolean headSent;
    private volatile Throwable failure;

    private SplicedBodyStream(HttpStream wrapped, long contentLength) {
        super(wrapped);
        this.contentLength = contentLength;
    }

    /**
     * Puts a body stream under {@code request}'s response, before it is committed, for a body of
     * {@code contentLength} bytes.
     *
     * @return the stream, or null if Jetty refused the wrapper (the caller splices the closing way, or not at all)
     */
    static SplicedBodyStream install(Request request, long contentLength) {
        AtomicReference<SplicedBodyStream> made = new AtomicReference<>();
        try {
            request.addHttpStreamWrapper(wrapped -> {
                SplicedBodyStream s = new SplicedBodyStream(wrapped, contentLength);
                made.set(s);
                return s;
            });
        } catch (RuntimeException refused) {
            LOG.log(Level.DEBUG, "splice4j: no stream wrapper on {0}: {1}", request, refused.toString());
            return null;
        }
        return made.get();
    }

    /** Whether Jetty wrote the response head through this stream, and it left: the body may be spliced. */
    boolean headSent() {
        return headSent;
    }

    /** From now on every send goes to the wrapped stream unchanged: the body goes the stock way. */
    void passThrough() {
        state.set(State.PASS_THROUGH);
    }

    @Override
    public void send(MetaData.Request request, MetaData.Response response, boolean last, ByteBuffer content,
                     Callback callback) {
        switch (state.get()) {
            case HEAD -> {
                if (response == null || last || BufferUtil.hasContent(content) || !announcesLength(response)) {
                    // Not the head alone (someone wrote content), or not one that frames the body by its
                    // Content-Length: not a response this stream may take over. The caller sees !headSent().
                    state.set(State.PASS_THROUGH);
                    super.send(request, response, last, content, callback);
                    return;
                }
                super.send(request, response, false, BufferUtil.EMPTY_BUFFER, Callback.from(() -> {
                    headSent = true;
                    callback.succeeded();
                }, callback::failed));
            }
            case SPLICING -> {
                // Nothing may reach the client's socket while the splicer writes to it.
                consume(content);
                callback.failed(new IOException("the response body is being spliced"));
            }
            case WRITTEN -> {
                // Placeholders for the bytes the splicer wrote: swallowed; the last one ends the response, empty.
                consume(content);
                if (last) {
                    super.send(request, response, true, BufferUtil.EMPTY_BUFFER, callback);
                } else {
                    callback.succeeded();
                }
            }
            case FAILED -> {
                consume(content);
                callback.failed(failure);
            }
            case PASS_THROUGH -> super.send(request, response, last, content, callback);
        }
    }

    /** Whether Jetty will frame the body by exactly {@link #contentLength} bytes, as they come from the server. */
    private boolean announcesLength(MetaData.Response response) {
        HttpFields fields = response.getHttpFields();
        return fields != null && fields.getLongField(HttpHeader.CONTENT_LENGTH) == contentLength
                && !fields.contains(HttpHeader.TRANSFER_ENCODING) && !fields.contains(HttpHeader.CONTENT_ENCODING)
                && (response.getStatus() == 200 || response.getStatus() == 206);
    }

    /** As if written: the writer may check that its buffer was taken. */
    private static void consume(ByteBuffer content) {
        if (content != null) {
            content.position(content.limit());
        }
    }

    /**
     * Splices the body, once {@link #headSent()}: {@code bodyLeft} bytes from the server's socket, after
     * {@code alreadyRead} (body bytes Jetty's client parser had already read from it), to the client's socket. Reads
     * nothing from the client: what it sends meanwhile (a pipelined request) stays for Jetty to read after this
     * response. Jetty's idle timeouts are off on both endpoints meanwhile, the shorter of the two goes to the session,
     * and the client's is given back when the body is through.
     *
     * <p>When the stage completes the client's connection is either ready for {@link #writePlaceholders} (the session
     * ended {@code BOUNDS_REACHED}) or closed, with the server's, through Jetty (the body ended early, a reset, a
     * timeout, a cancel: Jetty must never reuse a connection whose response is short); either way the server's
     * connection is the caller's to close (its client cannot be told the body was read elsewhere).
     *
     * @return the session's result, or null if the splicer refused the sockets: this stream then passes everything
     *         on, and the caller relays the body the stock way
     */
    CompletionStage<SpliceResult> splice(Splicer splicer, EndPoint client, EndPoint server, ByteBuffer alreadyRead,
                                         long bodyLeft) {
        SplicedSockets.Socket c;
        SplicedSockets.Socket s;
        try {
            c = SplicedSockets.Socket.of(client, null);
            s = SplicedSockets.Socket.of(server, alreadyRead);
        } catch (IllegalArgumentException closedMeanwhile) {
            passThrough();
            return null;
        }
        CompletableFuture<SpliceResult> result = new CompletableFuture<>();
        AtomicReference<SpliceSession> session = new AtomicReference<>();
        // Server stop, or any other close of the client's connection by Jetty, ends the session. Removed when it
        // ends: the connection lives on for other requests.
        Connection.Listener closed = new Connection.Listener() {
            @Override
            public void onClosed(Connection connection) {
                SpliceSession running = session.get();
                if (running != null) {
                    running.cancel();
                }
            }
        };
        state.set(State.SPLICING);
        SpliceOptions options = SpliceOptions.defaults().withLabel(c + "<-" + s + " body").withBounds(0, bodyLeft);
        long idle = Math.min(c.suspendIdleTimeout(), s.suspendIdleTimeout());
        if (idle != Long.MAX_VALUE) {
            options = options.withIdleTimeout(Duration.ofMillis(idle));
        }
        client.getConnection().addEventListener(closed);
        SpliceSession started;
        try {
            started = splicer.splice(c.endpoint(), s.endpoint(), options);
        } catch (Throwable refused) {
            // As SplicedSockets.start: anything thrown, an Error too, is a refusal, and Jetty gets its sockets back.
            client.getConnection().removeEventListener(closed);
            c.restoreIdleTimeout();
            s.restoreIdleTimeout();
            passThrough();
            LOG.log(refused instanceof RuntimeException ? Level.DEBUG : Level.WARNING,
                    "splice4j: relaying " + options.label() + " the stock way: " + refused, refused);
            return null;
        }
        session.set(started);
        if (!client.isOpen()) {
            started.cancel(); // closed by Jetty while the session was being made
        }
        started.completion().whenComplete((r, never) -> {
            client.getConnection().removeEventListener(closed);
            if (r.outcome() == SpliceResult.Outcome.BOUNDS_REACHED) {
                c.restoreIdleTimeout();
                s.restoreIdleTimeout();
                state.set(State.WRITTEN);
            } else {
                Throwable cause = r.cause().orElseGet(() -> new EOFException("spliced body ended: " + r));
                failure = cause;
                state.set(State.FAILED);
                boolean abortive = r.outcome() == SpliceResult.Outcome.RESET;
                // Never reused: the client got fewer bytes than the Content-Length Jetty sent.
                c.close(abortive, cause);
                s.close(abortive, cause);
            }
            LOG.log(Level.DEBUG, "splice4j: body {0} ended: {1}", started.label(), r);
            result.complete(r);
        });
        return result;
    }

    /**
     * After a {@code BOUNDS_REACHED} splice, on a thread that may block: writes {@code contentLength} placeholder
     * bytes to the servlet's {@code out}, which this stream swallows, so that every count above it (the servlet
     * output's, the core response's) reaches the Content-Length and the output, reaching it, ends the response.
     * None of it is copied to the socket; each write completes at once.
     */
    static void writePlaceholders(OutputStream out, long contentLength) throws IOException {
        for (long left = contentLength; left > 0; ) {
            int n = (int) Math.min(left, PLACEHOLDER.length);
            out.write(PLACEHOLDER, 0, n);
            left -= n;
        }
    }
}
