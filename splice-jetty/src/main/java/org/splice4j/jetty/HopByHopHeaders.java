package org.splice4j.jetty;

import java.util.HashSet;
import java.util.Set;

/**
 * The header fields this adapter does not pass on from one hop to the next, in lower case: one set for each of the
 * three places that copy headers between the client's connection and the server's.
 *
 * <p>RFC 9110 §7.6.1 names the fields an intermediary removes before forwarding whether or not {@code Connection}
 * lists them: Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade. All three sets hold the first four,
 * and Trailer (hop-by-hop in RFC 2616 §13.5.1, as "Trailers", and in Jetty's {@code ProxyServlet}); only the spliced
 * response drops Upgrade, since an Upgrade tunnel is made of it. Beyond that the sets differ on purpose, as each one
 * says. The fields a {@code Connection} header lists are left to the callers.
 */
final class HopByHopHeaders {

    /** RFC 9110 §7.6.1's list but Upgrade, and Trailer: what all three sets drop. */
    private static final Set<String> COMMON = Set.of("proxy-connection", "keep-alive", "te", "transfer-encoding",
            "trailer");

    /**
     * Dropped from the client's upgrade request as {@link BackendHandshake} sends it to the server. Upgrade stays:
     * it is what the server is asked to switch to; {@code Connection} is written anew ({@code Connection: Upgrade})
     * and the fields it names are dropped by the caller. Proxy-Authorization holds the client's credentials for this
     * proxy, not for the server (RFC 9110 §11.7.2), and Proxy-Authenticate never belongs in a request. Content-Length
     * stays: an upgrade request with a body is not proxied, so it can only say 0.
     */
    static final Set<String> UPGRADE_REQUEST = with(COMMON, "proxy-authorization", "proxy-authenticate");

    /**
     * Dropped from the server's answer to an upgrade request as {@link SpliceUpgradeHandler} relays it to the client.
     * Connection and Upgrade stay: a 101 names the protocol switched to in Upgrade, which Connection must list (RFC
     * 9110 §7.8). Proxy-Authenticate is a challenge for this proxy, the next client on the response chain (RFC 9110
     * §11.7.1), not for the client. Content-Length is Jetty's to write for the body it relays (none after a 101, up
     * to 64 KiB with a refusal).
     */
    static final Set<String> UPGRADE_RESPONSE = with(COMMON, "proxy-authenticate", "content-length");

    /**
     * Left out of the head {@link SpliceProxyServlet} writes itself for a spliced response, from the headers
     * {@code ProxyServlet} already copied (and filtered with its own hop-by-hop list, which also removes
     * Proxy-Authenticate) onto the servlet's response: Upgrade, since a 200 or 206 switches no protocol, and
     * Connection and Content-Length, since the servlet writes its own ({@code Connection: close} and the server's
     * length).
     */
    static final Set<String> SPLICED_RESPONSE_HEAD = with(COMMON, "connection", "upgrade", "content-length");

    private HopByHopHeaders() {
    }

    private static Set<String> with(Set<String> common, String... more) {
        Set<String> all = new HashSet<>(common);
        all.addAll(Set.of(more));
        return Set.copyOf(all);
    }
}
