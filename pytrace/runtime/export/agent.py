"""Agent mode: several scripts in one process behind one /metrics.

``pytrace --export prometheus a.pt b.pt …`` runs each file as its own
``LiveSession`` (its own maps, event buffer and probes), exported under a
namespace from the file's name (``pytrace_<file>_<map>``), all served by
one ``MetricsServer``. One epoll loop handles every script's events.

SIGHUP re-reads the files: a changed one is compiled, loaded and attached
as a new session first and swapped in only when that worked, then the old
one is closed; an unchanged one, and its counters, is left alone; a
script that fails to reload keeps running as it was. SIGTERM/SIGINT close
every session (nothing stays attached) and the port. Scripts' printf
output goes to standard output; maps are not printed at exit (an agent's
maps are its metrics). The log on standard error is one line per event::

    pytrace: LEVEL EVENT key=value …
"""
from __future__ import annotations

import os
import re
import signal

from ...base.diagnostics import PytraceError, UsageError
from ..live import ATTACHED, LiveSession
from .collector import ExportedScript, MapCollector
from .config import check, parse
from .server import MetricsServer, arities, build_info


def namespace_of(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^a-zA-Z0-9_]", "_", stem)


def one_line(err: PytraceError) -> str:
    return err.render().split("\n", 1)[0]


class Agent:
    def __init__(self, files: list[str], make_options, output: tuple, address,
                 prefix: str | None, max_series: int | None, log, version: str):
        spaces = [namespace_of(f) for f in files]
        if len(set(spaces)) != len(spaces):
            raise UsageError("--export: two scripts with the same file name "
                             f"({', '.join(files)}): their metrics would collide")
        self.files = files
        self.make_options = make_options
        self.output = output            # (fmt, out, err) for the scripts' printf
        self.address = address
        self.prefix, self.max_series = prefix, max_series
        self.log = log
        self.texts: dict[str, str] = {}
        self.sessions: dict[str, LiveSession] = {}
        self.exported: dict[str, ExportedScript] = {}
        self.collector = MapCollector([], build_info(version))
        self.server: MetricsServer | None = None

    # -- scripts ----------------------------------------------------------------------
    def _read(self, path: str) -> str:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return f.read()
        except OSError as err:
            raise UsageError(f"cannot read {path}: {err.strerror}") from None

    def _start(self, path: str, text: str) -> tuple[LiveSession, ExportedScript]:
        config = parse(text, path, self.prefix, self.max_series)
        session = LiveSession.printing(self.make_options(text, path), *self.output)
        try:
            session.start()
            session.add(text, path)
            check(config, arities(session.script))
        except BaseException:
            session.close()
            raise

        def attached(s=session) -> int:
            return sum(len(lp.attachments) for lp in s.probes if lp.state == ATTACHED)

        exported = ExportedScript(path, config, session.loader, session.events, attached,
                                  namespace_of(path))
        return session, exported

    def _publish(self) -> None:
        with self.collector.lock:
            self.collector.scripts = [self.exported[f] for f in self.files
                                      if f in self.exported]

    def _stop(self, path: str) -> None:
        session = self.sessions.pop(path, None)
        self.exported.pop(path, None)
        self._publish()
        if session is not None:
            session.close()

    def start(self) -> None:
        for path in self.files:
            text = self._read(path)
            session, exported = self._start(path, text)
            self.texts[path], self.sessions[path], self.exported[path] = text, session, exported
            self.log("info", "loaded", f"script={path} probes={len(session.probes)}")
        self._publish()
        self.server = MetricsServer(self.collector, *self.address)
        host = f"[{self.server.host}]" if ":" in self.server.host else self.server.host
        self.log("info", "serving", f"http://{host}:{self.server.port}/metrics")

    def reload(self) -> None:
        for path in self.files:
            try:
                text = self._read(path)
                if text == self.texts.get(path):
                    continue
                session, exported = self._start(path, text)
            except PytraceError as err:
                self.log("error", "reload-failed", f"script={path} {one_line(err)}")
                continue
            old = self.sessions.get(path)
            self.texts[path], self.sessions[path], self.exported[path] = text, session, exported
            self._publish()
            if old is not None:
                old.close()
            self.log("info", "reloaded", f"script={path} probes={len(session.probes)}")

    # -- running -----------------------------------------------------------------------
    def run(self) -> int:
        import select
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        got: list[int] = []
        old_fd = signal.set_wakeup_fd(w)
        old = {s: signal.signal(s, lambda n, f: got.append(n))
               for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while self.sessions:
                ep = select.epoll()
                try:
                    ep.register(r, select.EPOLLIN)
                    for s in self.sessions.values():
                        for fd in [s.events_fileno(), *s.services.filenos()]:
                            if fd is not None:
                                ep.register(fd, select.EPOLLIN)
                    self._wait(ep, r, got)
                finally:
                    ep.close()
                if any(n != signal.SIGHUP for n in got):
                    self.log("info", "stopping", f"signal={signal.Signals(got[-1]).name}")
                    break
                if got:
                    got.clear()
                    self.reload()
        finally:
            for path in list(self.sessions):
                self._stop(path)
            if self.server is not None:
                self.server.close()
            for s, h in old.items():
                signal.signal(s, h)
            signal.set_wakeup_fd(old_fd)
            os.close(r)
            os.close(w)
        self.log("info", "stopped", "attached=0")
        return 0

    def _wait(self, ep, wake: int, got: list[int]) -> None:
        """Handle events until a signal arrives (or a script ends itself)."""
        while not got:
            try:
                ep.poll(1.0)
            except InterruptedError:
                pass
            try:
                os.read(wake, 512)
            except BlockingIOError:
                pass
            for path, s in list(self.sessions.items()):
                if s.poll():
                    self.log("info", "ended", f"script={path} status={s.exit_code}")
                    self._stop(path)
                    return
