"""Events programs send, and the loop that waits for them.

Every record in the event buffer starts with its event's u64 id; the rest
is laid out as its ``EventSpec.args`` declares (printf's arguments, exit's
code, print's top and div …). ``EventStream`` reads the buffer, decodes a
record with its spec and hands the values to the handler for its kind in
``HANDLERS``: one function per ``EventKind``. ``poll_until_stopped`` is the
one-shot run's loop: it waits on the buffer, the signal pipe, the traced
process and the services until something ends the run (``Ending``).
"""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
import os
import signal
from contextlib import ExitStack
from typing import Callable

from ..base.record import record
from ..lang.program import EventKind, EventSpec, MapKind

#: how BEGIN/END-only scripts, exit() and the -c child end a run
STOP_EXIT, STOP_SIGNAL, STOP_CHILD, STOP_DONE = "exit", "signal", "child", "done"

#: records taken from the event buffer per batch (one consumer-position write)
BATCH = 2048
#: seconds one drain of the loop may take before it looks at signals, the
#: -c child and the clock again: under a flood the buffer is never empty
DRAIN_SLICE = 0.05
#: after a signal, seconds the records left in the buffer (the probes are
#: stopped: no more come) are handled before the rest is counted as lost
FINAL_DRAIN = 0.5
#: "Lost N events" prints at most this often while the run goes on
LOST_REPORT_INTERVAL = 1.0
#: the signals that end a run as Ctrl-C does (SIGHUP: a dropped terminal or
#: ssh session, as bpftrace treats it)
ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@record
class Ending:
    """Why the run ends (a ``STOP_*``; None: it goes on) and its exit status."""
    reason: str | None = None
    exit_code: int = 0

    def exit(self, code: int) -> None:
        """``exit(code)`` in a probe: the first one sets the status."""
        if self.reason != STOP_EXIT:
            self.exit_code = code & 0xFF
        self.reason = STOP_EXIT

    def stop(self, reason: str) -> None:
        """End for ``reason`` unless the run is ending already."""
        self.reason = self.reason or reason


