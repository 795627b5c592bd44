"""printf records to text, compiled once per format: no type walking per event.

``compile_printf(fmt, args, header, resolvers)`` returns a function from a
record's bytes to its text. It is built when the first record of a printf
id arrives: the integer arguments that Python's ``%`` operator formats
exactly as C's printf does are read by one ``struct.Struct`` over the
record, plain ``%s`` strings are cut at their NUL, and the line is one
``%`` of a Python format string. Every other argument (symbols, enums,
tuples, ``%c``, ``%p``, precisions, ``#`` …) takes the generic route —
``decode`` + ``printf_arg`` + ``format_conversion`` — for that argument only,
so the output is byte-for-byte what the generic formatter prints.

Integer conversions read the low ``Conversion.bits`` of the argument
(``%d`` is 32 bits, ``%ld`` 64, as bpftrace). When the argument is at least
that wide, reading exactly those low bytes (little-endian, as the BPF target
is) with the conversion's signedness gives the printed number directly; a
narrower unsigned argument, or a narrower signed one under ``%d``/``%i``,
prints its own value.
"""
from __future__ import annotations

from ..base.arch import STRUCT_ORDER
import struct
from ..base.record import record
from typing import Callable

from ..lang.printf import Conversion, format_conversion, parse_format
from ..lang.types import Int, Str, Tuple

#: struct codes by (bytes, signed)
_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
          (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}
#: C conversions Python's % formats alike (without '#' and precision)
_PY_CONV = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X", "o": "o"}


def _int_read(conv: Conversion, type) -> tuple[int, bool] | None:
    """(bytes to read, signed) for an integer argument on the fast path, or
    None when it must take the generic route."""
    if type.__class__ is not Int or conv.conv not in _PY_CONV:
        return None
    if conv.precision is not None or conv.alt:
        return None
    signed_conv = conv.conv in "di"
    if not signed_conv and (conv.plus or conv.space):
        return None          # C ignores + and space for unsigned; Python does not
    width = conv.bits // 8
    if type.size >= width:
        return (width, signed_conv) if (width, signed_conv) in _CODES else None
    if not type.signed or signed_conv:
        return (type.size, type.signed) if (type.size, type.signed) in _CODES else None
    return None


def _py_spec(conv: Conversion) -> str:
    flags = "".join(f for f in "-0+ " if f in conv.flags)
    return "%" + flags + (str(conv.width) if conv.width else "") + _PY_CONV[conv.conv]


def _str_reader(off: int, cap: int, trailer: str) -> Callable[[bytes], str]:
    end_at = off + cap

    def read(data: bytes) -> str:
        raw = data[off:end_at]
        end = raw.find(b"\0")
        if end < 0:
            return raw.decode("utf-8", "surrogateescape") + trailer
        return raw[:end].decode("utf-8", "surrogateescape")
    return read


def _generic_reader(conv: Conversion, type, off: int, resolvers) -> Callable[[bytes], str]:
    from .decode import decode
    from .text_output import printf_arg

    def read(data: bytes) -> str:
        return format_conversion(conv, printf_arg(conv, type, decode(type, data, off), resolvers))
    return read


@record(frozen=True)
class Formatter:
    """A compiled printf: ``one(record) -> text``, ``many(records) -> texts``
    (a list comprehension, no call per record where the format allows)."""
    one: Callable[[bytes], str]
    many: Callable[[list], list]

    def __call__(self, data: bytes) -> str:
        return self.one(data)


def compile_printf(fmt: str, args: Tuple, header: int, resolvers) -> Formatter:
    """The text of a printf record (its arguments laid out as ``args`` from
    byte ``header`` on), compiled for format ``fmt``."""
    from .decode import STR_TRUNC_TRAILER
    segments = parse_format(fmt)
    convs = [s for s in segments if not isinstance(s, str)]
    offsets = [header + o for o in args.offsets]
    pieces: list[str] = []
    codes: list[tuple[int, str]] = []          # (offset, struct code) of fast ints
    readers: list[tuple[int, Callable]] = []    # (argument index, reader) of the others
    it = iter(range(len(convs)))
    for seg in segments:
        if isinstance(seg, str):
            pieces.append(seg.replace("%", "%%"))
            continue
        i = next(it)
        conv, type, off = seg, args.elems[i], offsets[i]
        read = _int_read(conv, type)
        if read is not None:
            # a narrower read takes the low bytes: the last ones on big-endian
            codes.append((off + (type.size - read[0] if STRUCT_ORDER == ">" else 0), _CODES[read]))
            pieces.append(_py_spec(conv))
            readers.append((i, None))
        elif type.__class__ is Str and conv.conv == "s" and conv.precision is None \
                and not conv.width:
            readers.append((i, _str_reader(off, type.cap, STR_TRUNC_TRAILER)))
            pieces.append("%s")
        else:
            readers.append((i, _generic_reader(conv, type, off, resolvers)))
            pieces.append("%s")
    template = "".join(pieces)
    layout, pos = [STRUCT_ORDER], 0
    for off, code in codes:
        layout.append("x" * (off - pos) + code)
        pos = off + struct.calcsize(STRUCT_ORDER + code)
    unpack = struct.Struct("".join(layout)).unpack_from
    if not readers:
        line = template % ()
        return Formatter(lambda data: line, lambda batch: [line] * len(batch))
    if all(r is None for _, r in readers):
        return Formatter(lambda data: template % unpack(data),
                         lambda batch: [template % unpack(d) for d in batch])
    plan = [r for _, r in readers]

    def text(data: bytes) -> str:
        fast = iter(unpack(data)) if codes else iter(())
        return template % tuple(next(fast) if r is None else r(data) for r in plan)
    return Formatter(text, lambda batch: list(map(text, batch)))
