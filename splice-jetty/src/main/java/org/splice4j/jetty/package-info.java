/**
 * The Jetty adapter: {@code SpliceConnectHandler}, Upgrade tunnels and {@code SpliceProxyServlet}.
 * Its classes arrive with the Jetty adapter issue; until then this module holds only its coordinates.
 */
package org.splice4j.jetty;