class EventStream:
    """The session's event buffer: reads records and dispatches them.

    ``loader`` (a ``loader.Loader``) gives the script whose events decode
    and the maps print/clear/zero act on; ``maps`` (a ``MapReader``) dumps
    a map for printing; ``services`` serve what userspace does for builtins.
    ``ignoring``: after exit() nothing more prints (as bpftrace), until the
    session lets END speak."""

    def __init__(self, loader, printer, services, maps, ending: Ending):
        self.loader = loader
        self.printer = printer
        self.services = services
        self.maps = maps
        self.ending = ending
        self.reader = None
        self.ignoring = False
        self._formats: dict[int, list] = {}
        #: a printf record's id bytes -> its compiled formatter (printf_plan);
        #: a record without one takes ``handle``'s generic route
        self._by_header: dict[bytes, object] = {}
        #: the formatter of a script whose one event is one printf: its
        #: batches are formatted whole
        self._only = None
        #: printf lines of the batch being read, written together
        self._pending: list[str] = []
        #: records skipped unread at the end of a run (counted as lost)
        self.dropped = 0
        #: lost events already reported while the run went on
        self.reported_lost = 0

    def open(self, events_map: str, owner: ExitStack) -> None:
        """Start reading the ring or perf buffer ``events_map`` (none: the
        script sends nothing); the reader is closed by ``owner``."""
        from ..kernel import buffers
        script = self.loader.script
        spec = next((m for m in script.maps if m.name == events_map), None)
        if spec is None:
            return
        fd = self.loader.maps[events_map].fd
        if spec.kind is MapKind.RINGBUF:
            self.reader = buffers.RingBufferReader(fd, spec.max_entries, self.handle)
        else:
            self.reader = buffers.PerfBufferReader(fd, None, self.handle,
                                                   pages_per_cpu=script.limits.perf_rb_pages)
        owner.callback(self.reader.close)
        self.reader.batch_callback = self.take_batch     # whole batches, not handle()
        self.compile_formatters()

    def compile_formatters(self) -> None:
        """Build every printf's formatter before the first record comes."""
        events = self.loader.script.events
        for event in events:
            if event.kind is EventKind.PRINTF:
                from ..render.printf_plan import compile_printf     # none without printf
                self._by_header[event.id.to_bytes(EventSpec.HEADER, BYTE_ORDER)] = \
                    compile_printf(event.fmt, event.args, EventSpec.HEADER,
                                   self.printer.resolvers)
        if len(events) == 1 and self._by_header:
            (self._only,) = self._by_header.values()

    @property
    def lost(self) -> int:
        """Records skipped unread at the end (``finish``). Those the buffer
        had no room for are counted by the programs themselves (a failed
        reserve or perf output), exactly and at once: the perf buffer's own
        PERF_RECORD_LOST (``reader.lost``) comes late or, when the buffer
        stays full to the end, never."""
        return self.dropped

    def fileno(self) -> int | None:
        return self.reader.fileno() if self.reader is not None else None

    def drain(self, budget: float | None = None) -> bool:
        """Handle the records waiting, a batch at a time, then what the
        services have. ``budget``: stop after that many seconds even if
        more wait (a flood refills the buffer as fast as it is read);
        None: until the buffer is empty. True when it was emptied."""
        emptied = True
        if self.reader is not None:
            import time
            poll = self.reader.poll
            deadline = None if budget is None else time.monotonic() + budget
            while True:
                full = poll(0, BATCH) == BATCH
                self.flush()
                if not full:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    emptied = False
                    break
        self.services.poll()
        return emptied

    def finish(self, budget: float | None) -> None:
        """The probes are stopped: handle what is left in the buffer for at
        most ``budget`` seconds (None: all of it); what is still there
        after that is skipped and counted as lost."""
        if not self.drain(budget) and self.reader is not None:
            self.dropped += self.reader.discard()

    def report_lost(self, printer, counted: int) -> None:
        """Print the events lost since the last report (``counted``: those
        the programs counted; the buffer's own count is added here)."""
        total = self.lost + counted
        if total > self.reported_lost:
            printer.lost(total - self.reported_lost)
            self.reported_lost = total

    def spec_of(self, data: bytes) -> EventSpec | None:
        """The EventSpec a record's id names (None: not one of ours)."""
        events = self.loader.script.events
        eid = int.from_bytes(data[:EventSpec.HEADER], BYTE_ORDER)
        return events[eid - 1] if 1 <= eid <= len(events) else None

    def handle(self, data: bytes) -> None:
        """One record: find its spec by id, decode it, run its handler."""
        spec = None if self.ignoring else self.spec_of(data)
        if spec is not None:
            from ..render.decode import decode
            HANDLERS[spec.kind](self, spec, decode(spec.args, data, EventSpec.HEADER))

    def take_batch(self, batch: list) -> None:
        """The reader's batch: printf lines wait for the batch's one write
        (``flush``); any other record writes them first, so output keeps
        the records' order."""
        if self.ignoring:
            return
        if self._only is not None:
            self._pending.extend(self._only.many(batch))
            return
        by_header, pending, size = self._by_header, self._pending, EventSpec.HEADER
        for data in batch:
            fmt = by_header.get(data[:size])
            if fmt is not None:
                pending.append(fmt.one(data))
                continue
            self.flush()
            self.handle(data)
            if self.ignoring:           # exit(): nothing after it prints
                return

    def flush(self) -> None:
        """Write the printf lines of the batch, in one call."""
        if self._pending:                   # emptied in place: take_batch holds it
            lines = self._pending[:]
            self._pending.clear()
            self.printer.printf_batch(lines)

    def printf_text(self, spec: EventSpec, values: tuple) -> str:
        from ..lang.printf import format_printf, parse_format
        from ..render.output import printf_arg
        segs = self._formats.get(spec.id)
        if segs is None:
            segs = self._formats[spec.id] = parse_format(spec.fmt)
        convs = [s for s in segs if not isinstance(s, str)]
        args = [printf_arg(c, t, v, self.printer.resolvers)
                for c, t, v in zip(convs, spec.args.elems, values)]
        return format_printf(segs, args)


# -- one handler per event kind: (stream, spec, the record's values) ---------------

