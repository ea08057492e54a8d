package org.splice4j.samples;

import java.time.Duration;

/**
 * What bounds a proxy sample against slow, silent or too many clients: a deadline for the whole handshake (socks5:
 * greeting to the relay's start, name resolution and connect included; forward: the connect; jetty-proxy: Jetty's
 * connector idle timeout, which a client trickling its request head resets, plus the tunnel's connect and the
 * Upgrade handshake), an idle timeout for running tunnels (no byte either way;
 * a sink that stops reading holds a full pipe until then), and a cap on open client connections (above it a new one
 * is closed at accept and counted). A zero duration means none.
 */
record Limits(Duration handshakeTimeout, Duration idleTimeout, int maxConnections) {

    /** 10 s for the handshake, 10 minutes idle, 4,096 connections: safe for a proxy on the open internet. */
    static final Limits DEFAULTS = new Limits(Duration.ofSeconds(10), Duration.ofMinutes(10), 4096);
}
