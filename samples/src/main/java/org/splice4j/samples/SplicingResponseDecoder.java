package org.splice4j.samples;

import java.util.ArrayDeque;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpUtil;

/**
 * The http-proxy's decoder of backend responses: an {@link HttpResponseDecoder} that stops after the head of a
 * response whose body is to be spliced (a Content-Length at or over the threshold), so that no byte of the body is
 * decoded; the bytes it has already read are taken with {@link #takeBuffered()} for the transfer, and
 * {@link #resume()} puts it back at the start of the next response once the body went by.
 *
 * <p>Like {@code HttpClientCodec}'s decoder it knows the method of each request sent ({@link #sent}), for a HEAD
 * response has no body whatever its Content-Length says. Used on the backend channel's event loop only.
 */
final class SplicingResponseDecoder extends HttpResponseDecoder {

    private final long threshold;
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>();
    private HttpMethod current;
    private boolean paused;

    SplicingResponseDecoder(long threshold) {
        this.threshold = threshold;
    }

    /** A request with this method was sent: its response is the next one after those already awaited. */
    void sent(HttpMethod method) {
        methods.add(method);
    }

    /** Whether the decoder stopped after a response head: its body is to be spliced. */
    boolean paused() {
        return paused;
    }

    /** The bytes read but not decoded (the first of the body, maybe more), for the caller to release. */
    ByteBuf takeBuffered() {
        ByteBuf b = internalBuffer();
        return b.readRetainedSlice(b.readableBytes());
    }

    /** Whether bytes were read but not decoded: past the last response when no response is awaited. */
    boolean holdsBytes() {
        return internalBuffer().isReadable();
    }

    /** After a spliced body: the next bytes are the head of the next response. */
    void resume() {
        paused = false;
        reset(); // applied at the next decode, before any byte of it is parsed
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
        if (paused) {
            return; // the body is the transfer's: its bytes stay buffered, undecoded
        }
        int before = out.size();
        super.decode(ctx, buffer, out);
        for (int i = before; i < out.size(); i++) {
            if (out.get(i) instanceof HttpResponse r && splices(r)) {
                paused = true;
                return;
            }
        }
    }

    private boolean splices(HttpResponse r) {
        int code = r.status().code();
        return !HttpMethod.HEAD.equals(current) && code >= 200 && code != 204 && code != 304
                && !HttpUtil.isTransferEncodingChunked(r) && HttpUtil.getContentLength(r, -1L) >= Math.max(1, threshold)
                && r.decoderResult().isSuccess();
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
        int code = ((HttpResponse) msg).status().code();
        if (code >= 100 && code < 200) {
            return super.isContentAlwaysEmpty(msg); // interim: the final response to the same request follows
        }
        current = methods.poll();
        return HttpMethod.HEAD.equals(current) || super.isContentAlwaysEmpty(msg);
    }
}
