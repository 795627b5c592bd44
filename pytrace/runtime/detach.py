"""Taking probes away fast: stop their programs at once, close the rest later.

A tracepoint's or uprobe's perf event takes two grace periods to close
(~45 ms each, one after the other under a global lock: 17 s for a wildcard
over the syscalls' entries, minutes for thousands of uprobes). A BPF link
takes a grace period too, but links close side by side. So tear-down is:
``stop_now`` (disable every perf event, close every link, in parallel: no
program runs any more), then ``hand_off`` (the perf events left, inert now,
go to a ``pytrace-closer`` process, ``kernel.closer``, that closes them
after we have returned), then whatever is left closes here. The
interactive session stops programs with ``stop_now`` and hands its fds to
a ``BackgroundCloser`` thread, so ``.detach`` returns at once.
"""
from __future__ import annotations

import os
from contextlib import ExitStack

#: threads closing links side by side: each close waits for a grace period,
#: which concurrent closes share (360 links: 0.45 s with 32, 0.17 s with 128)
STOP_THREADS = 256
#: a thread's stack while closing (it only makes a system call)
_STACK = 256 * 1024
#: from how many inert perf events on they go to a closer process (fewer
#: close here: each costs ~45 ms, starting the closer ~10 ms)
HAND_OFF_AT = 4


def stop_now(attachments: list) -> None:
    """Stop the programs of ``attachments`` from running, at once.

    Disabling a perf event stops a timer's program, but not a program on a
    tracepoint's or kprobe's perf event: the program hangs off the
    tracepoint, which runs it whether the event is enabled or not. Closing
    the BPF link detaches it. Each link close waits for a grace period
    without holding a global lock, so they run side by side (360 links:
    0.17 s instead of 13). Without a link (PERF_EVENT_IOC_SET_BPF, before
    5.15) only closing the perf event detaches the program, so that is done
    here too (the slow way: those closes are serialised by the kernel). The
    perf events of links stay open, inert, for ``hand_off``."""
    for a in attachments:
        if a.perf_fd >= 0:
            a.disable()
    todo = [a for a in attachments if not a.closed]
    if not todo:
        return

    def stop(a) -> None:
        if a.link_fd >= 0:
            fd, a.link_fd = a.link_fd, -1
            os.close(fd)
        else:
            a.close()

    if len(todo) == 1:
        stop(todo[0])
        return
    import threading
    from concurrent.futures import ThreadPoolExecutor
    old = threading.stack_size(_STACK)
    try:
        with ThreadPoolExecutor(min(STOP_THREADS, len(todo))) as pool:
            list(pool.map(stop, todo))
    finally:
        threading.stack_size(old)


def hand_off(attachments: list) -> int | None:
    """Give the perf events of stopped ``attachments`` (no link, no program
    on them any more) to a closer process, when there are enough to be
    worth it; returns its pid (None: none started)."""
    inert = [a for a in attachments if a.link_fd < 0 and a.perf_fd >= 0]
    if len(inert) < HAND_OFF_AT:
        return None
    from ..kernel.closer import close_in_background
    fds = []
    for a in inert:
        fds.append(a.perf_fd)
        a.perf_fd = -1
    return close_in_background(fds)


def tear_down(attachments: list) -> None:
    """Take every attachment away, fast: stop them all, hand the slow
    closes to a closer process, close what is left."""
    if not attachments:     # a BEGIN-only script: kernel.attach is never loaded
        return
    from ..kernel.attach import close_all
    try:
        stop_now(attachments)
        hand_off(attachments)
    finally:
        close_all(attachments)


class BackgroundCloser:
    """Closes ExitStacks in a thread of its own, one after the other;
    ``wait()`` returns once every one handed over is closed."""

    def __init__(self):
        self._queue = None
        self._thread = None

    def close_later(self, stack: ExitStack) -> None:
        if self._thread is None:
            import queue
            import threading
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="pytrace-closer",
                                            daemon=True)
            self._thread.start()
        self._queue.put(stack)

    def _run(self) -> None:
        while True:
            stack = self._queue.get()
            if stack is None:
                return
            try:
                stack.close()
            except OSError:
                pass

    def wait(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
