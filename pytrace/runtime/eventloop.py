"""The poll loop's signal handling."""
from __future__ import annotations

import os
import signal


class _Signals:
    """SIGINT/SIGTERM end the run (maps still print); a wakeup fd makes the
    poll loop notice at once."""

    def __init__(self, session: Session):
        self.session = session

    def __enter__(self) -> "_Signals":
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd = self.r
        self.old = {}
        try:
            self.old_fd = signal.set_wakeup_fd(self.w)
        except ValueError:           # not the main thread (library use): no signals
            self.old_fd = None
            return self
        self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        self.session._signal = True

    def __exit__(self, *exc) -> None:
        for s, h in self.old.items():
            signal.signal(s, _ignore_now if h is None else h)
        if self.old_fd is not None:
            signal.set_wakeup_fd(self.old_fd)
        os.close(self.r)
        os.close(self.w)


def _ignore_now(signum, frame) -> None:
    pass
