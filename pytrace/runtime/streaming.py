"""A run whose printf events come out one at a time, as they happen.

``EventIterator`` composes a one-shot ``Session``'s parts (loader,
attacher, event stream, services) but, instead of a loop that prints, it
is an iterator: each ``next()`` waits for the event buffer and hands back
the next ``Event`` (a printf's text and its values, each named after the
argument written: ``comm``, ``pid``, ``args.count`` -> ``count``; any
other expression ``argN``). It ends like a run: exit() in the script,
the ``command`` exiting, ``timeout``. ``close()`` (also when a ``for``
loop is left by ``break`` and the iterator is dropped, or at ``with``'s
end) detaches every probe and closes every fd. ``async for`` works too:
it waits for the event buffer in the running asyncio loop. Events the kernel dropped
because nobody read fast enough are counted in ``lost``, as the CLI does.
"""
from __future__ import annotations

import re
from collections import deque

from ..base.record import field, record
from ..lang.program import EventKind
from .eventloop import HANDLERS, STOP_CHILD, STOP_DONE, EventStream

_PATH = re.compile(r"[$@]?[A-Za-z_]\w*(?:(?:\.|->)[A-Za-z_]\w*)*$")


@record
class Event:
    """One printf: ``text`` as it prints, ``fields`` by argument name."""
    text: str
    fields: dict = field(default_factory=dict)

    def __getitem__(self, name: str):
        return self.fields[name]

    def __getattr__(self, name: str):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None


def split_args(call: str) -> list[str]:
    """``printf("a, %d", f(1, 2), x)`` -> ['"a, %d"', 'f(1, 2)', 'x']."""
    inner = call[call.index("(") + 1:call.rindex(")")]
    out, depth, quote, start, i = [], 0, False, 0, 0
    while i < len(inner):
        c = inner[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(inner[start:i].strip())
            start = i + 1
        i += 1
    out.append(inner[start:].strip())
    return out


def field_names(call: str, n: int) -> list[str]:
    """Names for a printf's ``n`` values from its source text ``call``."""
    exprs = split_args(call)[1:] if call else []
    names: list[str] = []
    for i in range(n):
        expr = exprs[i] if i < len(exprs) else ""
        name = re.split(r"\.|->", expr)[-1].lstrip("$@") if _PATH.match(expr) else ""
        name = name or f"arg{i}"
        if name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


class _Events(EventStream):
    """The session's event stream, keeping printf events instead of printing them."""

    def __init__(self, *args):
        super().__init__(*args)
        self.queue: deque[Event] = deque()
        self._names: dict[int, list[str]] = {}

    def compile_formatters(self) -> None:
        """None: every printf record goes through ``handle``, which keeps
        its values as well as its text."""

    def handle(self, data: bytes) -> None:
        spec = None if self.ignoring else self.spec_of(data)
        if spec is None:
            return
        from ..lang.program import EventSpec
        from ..render.decode import decode
        values = decode(spec.args, data, EventSpec.HEADER)
        if spec.kind is not EventKind.PRINTF:
            HANDLERS[spec.kind](self, spec, values)
            return
        names = self._names.get(spec.id)
        if names is None:
            call = spec.loc.text() if spec.loc is not None else ""
            names = self._names[spec.id] = field_names(call, len(values))
        self.queue.append(Event(self.printf_text(spec, values), dict(zip(names, values))))


class EventIterator:
    """Iterate over a running script's printf events (see the module doc)."""

    def __init__(self, options, printer, started=None):
        """``started(self)`` is called once the session exists, before
        anything runs (to let the printer's resolvers reach it)."""
        from .attacher import AttachContext, Attacher
        from .session import EVENTS_MAP, Session
        self.session = s = Session(options, printer)
        if started is not None:
            started(self)
        s.events = _Events(s.loader, printer, s.services, s.map_reader, s.ending)
        self.closed = False
        self._ep = None
        self._final = None
        try:
            s.prepare()
            s.compile()
            s.load()
            s.events.open(EVENTS_MAP, s.stack)
            s.services.start_needed(s.script)
            attacher = Attacher(AttachContext(s.kernel, options.pid,
                                              s.child.pid if s.child is not None else None,
                                              force=options.force))
            self._attacher = attacher
            attacher.sweep(s.script.probes)
            s._run_once("BEGIN", attacher)
            if s.ending.reason is None:
                s._attach_all(attacher)
                if s.child is not None:
                    s.child.release()
                if all(p.special for p in s.script.probes):
                    s.ending.reason = STOP_DONE
            self._setup_poll(options.timeout)
        except BaseException:
            self.close()
            raise

    def _setup_poll(self, timeout) -> None:
        import select
        import time
        s = self.session
        self._ep = ep = select.epoll()
        s.stack.callback(ep.close)
        if s.events.reader is not None:
            ep.register(s.events.reader.fileno(), select.EPOLLIN)
        self._waited = s.child or s.watched
        if self._waited is not None and self._waited.pidfd >= 0:
            ep.register(self._waited.pidfd, select.EPOLLIN)
        for fd in s.services.filenos():
            ep.register(fd, select.EPOLLIN)
        self._deadline = None if timeout is None else time.monotonic() + timeout

    @property
    def lost(self) -> int:
        """Events the kernel dropped (the buffer was full), as the CLI reports them."""
        if self._final is not None:
            return self._final[0]
        from .export.counters import read_counters
        return self.session.events.lost + read_counters(self.session.loader)[0]

    def dumps(self) -> dict:
        """Every user map now (after the end: as they were then), name ->
        ``render.decode.MapDump``."""
        if self._final is not None:
            return self._final[1]
        reader = self.session.map_reader
        return {m.name: reader.dump(m.name) for m in self.session.script.user_maps}

    def __iter__(self):
        return self

    def __next__(self) -> Event:
        queue = self.session.events.queue
        if self.closed:
            raise StopIteration             # what was still queued goes with it
        while not queue:
            wait = self._wait()
            if wait is None:
                self.close()
                raise StopIteration
            try:
                self._ep.poll(wait)
            except InterruptedError:
                pass
            self._collect()
        return queue.popleft()

    # -- the asyncio form: ``async for e in pytrace.events(…)`` ------------------------
    def __aiter__(self):
        return self

    async def __anext__(self) -> Event:
        import asyncio
        queue = self.session.events.queue
        if self.closed:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        while not queue:
            wait = self._wait()
            if wait is None:
                self.close()
                raise StopAsyncIteration
            ready = loop.create_future()
            fd = self._ep.fileno()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await asyncio.wait_for(ready, None if wait < 0 else wait)
            except asyncio.TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)
            self._ep.poll(0)
            self._collect()
        return queue.popleft()

    def _wait(self) -> float | None:
        """How long to wait for the next event (-1: as long as it takes);
        None once the run is over."""
        import time
        s = self.session
        if s.ending.reason is not None:
            return None
        wait = 1.0 if self._waited is not None and self._waited.pidfd < 0 else -1
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                s.ending.stop(STOP_DONE)
                return None
            wait = left if wait < 0 else min(wait, left)
        return wait

    def _collect(self) -> None:
        s = self.session
        s.events.drain()
        if not s.events.queue and self._waited is not None and self._waited.poll():
            s.events.drain()
            s.ending.stop(STOP_CHILD)

    def close(self) -> None:
        """Detach every probe and close everything (END does not run)."""
        if self.closed:
            return
        self.closed = True
        self.session.attachments.stop_now()
        try:
            if self.session.script is not None and self.session.loader.maps:
                self.session.events.drain()
                self._final = (self.lost, self.dumps())
        finally:
            self.session.close()

    def __enter__(self) -> "EventIterator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
