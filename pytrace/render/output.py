"""Text and JSON printers: maps, hist/lhist, stats, printf, print().

Byte-for-byte what bpftrace (0.24+, src/output/text.cpp, json.cpp,
types_format.cpp) prints, with these deliberate differences, each a
bpftrace bug we do not copy:

* ties between equal map values are ordered by key (bpftrace's sort is
  unstable); min/max maps sort by signed value (bpftrace 0.24+ compares the
  bit patterns as unsigned, so -5 sorts after 3; 0.17 sorts signed);
* only tuple keys lose their parentheses (bpftrace strips them from any key
  whose text starts with '(' and ends with ')', so the string key "(sd-pam)"
  prints as ``@[sd-pam]``);
* JSON keys of tuples are joined with "," and their strings keep their
  spaces (bpftrace deletes every space in a JSON key, inside strings too);
* JSON strings carry non-ASCII text as UTF-8 (bpftrace writes each byte
  >= 0x80 as ``\\uffffffXX``, which is not JSON).

Strings hold raw bytes that are not UTF-8 as surrogate escapes (see
``decode``). Writing falls back to the stream's binary buffer when its
encoding rejects them, so those bytes come out unchanged. Errors from the
stream itself (BrokenPipeError) propagate to the caller.
"""
from __future__ import annotations

from ..base.record import record

from pytrace.render.decode import (Bucket, MapDump, agg_buckets, agg_signed, average, cdiv,
                                   zero_value)
from pytrace.base.diagnostics import UsageError
from pytrace.lang.printf import ArgKind, Conversion
from pytrace.lang.types import (
    Agg, AggKind, Array, CEnum, Formatted, Int, LpmKey, Ptr, Special, Stack, Str, Struct, Tuple,
    Type,
)

TYPE_CHECKING = False
if TYPE_CHECKING:           # annotations only: typing costs ~2 ms to import
    from collections.abc import Callable
    from typing import TextIO

_BAR_WIDTH = 52
_HIST_KINDS = (AggKind.HIST, AggKind.LHIST)
_STATS_KINDS = (AggKind.AVG, AggKind.STATS)


@record
class Resolvers:
    """How values that need outside knowledge print. The session fills
    these in; without them ksym/usym print as hex addresses (as bpftrace
    does for an address it cannot symbolize), probe/errno and stacks as
    the raw number.

    special(how, value) -> text for ksym/usym/probe/errno values;
    stack(stack_type, value) -> text for a stack (bpftrace's text starts
    with a newline and has one frame per line, indented by 8 spaces; map
    keys print it with 4).
    """
    special: Callable[[Formatted, int], str] | None = None
    stack: Callable[[Stack, int], str] | None = None


_NO_RESOLVERS = Resolvers()


# ------------------------------------------------------------ values as text

def text_value(type: Type, value, res: Resolvers = _NO_RESOLVERS) -> str:
    """A value as bpftrace's text output prints it inside a map line or for
    ``print()``: ints in decimal, strings raw, pointers ``0x..``, tuples
    ``(1, abc)``, structs ``{ .a = 1, .b = x }``, arrays ``[1,2]``, C enums
    by enumerator name (the number when none has the value)."""
    if isinstance(type, CEnum):
        label = type.label(value)
        return label if label is not None else str(value)
    if isinstance(type, (Int, Str)):
        return str(value)
    if isinstance(type, Ptr):
        return f"0x{value:x}"
    if isinstance(type, Special):
        if type.how in _ADDRESSES:                  # ntop(), macaddr(): no outside knowledge
            return _address_text(type.how, value)
        return res.special(type.how, value) if res.special else _unresolved(type.how, value)
    if isinstance(type, Stack):
        return res.stack(type, value) if res.stack else str(value)
    if isinstance(type, LpmKey):                    # "22, 10.0.0.0/8"
        return ", ".join(str(v) for v in value)
    if isinstance(type, Tuple):
        return "(" + ", ".join(text_value(t, v, res) for t, v in zip(type.elems, value)) + ")"
    if isinstance(type, Struct):
        if not type.fields:
            return "{}"
        parts = (f".{f.name} = {text_value(f.type, v, res)}" for f, v in zip(type.fields, value))
        return "{ " + ", ".join(parts) + " }"
    if isinstance(type, Array):
        return "[" + ",".join(text_value(type.elem, v, res) for v in value) + "]"
    if isinstance(type, Agg):
        return _agg_text(type, value)
    if value is None:
        return "null"
    return str(value)


