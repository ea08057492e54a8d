package org.splice4j.jetty;

/** Test fixtures' tear-down: closes what was opened, in order, skipping what never was. */
final class Closing {

    private Closing() {
    }

    static void closeAll(AutoCloseable... things) throws Exception {
        for (AutoCloseable t : things) {
            if (t != null) {
                t.close();
            }
        }
    }
}