def _printf(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    stream.printer.printf(stream.printf_text(spec, values))


def _exit(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    (code,) = values
    stream.ending.exit(code)
    stream.ignoring = True          # bpftrace stops printing at exit()


def _print_map(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    top, div = values
    stream.printer.map(stream.maps.dump(spec.map), top, div or 1, fill_empty_scalar=True)


def _clear_map(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    stream.loader.maps[spec.map].clear()


def _zero_map(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    stream.loader.maps[spec.map].zero()


def _print_value(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    stream.printer.value(spec.args.elems[0], values[0])


def _time(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    import time
    stream.printer.time(time.strftime(spec.fmt))


def _load_map(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    stream.services.get("mapfiles").load(spec.map, spec.fmt)


def _system(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    """system(): what the command printed (text adds the line end back)."""
    out = stream.services.get("shell").run(stream.printf_text(spec, values))
    stream.printer.syscall(out[:-1] if out.endswith("\n") else out)


def _join(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    """join(): the strings up to the first empty slot, joined by ``fmt``."""
    parts = []
    for text in values:
        if not text:
            break
        parts.append(text)
    stream.printer.join(spec.fmt.join(parts))


def _cat(stream: EventStream, spec: EventSpec, values: tuple) -> None:
    text, error = stream.services.get("files").cat(stream.printf_text(spec, values))
    if error is not None:
        stream.printer.message(error)
    else:
        stream.printer.cat(text)


#: what each kind of event does in userspace
HANDLERS: dict[EventKind, Callable[[EventStream, EventSpec, tuple], None]] = {
    EventKind.PRINTF: _printf,
    EventKind.EXIT: _exit,
    EventKind.PRINT_MAP: _print_map,
    EventKind.CLEAR_MAP: _clear_map,
    EventKind.ZERO_MAP: _zero_map,
    EventKind.PRINT_VALUE: _print_value,
    EventKind.TIME: _time,
    EventKind.LOAD_MAP: _load_map,
    EventKind.SYSTEM: _system,
    EventKind.CAT: _cat,
    EventKind.JOIN: _join,
}


# -- the one-shot run's loop ------------------------------------------------------------

def poll_until_stopped(stream: EventStream, signals: "Signals", waited, timeout: float | None,
                       owner: ExitStack, lost_counted: Callable[[], int] | None = None) -> None:
    """Handle events until ``stream.ending`` has a reason: exit() in a
    probe, SIGINT/SIGTERM/SIGHUP, ``waited`` (the -c child or the -p
    process) exiting, or ``timeout`` seconds passing. Each drain is bounded
    (``DRAIN_SLICE``), so a signal acts at once under any load.
    ``lost_counted``: the lost events the programs counted so far; losses
    are reported (``Lost N events``) at most once a second."""
    import select
    import time
    ending = stream.ending
    ep = select.epoll()
    owner.callback(ep.close)
    if stream.reader is not None:
        ep.register(stream.reader.fileno(), select.EPOLLIN)
    ep.register(signals.fd, select.EPOLLIN)
    if waited is not None and waited.pidfd >= 0:
        ep.register(waited.pidfd, select.EPOLLIN)
    for fd in stream.services.filenos():
        ep.register(fd, select.EPOLLIN)
    deadline = None if timeout is None else time.monotonic() + timeout
    next_report = time.monotonic() + LOST_REPORT_INTERVAL
    while ending.reason is None:
        wait = 1.0 if waited is not None and waited.pidfd < 0 else -1
        if lost_counted is not None:
            wait = LOST_REPORT_INTERVAL if wait < 0 else min(wait, LOST_REPORT_INTERVAL)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                ending.reason = STOP_DONE
                break
            wait = left if wait < 0 else min(wait, left)
        try:
            ep.poll(wait)
        except InterruptedError:
            pass
        stream.drain(DRAIN_SLICE)
        if signals.received:
            ending.stop(STOP_SIGNAL)
        elif waited is not None and waited.poll():
            ending.stop(STOP_CHILD)
        if lost_counted is not None and ending.reason is None:
            now = time.monotonic()
            if now >= next_report:
                next_report = now + LOST_REPORT_INTERVAL
                stream.report_lost(stream.printer, lost_counted())


class Signals:
    """SIGINT/SIGTERM/SIGHUP end the run (maps still print, END runs); a
    wakeup fd makes the poll loop notice at once."""

    def __init__(self):
        #: one of ENDING_SIGNALS arrived
        self.received = False

    def __enter__(self) -> "Signals":
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd = self.r
        self.old = {}
        try:
            self.old_fd = signal.set_wakeup_fd(self.w)
        except ValueError:           # not the main thread (library use): no signals
            self.old_fd = None
            return self
        self.old = {s: signal.signal(s, self._handle) for s in ENDING_SIGNALS}
        return self

    def _handle(self, signum, frame) -> None:
        self.received = True

    def __exit__(self, *exc) -> None:
        for s, h in self.old.items():
            signal.signal(s, _ignore_now if h is None else h)
        if self.old_fd is not None:
            signal.set_wakeup_fd(self.old_fd)
        os.close(self.r)
        os.close(self.w)


def _ignore_now(signum, frame) -> None:
    pass
