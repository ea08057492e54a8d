package org.splice4j.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import org.splice4j.spi.support.RelayLoop;

/**
 * A relay thread of the Linux provider: its own level-triggered epoll set, woken by an eventfd. It knows nothing of
 * splice or sessions: it maps registrations to {@link Handler}s and calls them with the ready events.
 *
 * <p>A registration is a slot number carried in {@code epoll_data}, so dispatch allocates nothing. A slot freed while
 * a batch of events is being handled is reused only after the batch, so a stale event can never reach a new owner.
 */
final class EpollLoop extends RelayLoop {

    /** Gets the ready events of one registered descriptor. */
    interface Handler {
        /** Loop thread. */
        void onEvents(int events);
    }

    private static final long WAKEUP_TOKEN = -1L;
    private static final int MAX_EVENTS = 256;

    private final int epfd;
    private final int eventFd;
    private final EpollEvents events = new EpollEvents(MAX_EVENTS);
    /** 8 bytes holding 1, written by foreign threads to wake the loop (concurrent writers write the same value). */
    private final Memory one = new Memory(8);
    private final Memory drain = new Memory(8);
    /**
     * One copy buffer for every session of this loop: a direction that copies reads into it and writes it out at
     * once, on this thread, so it holds nothing between wake-ups (what the destination did not take moves to a
     * buffer of the direction's own).
     */
    private final Memory scratch = new Memory(SCRATCH_SIZE);
    private final long scratchAddress = Pointer.nativeValue(scratch);
    static final int SCRATCH_SIZE = 64 * 1024;

    private Handler[] handlers = new Handler[64];
    private int[] freeSlots = new int[64];
    private int freeCount;
    private int nextSlot;
    private int[] releasedInBatch = new int[16];
    private int releasedCount;
    private boolean inBatch;
    private boolean closed;

    EpollLoop(String name) {
        super(name);
        // epfd and eventFd are this loop's own; closed in closeResources().
        epfd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (epfd < 0) {
            throw new UncheckedIOException(Errno.exception("epoll_create1", Errno.last()));
        }
        eventFd = LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (eventFd < 0) {
            int errno = Errno.last();
            LibC.close(epfd);
            throw new UncheckedIOException(Errno.exception("eventfd", errno));
        }
        one.setLong(0, 1L);
        if (LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_ADD, eventFd, events.ctl(LibC.EPOLLIN, WAKEUP_TOKEN)) < 0) {
            int errno = Errno.last();
            LibC.close(eventFd);
            LibC.close(epfd);
            throw new UncheckedIOException(Errno.exception("epoll_ctl", errno));
        }
        startThread();
    }

    /** Loop thread only: the native address of the loop's copy buffer of {@link #SCRATCH_SIZE} bytes. */
    long scratchAddress() {
        assert mayTouchSessions();
        return scratchAddress;
    }

    /** Loop thread: a new slot for {@code handler}, not yet in epoll. */
    int newSlot(Handler handler) {
        assert mayTouchSessions();
        int slot;
        if (freeCount > 0) {
            slot = freeSlots[--freeCount];
        } else {
            if (nextSlot == handlers.length) {
                handlers = Arrays.copyOf(handlers, handlers.length * 2);
            }
            slot = nextSlot++;
        }
        handlers[slot] = handler;
        return slot;
    }

    /** Loop thread: frees a slot whose descriptor is no longer in epoll. */
    void freeSlot(int slot) {
        assert mayTouchSessions();
        handlers[slot] = null;
        if (inBatch) {
            if (releasedCount == releasedInBatch.length) {
                releasedInBatch = Arrays.copyOf(releasedInBatch, releasedCount * 2);
            }
            releasedInBatch[releasedCount++] = slot;
        } else {
            pushFree(slot);
        }
    }

    private void pushFree(int slot) {
        if (freeCount == freeSlots.length) {
            freeSlots = Arrays.copyOf(freeSlots, freeCount * 2);
        }
        freeSlots[freeCount++] = slot;
    }

    /**
     * Loop thread: adds or changes a descriptor's registration. An empty interest keeps the descriptor in the set:
     * epoll then reports only EPOLLERR and EPOLLHUP, which is how a reset of a half-closed, silent peer is noticed.
     *
     * @param registered whether {@code fd} is in the epoll set now
     * @return the errno, or 0 on success
     */
    int ctl(int fd, int slot, boolean registered, int interest) {
        assert mayTouchSessions();
        int op = registered ? LibC.EPOLL_CTL_MOD : LibC.EPOLL_CTL_ADD;
        if (LibC.epoll_ctl(epfd, op, fd, events.ctl(interest, slot)) < 0) {
            return Errno.last();
        }
        return 0;
    }

    /** Loop thread: takes a descriptor out of the epoll set (before its owner closes it). Returns the errno or 0. */
    int remove(int fd) {
        assert mayTouchSessions();
        if (LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_DEL, fd, events.ctl(0, 0)) < 0) {
            return Errno.last();
        }
        return 0;
    }

    @Override
    protected void poll(long timeoutMillis) throws IOException {
        int timeout = timeoutMillis > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) timeoutMillis;
        int n = LibC.epoll_wait(epfd, events.array(), events.capacity(), timeout);
        if (n < 0) {
            int errno = Errno.last();
            if (errno == Errno.EINTR) {
                return;
            }
            throw Errno.exception("epoll_wait", errno);
        }
        inBatch = true;
        try {
            for (int i = 0; i < n; i++) {
                long data = events.data(i);
                if (data == WAKEUP_TOKEN) {
                    LibC.read(eventFd, Pointer.nativeValue(drain), 8); // reset the counter; tasks run at the top of the loop
                    continue;
                }
                Handler h = handlers[(int) data];
                if (h != null) {
                    h.onEvents(events.events(i));
                }
            }
        } finally {
            inBatch = false;
            for (int i = 0; i < releasedCount; i++) {
                pushFree(releasedInBatch[i]);
            }
            releasedCount = 0;
        }
    }

    @Override
    protected void wakeup() {
        // Any thread. Under the lock so that a late wake-up can never write into a closed, reused fd number.
        synchronized (one) {
            if (!closed) {
                LibC.write(eventFd, Pointer.nativeValue(one), 8);
            }
        }
    }

    @Override
    protected void closeResources() {
        // Sessions have removed and closed their own dups by now; these two fds are the loop's.
        synchronized (one) {
            closed = true;
            LibC.close(eventFd);
        }
        LibC.close(epfd);
        events.free();
        scratch.close();
    }
}
