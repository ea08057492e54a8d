package org.splice4j.samples;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Where the http-proxy sends a request: the authority of a CONNECT, the host of an absolute-form request (forward
 * proxy; the request is rewritten to origin-form for the origin), or {@code --target} for an origin-form request
 * (reverse proxy). Names are left unresolved: the proxy resolves them off the event loop and checks the address.
 *
 * @param address        where to connect, unresolved unless it is the operator's {@code --target}
 * @param operatorChosen whether it is {@code --target}, which the allow list does not restrict
 */
record RequestTarget(InetSocketAddress address, boolean operatorChosen) {

    /**
     * The destination of {@code req}; rewrites an absolute-form request target to origin-form.
     *
     * @param reverse {@code --target}, or null for a forward proxy only
     * @throws IllegalArgumentException if the request is none this proxy serves (a 400)
     */
    static RequestTarget of(HttpRequest req, InetSocketAddress reverse) {
        String uri = req.uri();
        if (req.method().equals(HttpMethod.CONNECT)) {
            return new RequestTarget(hostPort(uri), false);
        }
        if (uri.startsWith("http://")) {
            URI u;
            try {
                u = new URI(uri);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException(e.getMessage());
            }
            if (u.getHost() == null) {
                throw new IllegalArgumentException("no host: " + uri);
            }
            String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
            req.setUri(u.getRawQuery() == null ? path : path + "?" + u.getRawQuery());
            return new RequestTarget(InetSocketAddress.createUnresolved(u.getHost(),
                    u.getPort() == -1 ? 80 : u.getPort()), false);
        }
        if (reverse != null && uri.startsWith("/")) {
            return new RequestTarget(reverse, true);
        }
        throw new IllegalArgumentException("not a request this proxy serves: " + uri);
    }

    /** Whether {@code req} is an origin-form request (a path, as to an origin server): neither CONNECT nor a URL. */
    static boolean isOriginForm(HttpRequest req) {
        return !req.method().equals(HttpMethod.CONNECT) && req.uri().startsWith("/");
    }

    /** {@code HOST:PORT} or {@code [IPv6]:PORT}, as a CONNECT names its destination. */
    private static InetSocketAddress hostPort(String authority) {
        int colon = authority.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("no port: " + authority);
        }
        String host = authority.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return InetSocketAddress.createUnresolved(host, Integer.parseInt(authority.substring(colon + 1)));
    }
}
