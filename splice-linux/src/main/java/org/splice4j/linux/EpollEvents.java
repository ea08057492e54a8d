package org.splice4j.linux;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import com.sun.jna.Memory;
import com.sun.jna.Platform;

/**
 * An array of {@code struct epoll_event} in native memory, for epoll_wait(2), and one spare event for epoll_ctl(2).
 *
 * <pre>
 * typedef union epoll_data { void *ptr; int fd; uint32_t u32; uint64_t u64; } epoll_data_t;
 * struct epoll_event {
 *     uint32_t     events;   // offset 0
 *     epoll_data_t data;     // offset 4 on x86-64 (glibc declares the struct packed there), 8 elsewhere
 * };                         // 12 bytes on x86-64, 16 elsewhere
 * </pre>
 * Only the loop thread uses an instance.
 */
final class EpollEvents {

    static final int SIZE = Platform.isIntel() ? 12 : 16;
    static final int DATA_OFFSET = Platform.isIntel() ? 4 : 8;

    private final int capacity;
    private final Memory events;
    private final Memory ctlEvent = new Memory(16);
    /**
     * Java views of the same native memory: reading an event through a direct buffer is plain Java (intrinsified),
     * where {@code Memory.getInt} is a native call each time, twice per event, on the latency path.
     */
    private final ByteBuffer eventsView;
    private final ByteBuffer ctlView;

    EpollEvents(int capacity) {
        this.capacity = capacity;
        this.events = new Memory((long) capacity * SIZE);
        this.eventsView = events.getByteBuffer(0, (long) capacity * SIZE).order(ByteOrder.nativeOrder());
        this.ctlView = ctlEvent.getByteBuffer(0, 16).order(ByteOrder.nativeOrder());
    }

    int capacity() {
        return capacity;
    }

    Memory array() {
        return events;
    }

    int events(int i) {
        return eventsView.getInt(i * SIZE);
    }

    long data(int i) {
        return eventsView.getLong(i * SIZE + DATA_OFFSET);
    }

    /** The single event passed to epoll_ctl, filled in. */
    Memory ctl(int interest, long data) {
        ctlView.putInt(0, interest);
        ctlView.putLong(DATA_OFFSET, data);
        return ctlEvent;
    }

    void free() {
        events.close();
        ctlEvent.close();
    }
}
