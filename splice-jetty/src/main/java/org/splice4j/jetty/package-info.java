/**
 * The Jetty 12.1 adapter.
 *
 * <ul>
 *   <li>{@link org.splice4j.jetty.SpliceConnectHandler}: a drop-in {@code ConnectHandler} whose CONNECT tunnels the
 *   kernel relays once the 200 is sent;</li>
 *   <li>{@link org.splice4j.jetty.SpliceUpgradeHandler}: HTTP/1.1 Upgrade (WebSocket over {@code ws://}) tunnels
 *   through a forward proxy, which stock {@code ProxyServlet} does not offer;</li>
 *   <li>{@link org.splice4j.jetty.SpliceProxyServlet} (and its {@code Transparent} reverse-proxy form): large
 *   pass-through response bodies spliced on kept-alive client connections (the one class that needs Jetty's ee10
 *   {@code ProxyServlet}, an optional dependency);</li>
 *   <li>{@link org.splice4j.jetty.SplicedRequestLog}: the server's request log, wrapped, so that the responses the
 *   servlet spliced the closing way (its fallback) are logged with their real status and byte count.</li>
 * </ul>
 *
 * Each splices only when {@code splice4j.enabled=true} and a provider is available, and only sockets that carry
 * opaque bytes: cleartext TCP on both sides. Everything else takes the stock path.
 */
package org.splice4j.jetty;
