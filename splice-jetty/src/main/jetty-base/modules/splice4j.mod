# The splice4j module for jetty-home 12.1 (ee10): see the splice4j README, section "Jetty".

[description]
Forward HTTP proxy (ee10) whose CONNECT and Upgrade tunnels the kernel relays with splice(2): splice4j.
Splicing needs the system property splice4j.enabled=true and Linux; otherwise everything behaves like the stock
ee10-proxy module (Upgrade tunnels, which stock ProxyServlet lacks, are then relayed by copying).
This module takes the place of ee10-proxy (enable one of the two): it reads the same jetty.proxy.* properties, but
installs org.splice4j.jetty.SpliceConnectHandler instead of the ConnectHandler ee10-proxy hard-codes, puts
org.splice4j.jetty.SpliceUpgradeHandler in front of the proxy context, and makes
org.splice4j.jetty.SpliceProxyServlet the default proxy servlet.
Its [exec] section adds JVM flags, so start.jar runs Jetty in a forked JVM.

[tags]
proxy
splice4j

[environment]
ee10

[depend]
client
ee10-servlet
# ServletContextHandler needs jetty-security, which ee10-servlet does not pull in (jetty-home 12.1.12:
# "--add-modules=http,ee10-proxy" alone fails with NoClassDefFoundError: org/eclipse/jetty/security/SecurityHandler).
security

[provides]
ee10-proxy

[lib]
lib/jetty-ee10-proxy-${jetty.version}.jar
# splice-jetty, splice-spi, splice-linux and jna (all four in one class loader: splice-spi finds the linux provider
# with ServiceLoader on its own loader). Replace them on upgrade: old versions left here would stay on the path.
lib/splice4j/*.jar

[files]
lib/
lib/splice4j/

[xml]
etc/splice4j.xml

[exec]
# The linux provider reads socket descriptors from java.nio channels (sun.nio.ch) and calls libc through JNA.
# --enable-native-access only silences the restricted-method warnings of JDK 22+; JDK 17 accepts it too.
--add-exports=java.base/sun.nio.ch=ALL-UNNAMED
--enable-native-access=ALL-UNNAMED

[ini-template]
# tag::documentation[]
## Splicing is off unless this system property is true (Linux; see the splice4j README for the other
## splice4j.* properties: provider, threads, pipeSize, maxPipes, idleTimeout).
# -Dsplice4j.enabled=true
# -Dsplice4j.pipeSize=1m

## The proxy Servlet class: a forward proxy by default. For a reverse proxy use
## org.eclipse.jetty.ee10.proxy.ProxyServlet$Transparent and set jetty.proxy.proxyTo.
# jetty.proxy.servletClass=org.splice4j.jetty.SpliceProxyServlet

## The proxy contextPath.
# jetty.proxy.contextPath=/

## The proxy Servlet mapping.
# jetty.proxy.servletMapping=/*

## The target URI to proxy to (ProxyServlet$Transparent only), for example http://backend:9090/path.
# jetty.proxy.proxyTo=

## The prefix of the URI path in context to strip from the incoming URI (ProxyServlet$Transparent only).
# jetty.proxy.prefix=

## CONNECT and Upgrade tunnels: timeout to connect to the destination, and idle timeout of a tunnel (for a
## spliced tunnel, the idle timeout of the whole session), in milliseconds.
# jetty.proxy.tunnel.connectTimeout=15000
# jetty.proxy.tunnel.idleTimeout=30000
## Upgrade tunnels: deadline for the whole handshake with the server (connect, then its response head), in ms.
# jetty.proxy.tunnel.handshakeTimeout=15000

## The proxy HttpClient max number of threads.
# jetty.proxy.maxThreads=128

## The proxy HttpClient max number of connections.
# jetty.proxy.maxConnections=256

## The proxy HttpClient idle timeout.
# jetty.proxy.idleTimeout=30000

## The proxy HttpClient total request timeout.
# jetty.proxy.timeout=60000

## The proxy HttpClient request buffer size.
# jetty.proxy.requestBufferSize=4096

## The proxy HttpClient response buffer size.
# jetty.proxy.responseBufferSize=16384

## The proxy HttpClient max request headers size.
# jetty.proxy.maxRequestHeadersSize=8192

## The proxy HttpClient max response headers size.
# jetty.proxy.maxResponseHeadersSize=8192

## The proxy HttpClient number of selectors.
# jetty.proxy.selectors=1
# end::documentation[]