_ADDRESSES = (Formatted.INET4, Formatted.MAC)


def _address_text(how: Formatted, value: int) -> str:
    from ..base.netaddr import inet4_text, mac_text
    return inet4_text(value) if how is Formatted.INET4 else mac_text(value)


def _unresolved(how: Formatted, value: int) -> str:
    """bpftrace prints an address it cannot symbolize in hex."""
    return f"0x{value:x}" if how in (Formatted.KSYM, Formatted.USYM) else str(value)


def printf_arg(conv: Conversion, type: Type, value, res: Resolvers = _NO_RESOLVERS):
    """A decoded printf argument as ``format_printf`` takes it: integer
    conversions get the number (a ksym's address for ``%x``), ``%s`` gets
    text (symbols resolved, tuples and structs as ``print`` shows them)."""
    if conv.arg_kind is ArgKind.STRING and isinstance(type, CEnum):
        return text_value(type, value, res)
    if conv.arg_kind is ArgKind.INTEGER or isinstance(type, (Int, Str)):
        return value
    return text_value(type, value, res)


def _agg_text(agg: Agg, value) -> str:
    if agg.kind is AggKind.STATS:
        count, avg, total = value
        return f"{{ .count = {count}, .average = {avg}, .total = {total} }}"
    return str(value)


def key_text(type: Type | None, key, res: Resolvers = _NO_RESOLVERS, *, json: bool = False) -> str:
    """A map key inside ``@name[...]``: a tuple key without its parentheses.
    For JSON the tuple's parts are joined with "," and non-string parts lose
    their spaces."""
    if type is None:
        return ""
    if isinstance(type, Tuple):
        sep = "," if json else ", "
        return sep.join(_key_part(t, v, res, json) for t, v in zip(type.elems, key))
    return _key_part(type, key, res, json)


def _key_part(type: Type, value, res: Resolvers, json: bool) -> str:
    if isinstance(type, Stack) and res.stack is not None:
        # bpftrace indents a stack's frames by 8 spaces, but by 4 in a map key
        return res.stack(type, value).replace("\n        ", "\n    ")
    if not json or isinstance(type, Str):
        return text_value(type, value, res)
    if isinstance(type, Tuple):
        return "(" + ",".join(_key_part(t, v, res, json) for t, v in zip(type.elems, value)) + ")"
    return text_value(type, value, res).replace(" ", "")


# ------------------------------------------------------------ values as JSON

_JSON_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)}
_JSON_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n",
                      ord("\r"): "\\r", ord("\t"): "\\t"})


def json_string(text: str) -> str:
    return '"' + text.translate(_JSON_ESCAPES) + '"'


def json_int(n: int) -> str:
    """An integer as bpftrace writes it: a number when a double holds it
    exactly, else a string (RFC 8259 interoperability)."""
    return str(n) if int(float(n)) == n else f'"{n}"'


def json_value(type: Type, value, res: Resolvers = _NO_RESOLVERS) -> str:
    if isinstance(type, CEnum) and type.label(value) is not None:
        return json_string(type.label(value))
    if isinstance(type, (Int, Ptr)):
        return json_int(value)
    if isinstance(type, Str):
        return json_string(value)
    if isinstance(type, (Special, Stack)):
        return json_string(text_value(type, value, res))
    if isinstance(type, Tuple):
        return "[" + ",".join(json_value(t, v, res) for t, v in zip(type.elems, value)) + "]"
    if isinstance(type, Struct):
        parts = (f"{json_string(f.name)}: {json_value(f.type, v, res)}"
                 for f, v in zip(type.fields, value))
        return "{" + ", ".join(parts) + "}"
    if isinstance(type, Array):
        return "[" + ",".join(json_value(type.elem, v, res) for v in value) + "]"
    if isinstance(type, Agg):
        if type.kind is AggKind.STATS:
            count, avg, total = value
            return (f'{{"count": {json_int(count)}, "average": {json_int(avg)}, '
                    f'"total": {json_int(total)}}}')
        return json_int(value)
    if value is None:
        return "null"
    return json_int(value)


