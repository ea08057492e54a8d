package org.splice4j.samples;

import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;

/** Remembers every buffer it hands out, so a test can check afterwards that each one was released. */
final class CountingAllocator extends AbstractByteBufAllocator {

    private final List<ByteBuf> allocated = new ArrayList<>();

    CountingAllocator() {
        super(false); // heap buffers, unpooled, and no sampling leak detector: the check below is exact
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return remember(new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return remember(new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    private ByteBuf remember(ByteBuf b) {
        allocated.add(b);
        return b;
    }

    /** How many buffers are still referenced. */
    long unreleased() {
        return allocated.stream().filter(b -> b.refCnt() > 0).count();
    }

    int allocated() {
        return allocated.size();
    }
}
