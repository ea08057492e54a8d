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
    private final ArrayDeque<Runnable> afterFlush = new ArrayDeque<>();
    private boolean dispatching;

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
        assert mayTouchSessions();
        if (FaultInjection.failBufferAllocation) {
            throw new OutOfMemoryError("Direct buffer memory (injected)"); // tests only
        }
        ByteBuffer b = buffers.pollFirst();
        if (b == null) {
            b = ByteBuffer.allocateDirect(bufferSize);
        }
        b.clear();
        return b;
    }

    /** Loop thread. */
    void releaseBuffer(ByteBuffer b) {
        assert mayTouchSessions();
        if (b.isDirect() && b.capacity() == bufferSize && buffers.size() < POOLED_BUFFERS) {
            buffers.addFirst(b);
        }
    }

    @Override
    protected void poll(long timeoutMillis) throws IOException {
        if (!selector.selectedKeys().isEmpty()) {
            selector.selectNow(); // keys selected by a flush are still waiting: do not sleep past them
        } else if (timeoutMillis < 0) {
            selector.select();
        } else if (timeoutMillis == 0) {
            selector.selectNow();
        } else {
            selector.select(timeoutMillis);
        }
        dispatching = true;
        try {
            Iterator<SelectionKey> it = selector.selectedKeys().iterator();
            while (it.hasNext()) {
                SelectionKey key = it.next();
                it.remove();
                if (key.isValid()) {
                    ((CopySession.WatchedChannel) key.attachment()).onReady(key.readyOps());
                }
            }
        } finally {
            dispatching = false;
        }
        if (!afterFlush.isEmpty()) {
            flush();
        }
    }

    /**
     * Loop thread: runs {@code end} once the keys a session cancelled are really deregistered. Until the selector's
     * next select, a cancelled key keeps its channel registered (and an owner's close() deferred), so a session is
     * not over before that.
     */
    void afterDeregistration(Runnable end) {
        assert mayTouchSessions();
        afterFlush.add(end);
        if (!dispatching) {
            flush();
        }
    }

    private void flush() {
        try {
            if (selector.isOpen()) {
                selector.selectNow(); // deregisters cancelled keys; keys it selects are dispatched by the next poll
            }
        } catch (IOException | RuntimeException e) {
            logUnexpected(e);
        } finally {
            Runnable r;
            while ((r = afterFlush.pollFirst()) != null) {
                r.run();
            }
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
