package org.splice4j.jetty;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.ssl.SslContextFactory;

import org.splice4j.spi.contract.Streams;

/**
 * The origin server behind the proxy, on loopback, over HTTP and HTTPS. {@code GET /stream?size=N&seed=S} answers
 * the seeded stream of {@link Streams} with a Content-Length (and the status {@code &status=C}, 200 by default);
 * {@code POST /digest} answers "bytes sha256" of the request body.
 */
final class Backend implements AutoCloseable {

    final Server server;
    final ServerConnector http;
    final ServerConnector https;

    private Backend(Server server, ServerConnector http, ServerConnector https) {
        this.server = server;
        this.http = http;
        this.https = https;
    }

    static Backend start() throws Exception {
        Server server = new Server();
        ServerConnector http = new ServerConnector(server);
        http.setHost("127.0.0.1");
        ServerConnector https = new ServerConnector(server, serverTls());
        https.setHost("127.0.0.1");
        server.addConnector(http);
        server.addConnector(https);
        server.setHandler(new StreamHandler());
        server.start();
        return new Backend(server, http, https);
    }

    static SslContextFactory.Server serverTls() {
        SslContextFactory.Server tls = new SslContextFactory.Server();
        tls.setKeyStorePath(Backend.class.getResource("/test-keystore.p12").toExternalForm());
        tls.setKeyStorePassword("storepwd");
        tls.setKeyStoreType("PKCS12");
        return tls;
    }

    static SslContextFactory.Client clientTls() {
        return new SslContextFactory.Client(true); // trusts the self-signed test certificate
    }

    String httpUri() {
        return "http://127.0.0.1:" + http.getLocalPort();
    }

    String httpsUri() {
        return "https://127.0.0.1:" + https.getLocalPort();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }

    static final class StreamHandler extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            String path = Request.getPathInContext(request);
            if (path.equals("/stream")) {
                Fields q = Request.extractQueryParameters(request);
                long size = Long.parseLong(q.getValue("size"));
                long seed = Long.parseLong(q.get("seed") != null ? q.getValue("seed") : "1");
                if (q.get("status") != null) {
                    response.setStatus(Integer.parseInt(q.getValue("status")));
                }
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, size);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/octet-stream");
                try (InputStream in = Streams.inputStream(seed, size);
                     OutputStream out = Content.Sink.asOutputStream(response)) {
                    in.transferTo(out);
                }
                callback.succeeded();
                return true;
            }
            if (path.equals("/digest")) {
                Streams.Received r = Streams.readToEnd(Content.Source.asInputStream(request));
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain");
                Content.Sink.write(response, true, r.bytes() + " " + r.sha256(), callback);
                return true;
            }
            if (path.equals("/via")) {
                String via = request.getHeaders().get(HttpHeader.VIA);
                Content.Sink.write(response, true, via == null ? "" : via, callback);
                return true;
            }
            if (path.equals("/hello")) {
                Content.Sink.write(response, true, "hello", callback);
                return true;
            }
            return false;
        }
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
