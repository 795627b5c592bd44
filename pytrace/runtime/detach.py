"""Taking probes away fast: stop their programs at once, close the rest later.

A tracepoint's perf event takes a grace period to close (~40 ms each, one
after the other: half a minute for a wildcard over every syscall). The
interactive session stops programs with ``stop_now`` and hands the fds that
are left to a ``BackgroundCloser``, so ``.detach`` returns at once.
"""
from __future__ import annotations

import os
from contextlib import ExitStack


def stop_now(attachments: list) -> None:
    """Stop the programs of ``attachments`` from running, at once.

    Disabling a perf event stops a timer's program, but not a program on a
    tracepoint's or kprobe's perf event: the program hangs off the
    tracepoint, which runs it whether the event is enabled or not. Closing
    the BPF link detaches it. Each link close waits for a grace period
    without holding a global lock, so they run side by side (360 links:
    0.5 s instead of 13). Without a link (PERF_EVENT_IOC_SET_BPF, before
    5.15) only closing the perf event detaches the program, so that is done
    here too. The perf events of links stay open for the caller to close."""
    for a in attachments:
        a.disable()
    if not attachments:
        return

    def stop(a) -> None:
        if a.link_fd >= 0:
            fd, a.link_fd = a.link_fd, -1
            os.close(fd)
        else:
            a.close()

    if len(attachments) == 1:
        stop(attachments[0])
        return
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(min(32, len(attachments))) as pool:
        list(pool.map(stop, attachments))


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