def json_hist(buckets: list[Bucket]) -> str:
    rows = []
    for b in buckets:
        parts = []
        if b.lower is not None:
            parts.append(f'"min": {json_int(b.lower.value)}, ')
        if b.upper is not None:
            parts.append(f'"max": {json_int(b.upper.value - 1)}, ')
        parts.append(f'"count": {b.count}')
        rows.append("{" + "".join(parts) + "}")
    return "[" + ",".join(rows) + "]"


# ------------------------------------------------------------ map preparation

def _key_order(type: Type | None, key):
    """bpftrace's key order: integers as signed numbers of their size,
    strings bytewise, tuples field by field."""
    if type is None or key is None:
        return 0
    if isinstance(type, Int):
        if not type.signed and key >> (type.bits - 1):
            return key - (1 << type.bits)
        return key
    if isinstance(type, Str):
        return key.encode("utf-8", "surrogateescape")
    if isinstance(type, (Tuple, Struct, Array)):
        elems = (type.elems if isinstance(type, Tuple) else
                 [f.type for f in type.fields] if isinstance(type, Struct) else
                 [type.elem] * len(key))
        return tuple(_key_order(t, v) for t, v in zip(elems, key))
    return key


def _value_order(type: Agg | Int, value) -> int:
    """The number bpftrace sorts an aggregate or integer map by."""
    if isinstance(type, Agg):
        if type.kind in _HIST_KINDS:
            return sum(value.values())
        if type.kind in _STATS_KINDS:
            return average(type, *value)
    return value


def sorted_entries(dump: MapDump, top: int = 0) -> list[tuple[object, object]]:
    """Entries in bpftrace's print order (ascending value, else key), keeping
    only the last ``top`` when ``top`` is set (``print(@m, top)``)."""
    vt, kt = dump.value_type, dump.key_type
    if isinstance(vt, (Agg, Int)):
        entries = sorted(dump.entries,
                         key=lambda e: (_value_order(vt, e[1]), _key_order(kt, e[0])))
    else:
        entries = sorted(dump.entries, key=lambda e: _key_order(kt, e[0]))
    if top and len(entries) > top:
        entries = entries[len(entries) - top:]
    return entries


def shown_value(type: Type, value, div: int = 1):
    """A map value as printed, after ``div`` (``print(@m, top, div)``):
    aggregates reduced to one number (stats to (count, average, total)),
    hist/lhist to their rows."""
    div = div or 1
    if isinstance(type, Agg):
        kind = type.kind
        if kind in _HIST_KINDS:
            return agg_buckets(type, value, div)
        signed = agg_signed(type)
        if kind in _STATS_KINDS:
            count, total = value
            avg = _divide(average(type, count, total), div, signed)
            return (count, avg, total) if kind is AggKind.STATS else avg
        return _divide(value, div, signed and kind is not AggKind.COUNT)
    if isinstance(type, Int) and div != 1:
        return _divide(value, div, type.signed)
    return value


def _divide(value: int, div: int, signed: bool) -> int:
    if div == 1:
        return value
    return cdiv(value, div) if signed else value // div


def hist_text(buckets: list[Bucket]) -> str:
    """The rows of a hist/lhist block: label left in 16 columns, count right
    in 8, then a 52-wide bar of '@' scaled to the largest (shown) count."""
    if not buckets:
        return ""
    top = max(b.count for b in buckets)
    lines = []
    for b in buckets:
        width = _bar_width(b.count, top)
        lines.append(f"{b.label:<16}{b.count:>8} |{'@' * width:<{_BAR_WIDTH}}|\n")
    return "".join(lines)


def _bar_width(count: int, top: int) -> int:
    """bpftrace's ``int((count / (float)max) * 52)`` in single precision."""
    if top <= 0:
        return 0
    return int(_f32(_f32(_f32(count) / _f32(top)) * _BAR_WIDTH))


def _f32(x: float) -> float:
    import struct
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ---------------------------------------------------------------- printers

def _emit(stream: TextIO, text: str) -> None:
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
        _emit(self.err, text if text.endswith("\n") else text + "\n")

    def end(self) -> None:
        """The main loop is over; maps follow."""
        raise NotImplementedError

    def _entries(self, dump: MapDump, top: int, div: int, fill_empty_scalar: bool):
        """(key, shown value) pairs in print order."""
        entries = sorted_entries(dump, top)
        if not entries and dump.is_scalar and fill_empty_scalar and not dump.is_hist:
            entries = [(None, zero_value(dump.value_type))]
        return [(k, shown_value(dump.value_type, v, div)) for k, v in entries]


