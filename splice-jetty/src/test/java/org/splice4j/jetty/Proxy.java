package org.splice4j.jetty;

import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** A Jetty server on a loopback port with the handler under test. */
final class Proxy implements AutoCloseable {

    final Server server;
    final ServerConnector connector;

    private Proxy(Server server, ServerConnector connector) {
        this.server = server;
        this.connector = connector;
    }

    static Proxy start(Handler handler) throws Exception {
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        server.addConnector(connector);
        server.setHandler(handler);
        server.start();
        return new Proxy(server, connector);
    }

    int port() {
        return connector.getLocalPort();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
