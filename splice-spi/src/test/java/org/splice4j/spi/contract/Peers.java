package org.splice4j.spi.contract;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** Threads for the blocking peers of a test (clients, servers): daemons, so a stuck peer never holds the JVM. */
public final class Peers {

    private Peers() {
    }

    public static ExecutorService newPool(String name) {
        return Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }
}
