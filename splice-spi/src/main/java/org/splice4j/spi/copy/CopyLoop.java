package org.splice4j.spi.copy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayDeque;
import java.util.Iterator;

import org.splice4j.spi.support.RelayLoop;

/**
 * A selector thread of the copy provider, with a small pool of direct buffers so that idle sessions hold none.
 */
final class CopyLoop extends RelayLoop {

    /** Buffers kept for reuse; beyond this, returned buffers are left to the GC. */
    private static final int POOLED_BUFFERS = 16;

    private final Selector selector;
    private final int bufferSize;
    private final ArrayDeque<ByteBuffer> buffers = new ArrayDeque<>();

    CopyLoop(String name, int bufferSize) throws IOException {
        super(name);
        this.selector = Selector.open();
        this.bufferSize = bufferSize;
        startThread();
    }

    Selector selector() {
        return selector;
    }

    /** Loop thread. */
    ByteBuffer acquireBuffer() {
        ByteBuffer b = buffers.pollFirst();
        if (b == null) {
            b = ByteBuffer.allocateDirect(bufferSize);
        }
        b.clear();
        return b;
    }

    /** Loop thread. */
    void releaseBuffer(ByteBuffer b) {
        if (b.isDirect() && b.capacity() == bufferSize && buffers.size() < POOLED_BUFFERS) {
            buffers.addFirst(b);
        }
    }

    @Override
    protected void poll(long timeoutMillis) throws IOException {
        int n = timeoutMillis < 0 ? selector.select() : timeoutMillis == 0 ? selector.selectNow()
                : selector.select(timeoutMillis);
        if (n == 0) {
            return;
        }
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            if (!key.isValid()) {
                continue;
            }
            ((CopySession.Side) key.attachment()).onReady(key.readyOps());
        }
    }

    @Override
    protected void wakeup() {
        selector.wakeup();
    }

    @Override
    protected void closeResources() {
        buffers.clear();
        try {
            selector.close();
        } catch (IOException e) {
            logUnexpected(e);
        }
    }
}