class TextPrinter(Printer):
    """bpftrace's default output."""

    def printf(self, text: str) -> None:
        _emit(self.out, text)

    def map(self, dump: MapDump, top: int = 0, div: int = 1, *,
            fill_empty_scalar: bool = False) -> None:
        vt, res = dump.value_type, self.resolvers
        lines = []
        for key, shown in self._entries(dump, top, div, fill_empty_scalar):
            head = dump.name if dump.is_scalar else \
                f"{dump.name}[{key_text(dump.key_type, key, res)}]"
            if dump.is_hist:
                lines.append(f"{head}:\n{hist_text(shown)}\n")
            else:
                lines.append(f"{head}: {text_value(vt, shown, res)}\n")
        if lines:
            _emit(self.out, "".join(lines))

    def value(self, type: Type, value) -> None:
        if isinstance(type, Agg):
            value = shown_value(type, value)
            if type.kind in _HIST_KINDS:
                _emit(self.out, hist_text(value) + "\n")
                return
        _emit(self.out, text_value(type, value, self.resolvers) + "\n")

    def time(self, text: str) -> None:
        _emit(self.out, text)

    def cat(self, text: str) -> None:
        _emit(self.out, text)

    def join(self, text: str) -> None:
        _emit(self.out, text + "\n")

    def syscall(self, text: str) -> None:
        _emit(self.out, text + "\n")

    def attached(self, probes: int) -> None:
        _emit(self.err, f"Attached {probes} probe{'' if probes == 1 else 's'}\n")

    def lost(self, events: int) -> None:
        _emit(self.err, f"Lost {events} events\n")

    def end(self) -> None:
        _emit(self.out, "\n\n")


class JsonPrinter(Printer):
    """``-f json``: one JSON object per line."""

    def _record(self, type: str, data: str) -> None:
        _emit(self.out, f'{{"type": "{type}", "data": {data}}}\n')

    def printf(self, text: str) -> None:
        self._record("printf", json_string(text))

    def map(self, dump: MapDump, top: int = 0, div: int = 1, *,
            fill_empty_scalar: bool = False) -> None:
        vt, res = dump.value_type, self.resolvers
        is_stats = isinstance(vt, Agg) and vt.kind in _STATS_KINDS
        kind = "stats" if is_stats else "hist" if dump.is_hist else "map"
        entries = self._entries(dump, top, div, fill_empty_scalar)
        if not entries and not (is_stats and not dump.is_scalar):
            return          # bpftrace skips empty maps, except keyed stats: {}

        def one(shown) -> str:
            return json_hist(shown) if dump.is_hist else json_value(vt, shown, res)

        if dump.is_scalar:
            body = one(entries[0][1])
        else:
            body = "{" + ", ".join(
                f"{json_string(key_text(dump.key_type, k, res, json=True))}: {one(v)}"
                for k, v in entries) + "}"
        self._record(kind, f"{{{json_string(dump.name)}: {body}}}")

    def value(self, type: Type, value) -> None:
        if isinstance(type, Agg):
            value = shown_value(type, value)
            if type.kind in _HIST_KINDS:
                self._record("value", json_hist(value))
                return
        self._record("value", json_value(type, value, self.resolvers))

    def time(self, text: str) -> None:
        self._record("time", json_string(text))

    def cat(self, text: str) -> None:
        self._record("cat", json_string(text))

    def join(self, text: str) -> None:
        self._record("join", json_string(text))

    def syscall(self, text: str) -> None:
        self._record("syscall", json_string(text))

    def attached(self, probes: int) -> None:
        _emit(self.out, f'{{"type": "attached_probes", "count": {probes}, '
                        f'"data": {{"probes": {probes}}}}}\n')

    def lost(self, events: int) -> None:
        _emit(self.out, f'{{"type": "lost_events", "count": {events}, '
                        f'"data": {{"events": {events}}}}}\n')

    def end(self) -> None:
        pass


def make_printer(fmt: str, out: TextIO, err: TextIO,
                 resolvers: Resolvers | None = None) -> Printer:
    """The printer for ``-f text`` or ``-f json``."""
    if fmt == "json":
        return JsonPrinter(out, err, resolvers)
    if fmt == "text":
        return TextPrinter(out, err, resolvers)
    raise UsageError(f'invalid output format "{fmt}"; use text or json')
