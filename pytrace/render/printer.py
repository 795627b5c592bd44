"""What the session prints through: ``Resolvers`` (outside knowledge for
symbols, probe names and stacks) and the ``Printer`` interface that
``TextPrinter`` and ``JsonPrinter`` implement.

Strings hold raw bytes that are not UTF-8 as surrogate escapes (see
``decode``). Writing falls back to the stream's binary buffer when its
encoding rejects them, so those bytes come out unchanged. Errors from the
stream itself end the run: BrokenPipeError propagates to the caller (a
reader that went away, as after ``| head``), any other OSError (a full
disk, an I/O error) becomes ``OutputError``.
"""
from __future__ import annotations

from ..base.diagnostics import OutputError
from ..base.record import record

from .decode import MapDump, zero_value
from .entries import shown_value, shows_as_is, sorted_entries
from ..lang.types import Formatted, Stack, Type

TYPE_CHECKING = False
if TYPE_CHECKING:           # annotations only: typing costs ~2 ms to import
    from collections.abc import Callable
    from typing import TextIO


@record
class Resolvers:
    """How values that need outside knowledge print. The session fills
    these in; without them ksym/usym print as hex addresses (as bpftrace
    does for an address it cannot symbolize), probe names and stacks as
    the raw number (see ``formats``).

    special(how, value) -> text for ksym/usym/probe values;
    stack(stack_type, value) -> text for a stack (bpftrace's text starts
    with a newline and has one frame per line, indented by 8 spaces; map
    keys print it with 4).
    """
    special: Callable[[Formatted, int], str] | None = None
    stack: Callable[[Stack, int], str] | None = None


NO_RESOLVERS = Resolvers()


def write(stream: TextIO, text: str) -> None:
    """``text`` to ``stream``; bytes that are not UTF-8 (surrogate escapes)
    go to its binary buffer unchanged."""
    try:
        _write(stream, text)
    except BrokenPipeError:
        raise
    except OSError as err:
        raise OutputError(err) from None


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(raw.decode("utf-8", "backslashreplace"))
        else:
            stream.flush()
            buffer.write(raw)


class Printer:
    """What the session prints through; ``TextPrinter`` or ``JsonPrinter``.

    ``out`` gets the trace's output, ``err`` the notices bpftrace's text
    mode sends to stderr (attached probes, lost events, messages).
    """

    def __init__(self, out: TextIO, err: TextIO, resolvers: Resolvers | None = None):
        self.out = out
        self.err = err
        self.resolvers = resolvers or Resolvers()

    def printf(self, text: str) -> None:
        raise NotImplementedError

    def printf_batch(self, texts: list[str]) -> None:
        """Several printf outputs in a row (a batch of the event buffer);
        printers override it to write them with one call."""
        for text in texts:
            self.printf(text)

    def map(self, dump: MapDump, top: int = 0, div: int = 1, *,
            fill_empty_scalar: bool = False) -> None:
        """Print a map (at exit, or ``print(@m, top, div)``). A scalar map
        with no value prints nothing, unless ``fill_empty_scalar`` (what
        ``print(@x)`` does): then its zero value (hist maps still print
        nothing)."""
        raise NotImplementedError

    def value(self, type: Type, value) -> None:
        """``print(expr)`` of a value that is not a map."""
        raise NotImplementedError

    def time(self, text: str) -> None:
        raise NotImplementedError

    def cat(self, text: str) -> None:
        raise NotImplementedError

    def join(self, text: str) -> None:
        raise NotImplementedError

    def syscall(self, text: str) -> None:
        """Output of ``system()``."""
        raise NotImplementedError

    def attached(self, probes: int) -> None:
        raise NotImplementedError

    def lost(self, events: int) -> None:
        raise NotImplementedError

    def message(self, text: str) -> None:
        """A notice for the user, on ``err`` in both formats."""
        write(self.err, text if text.endswith("\n") else text + "\n")

    def end(self) -> None:
        """The main loop is over; maps follow."""
        raise NotImplementedError

    def _entries(self, dump: MapDump, top: int, div: int, fill_empty_scalar: bool):
        """(key, shown value) pairs in print order."""
        entries = sorted_entries(dump, top)
        if not entries and dump.is_scalar and fill_empty_scalar and not dump.is_hist:
            entries = [(None, zero_value(dump.value_type))]
        if shows_as_is(dump.value_type, div):
            return entries
        return [(k, shown_value(dump.value_type, v, div)) for k, v in entries]
