"""Closing file descriptors whose close is slow, in a process of their own.

Closing a perf event on a tracepoint or a uprobe waits for the kernel: the
last user of a tracepoint unregisters it and waits for two grace periods
(``tracepoint_synchronize_unregister``), ~45 ms, under the global
``event_mutex``, so closes run one after the other whatever the number of
threads (360 syscall tracepoints: 13 s; 3,000 uprobes: minutes).

Once no program runs on such an event (its BPF link closed), nothing but
that wait is left. ``close_in_background`` hands the fds to a new process
(``pytrace-closer``, in a session of its own so a terminal's Ctrl-C or
hang-up does not reach it) that closes them one by one and exits; ours are
closed at once, which is cheap while another process holds the files.
pytrace returns to the shell, the closer finishes the kernel's part. If
the closer is killed, the kernel closes what it held as it exits: nothing
outlives it either way.
"""
from __future__ import annotations

import os
import subprocess
import sys

#: the closer's name (``comm``, and its first argument), for ps and tests
CLOSER_NAME = "pytrace-closer"

#: closers started and not yet reaped
_children: list = []

#: the closer itself: name itself, then close every fd it was given
_CLOSER = (
    "import os, sys\n"
    "try:\n"
    "    with open('/proc/self/comm', 'w') as f: f.write(sys.argv[1])\n"
    "except OSError: pass\n"
    "for fd in sys.argv[2:]:\n"
    "    try: os.close(int(fd))\n"
    "    except OSError: pass\n"
)


def close_in_background(fds: list[int]) -> int | None:
    """Close ``fds`` here at once, their release in the kernel left to a
    ``pytrace-closer`` process. Returns the closer's pid, or None when it
    could not be started (then the fds were closed here, the slow way)."""
    fds = sorted(set(fd for fd in fds if fd >= 0))
    if not fds:
        return None
    pid = None
    try:
        # -I -S: no site-packages, no .pth files: the closer starts in ~10 ms
        p = subprocess.Popen([sys.executable or "python3", "-I", "-S", "-c", _CLOSER,
                              CLOSER_NAME, *map(str, fds)],
                             pass_fds=fds, close_fds=True, start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        pid = p.pid
        # nobody waits for it: it outlives a one-shot run (and is reparented);
        # a long-lived process (the REPL) reaps the ones done on the next call
        _children[:] = [c for c in _children if c.poll() is None] + [p]
    except (OSError, ValueError, subprocess.SubprocessError):
        pid = None
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    return pid
