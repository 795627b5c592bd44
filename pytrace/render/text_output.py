"""The text printer: values, map keys and hist/lhist bars as bpftrace's
default output prints them (src/output/text.cpp, types_format.cpp)."""
from __future__ import annotations

from .decode import Bucket, MapDump
from .entries import HIST_KINDS, shown_value
from .formats import special_text
from .printer import NO_RESOLVERS, Printer, Resolvers, write
from ..lang.printf import ArgKind, Conversion
from ..lang.types import (
    Agg, AggKind, Array, CEnum, Int, LpmKey, Ptr, Special, Stack, Str, Struct, Tuple,
    Type,
)

_BAR_WIDTH = 52


# ------------------------------------------------------------ values as text

def text_value(type: Type, value, res: Resolvers = NO_RESOLVERS) -> str:
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
    if isinstance(type, Special):                   # ksym(), ntop(), strftime() …
        return special_text(type, value, res)
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


def printf_arg(conv: Conversion, type: Type, value, res: Resolvers = NO_RESOLVERS):
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


def key_text(type: Type | None, key, res: Resolvers = NO_RESOLVERS, *, json: bool = False) -> str:
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


def _head(dump: MapDump, key, res: Resolvers) -> str:
    return dump.name if dump.is_scalar else f"{dump.name}[{key_text(dump.key_type, key, res)}]"


def generic_lines(dump: MapDump, entries: list, res: Resolvers = NO_RESOLVERS) -> str:
    """The lines of a non-hist map entry by entry, through the generic
    ``key_text``/``text_value``: what ``map_text.line_formatter`` compiles
    (the reference its tests compare with)."""
    return "".join(f"{_head(dump, key, res)}: {text_value(dump.value_type, shown, res)}\n"
                   for key, shown in entries)


class TextPrinter(Printer):
    """bpftrace's default output."""

    def printf(self, text: str) -> None:
        write(self.out, text)

    def printf_batch(self, texts: list[str]) -> None:
        write(self.out, "".join(texts))

    def map(self, dump: MapDump, top: int = 0, div: int = 1, *,
            fill_empty_scalar: bool = False) -> None:
        entries = self._entries(dump, top, div, fill_empty_scalar)
        if dump.is_hist:
            text = "".join(f"{_head(dump, key, self.resolvers)}:\n{hist_text(shown)}\n"
                           for key, shown in entries)
        else:
            from .map_text import line_formatter       # imports this module
            text = line_formatter(dump.name, dump.key_type, dump.value_type,
                                  self.resolvers)(entries)
        if text:
            write(self.out, text)

    def value(self, type: Type, value) -> None:
        if isinstance(type, Agg):
            value = shown_value(type, value)
            if type.kind in HIST_KINDS:
                write(self.out, hist_text(value) + "\n")
                return
        write(self.out, text_value(type, value, self.resolvers) + "\n")

    def time(self, text: str) -> None:
        write(self.out, text)

    def cat(self, text: str) -> None:
        write(self.out, text)

    def join(self, text: str) -> None:
        write(self.out, text + "\n")

    def syscall(self, text: str) -> None:
        write(self.out, text + "\n")

    def attached(self, probes: int) -> None:
        write(self.err, f"Attached {probes} probe{'' if probes == 1 else 's'}\n")

    def lost(self, events: int) -> None:
        write(self.err, f"Lost {events} events\n")

    def end(self) -> None:
        write(self.out, "\n\n")
