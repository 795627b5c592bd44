"""pytrace as a Python library.

    >>> import pytrace
    >>> r = pytrace.run('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }',
    ...                 command=["/usr/bin/python3", "-c", "import os; os.getppid()"])
    >>> r.maps["@"]
    1

A run ends like a command-line run: ``exit()`` in the script, the end of
``command``, ``timeout`` seconds, or SIGINT/SIGTERM. Errors raise
``pytrace.base.diagnostics.PytraceError`` subclasses (``CompileError`` with
located diagnostics, ``RuntimeFailure``, ``PrivilegeError``).
"""
from __future__ import annotations

from typing import Callable

from .render.decode import MapDump, agg_buckets, average
from .lang.types import Agg, AggKind
from .base.record import field, record


@record(frozen=True)
class Bucket:
    """One histogram bucket: values from ``low`` to ``high`` (None: open)."""
    low: int | None
    high: int | None
    count: int
    label: str


@record
class Result:
    #: map name (with '@') -> value; keyed maps give {key: value} with tuple
    #: keys for several keys; hist/lhist give lists of Buckets (per key)
    maps: dict = field(default_factory=dict)
    #: printf output, one string per printf
    printf: list = field(default_factory=list)
    #: print(value) and time() output, in order
    values: list = field(default_factory=list)
    exit_code: int = 0
    lost_events: int = 0
    messages: list = field(default_factory=list)


def _value(dump: MapDump, value):
    t = dump.value_type
    if isinstance(t, Agg):
        if t.kind in (AggKind.HIST, AggKind.LHIST):
            out = []
            for b in agg_buckets(t, value):
                out.append(Bucket(b.lower.value if b.lower else None,
                                  b.upper.value - 1 if b.upper else None, b.count, b.label))
            return out
        if t.kind is AggKind.AVG:
            return average(t, *value)
        if t.kind is AggKind.STATS:
            count, total = value
            return {"count": count, "average": average(t, count, total), "total": total}
    return value


def map_value(dump: MapDump):
    """A map dump as plain Python data."""
    if dump.is_scalar:
        return _value(dump, dump.entries[0][1]) if dump.entries else None
    return {k: _value(dump, v) for k, v in dump.entries}


class CollectingPrinter:
    """A printer (see output.Printer) that keeps everything as Python objects."""

    def __init__(self, result: Result, on_printf: Callable[[str], None] | None = None):
        from .render.output import Resolvers
        self.result = result
        self.on_printf = on_printf
        self.resolvers = Resolvers()

    def printf(self, text: str) -> None:
        self.result.printf.append(text)
        if self.on_printf is not None:
            self.on_printf(text)

    def printf_batch(self, texts: list[str]) -> None:
        for text in texts:
            self.printf(text)

    def map(self, dump: MapDump, top: int = 0, div: int = 1, *, fill_empty_scalar=False):
        self.result.maps[dump.name] = map_value(dump)

    def value(self, type, value) -> None:
        self.result.values.append(value)

    def time(self, text: str) -> None:
        self.result.values.append(text)

    def attached(self, probes: int) -> None:
        pass

    def lost(self, events: int) -> None:
        self.result.lost_events += events

    def message(self, text: str) -> None:
        self.result.messages.append(text.rstrip("\n"))

    def end(self) -> None:
        pass


def run(script: str, *, params: list[str] | None = None,
        command: list[str] | str | None = None, pid: int | None = None,
        timeout: float | None = None, on_printf: Callable[[str], None] | None = None,
        no_feature: list[str] | None = None) -> Result:
    """Compile, load, attach and run ``script``; return what it printed and
    its maps at the end, as Python objects."""
    from .runtime.session import Session
    options = _options(script, params, command, pid, timeout, no_feature)
    result = Result()
    printer = CollectingPrinter(result, on_printf)
    session = Session(options, printer)
    printer.resolvers.special = session.resolve
    printer.resolvers.stack = session.resolve_stack
    try:
        result.exit_code = session.run()
    finally:
        session.close()
    return result


def events(script: str, *, params: list[str] | None = None,
           command: list[str] | str | None = None, pid: int | None = None,
           timeout: float | None = None, no_feature: list[str] | None = None) -> "Events":
    """Run ``script`` and yield each printf as it happens, as an ``Event``
    (``.text`` as printed, ``.fields`` by argument name: ``printf("%s %d",
    comm, pid)`` gives ``e.comm``, ``e.pid``). Ends as ``run`` does; leaving
    the loop early and ``close()`` (or ``with``) detach everything. ``.lost``
    counts events the kernel dropped; ``.maps()`` snapshots the maps.

        >>> for e in pytrace.events('tracepoint:syscalls:sys_enter_getppid '
        ...                         '/pid == cpid/ { printf("%d\\n", pid); }',
        ...                         command="/usr/bin/python3 -c 'import os; os.getppid()'"):
        ...     print(e.pid)
    """
    options = _options(script, params, command, pid, timeout, no_feature)
    printer = CollectingPrinter(Result())
    ref: list = []
    printer.resolvers.special = lambda how, v: ref[0].session.resolve(how, v)
    printer.resolvers.stack = lambda t, v: ref[0].session.resolve_stack(t, v)
    return _events_class()(options, printer, ref.append)


def _events_class():
    cached = globals().get("Events")
    if cached is not None:
        return cached
    from .runtime.streaming import EventIterator

    class Events(EventIterator):
        """The iterator ``events()`` returns."""

        def maps(self) -> dict:
            """The maps now, as ``run()``'s ``Result.maps`` gives them."""
            return {name: map_value(d) for name, d in self.dumps().items()}

    globals()["Events"] = Events
    return Events


def __getattr__(name: str):
    if name == "Events":            # defined lazily: the runtime loads only when used
        return _events_class()
    raise AttributeError(name)


def _options(script, params, command, pid, timeout, no_feature):
    """The Options of a library run (quiet; ``command`` may be one string,
    split as a shell would)."""
    import shlex

    from .runtime.options import Options, limits_from_env, masked_features
    if isinstance(command, str):
        command = shlex.split(command)
    return Options(script, "<script>", list(params or []), command, pid, quiet=True,
                   masked=masked_features(no_feature or []), limits=limits_from_env(),
                   timeout=timeout)
