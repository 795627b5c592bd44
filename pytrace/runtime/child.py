"""The ``-c CMD`` child: started held, released once every probe is attached.

The command line is split like a shell would (shlex) and executed directly,
without a shell, so ``cpid`` is the traced program itself.

The child never outlives pytrace: before exec it asks the kernel for
SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), then checks that the
parent is still the one that forked it (had pytrace died between fork and
prctl, the child would already belong to init and wait for a signal that
never comes). A set-user-ID program clears that request at exec; such a
child is still stopped by ``close`` on any ending pytrace survives.
"""
from __future__ import annotations

import os
import signal

from ..base.diagnostics import UsageError

#: prctl(2) option: the signal a process gets when its parent dies
PR_SET_PDEATHSIG = 1


def _prctl():
    """libc's prctl, looked up before fork (the child only calls it)."""
    import ctypes
    import ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = libc.prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                   ctypes.c_ulong]
    fn.restype = ctypes.c_int
    return fn


class Child:
    def __init__(self, argv: list[str]):
        import shutil
        if not argv:
            raise UsageError("-c needs a command")
        path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
        if path is None or not os.path.exists(path):
            raise UsageError(f"-c: command not found: {argv[0]}")
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise UsageError(f"-c: {argv[0]} is not an executable program")
        self.argv = argv
        self.status: int | None = None
        prctl = _prctl()
        parent = os.getpid()
        ready, self._go = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:                       # the child
            os.close(self._go)
            if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or (
                    os.getppid() != parent):
                os._exit(127)                   # pytrace is gone already
            try:
                if os.read(ready, 1) == b"g":
                    os.close(ready)
                    os.execv(path, argv)
            except OSError as err:
                os.write(2, f"pytrace: cannot run {argv[0]}: {err.strerror}\n".encode())
            os._exit(127)
        os.close(ready)
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (OSError, AttributeError):
            self.pidfd = -1

    @property
    def released(self) -> bool:
        """Whether ``release`` let the command run (or it can no longer)."""
        return self._go < 0

    def release(self) -> None:
        if self._go >= 0:
            os.write(self._go, b"g")
            os.close(self._go)
            self._go = -1

    def poll(self) -> bool:
        """Whether the child has exited (reaping it)."""
        if self.status is not None:
            return True
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.status = os.waitstatus_to_exitcode(status)
        return True

    def close(self) -> None:
        """Cancel a held child or stop a running one; reap it."""
        if self._go >= 0:
            os.close(self._go)                  # EOF: the held child exits without exec
            self._go = -1
        if not self.poll():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class Watched:
    """A process given with -p: tracing ends when it exits."""

    def __init__(self, pid: int):
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise UsageError(f"-p: no process with pid {pid}") from None
        except (OSError, AttributeError):
            self.pidfd = -1
        self.pid = pid

    def poll(self) -> bool:
        """Whether the process has exited. A zombie (exited, not yet reaped by
        its parent) has exited: kill(pid, 0) would still succeed on it."""
        if self.pidfd >= 0:
            import select
            return bool(select.select([self.pidfd], [], [], 0)[0])
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
            return state in ("Z", "X")
        except (OSError, IndexError):
            return True

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
