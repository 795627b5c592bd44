"""Decoders compiled once per layout, for a whole map's keys or values at once.

``decode.decode`` walks a type for every value it decodes; a map of 100,000
keys would walk the key type 100,000 times. Here a type is compiled once
into a ``Layout``: one ``struct.Struct`` over the bytes of one element
(padding skipped, integers and pointers unpacked by C code, strings cut
out as bytes) and a small function that shapes the unpacked fields into
the value ``decode`` returns (or, for keys, into the order bpftrace sorts
them by: ``entries.key_order``). A whole column of elements is then one
``iter_unpack``. A part of a type with no fixed field layout (a bitfield
struct, a union, an address, a buffer) is cut out as bytes and handed to
the generic decoder, so every type compiles and decodes exactly as
``decode`` does; ``tests/unit/test_bulk_decode.py`` holds the two equal.

``fold_column`` folds the per-CPU slots of a column of aggregation values
the way ``decode.fold_percpu`` folds one value's.
"""
from __future__ import annotations

import struct
from operator import itemgetter

from ..base.arch import STRUCT_ORDER
from .decode import STR_TRUNC_TRAILER, agg_signed, decode, fold_percpu
from .entries import key_order
from ..lang.types import Agg, AggKind, Array, Int, Ptr, Special, Stack, Str, Struct, Tuple, Type

_INT_CODES = {1: "b", 2: "h", 4: "i", 8: "q"}
_MASK64 = (1 << 64) - 1
_TRAILER = STR_TRUNC_TRAILER.encode()


def _cut_str(raw: bytes) -> str:
    end = raw.find(b"\0")
    if end < 0:
        return raw.decode("utf-8", "surrogateescape") + STR_TRUNC_TRAILER
    return raw[:end].decode("utf-8", "surrogateescape")


def _str_order(raw: bytes) -> bytes:
    """A string key's sort order: its bytes (``entries.key_order`` encodes
    the decoded text back, which gives the same bytes)."""
    end = raw.find(b"\0")
    return raw + _TRAILER if end < 0 else raw[:end]


class _Builder:
    """Collects a layout's struct fields (offset, code, size) and the source
    of the expression that shapes them (``t[i]`` is field i, ``p[j]`` a
    post-processing function)."""

    def __init__(self, order: bool):
        #: build the sort order rather than the value
        self.order = order
        self.fields: list[tuple[int, str, int]] = []
        self.posts: list = []
        #: (field index, bits) of unsigned integers (their order is signed)
        self.unsigned: list[tuple[int, int]] = []
        #: whether a part went through a post-processing function
        self.posted = False

    def field(self, offset: int, code: str, size: int) -> str:
        self.fields.append((offset, code, size))
        return f"t[{len(self.fields) - 1}]"

    def post(self, fn, arg: str) -> str:
        self.posts.append(fn)
        self.posted = True
        return f"p[{len(self.posts) - 1}]({arg})"

    def generic(self, type: Type, offset: int) -> str:
        """Bytes cut out and decoded (or ordered) by the generic code."""
        raw = self.field(offset, f"{type.size}s", type.size)
        if self.order:
            return self.post(lambda b, _t=type: key_order(_t, decode(_t, b)), raw)
        return self.post(lambda b, _t=type: decode(_t, b), raw)

    def expr(self, type: Type, offset: int) -> str:
        if isinstance(type, Int):
            code = _INT_CODES.get(type.size)
            if code is None or type.bits != type.size * 8:
                return self.generic(type, offset)
            if not type.signed and not self.order:
                self.unsigned.append((len(self.fields), type.bits))
                code = code.upper()
            return self.field(offset, code, type.size)
        if isinstance(type, (Ptr, Special, Stack)):
            return self.field(offset, "Q", 8)
        if type.__class__ is Str:
            raw = self.field(offset, f"{type.cap}s", type.cap)
            return self.post(_str_order if self.order else _cut_str, raw)
        if isinstance(type, Tuple):
            return self._tuple(type.elems, [offset + o for o in type.offsets])
        if isinstance(type, Array) and not isinstance(type.elem, Agg):
            step = type.elem.size
            return self._tuple([type.elem] * type.count,
                               [offset + i * step for i in range(type.count)])
        if isinstance(type, Struct) and not type.union and all(
                f.bits is None and f.data_loc is None for f in type.fields):
            return self._tuple([f.type for f in type.fields],
                               [offset + f.offset for f in type.fields])
        return self.generic(type, offset)

    def _tuple(self, types, offsets) -> str:
        parts = [self.expr(t, o) for t, o in zip(types, offsets)]
        return "(" + "".join(p + ", " for p in parts) + ")"


class NoLayout(ValueError):
    """A type that does not fit the bytes it is to be decoded from."""


class _Overlap(Exception):
    """Fields that share bytes (a struct whose fields are out of order)."""


class Layout:
    """One element's bytes -> its value (or sort order), compiled.

    ``decode_all(buf)`` decodes a column of elements end to end,
    ``decode_at(buf, i)`` the i-th alone. ``unsigned`` lists the fields
    whose sort order differs from their value when their top bit is set
    (``same_order``)."""

    def __init__(self, st: struct.Struct, expr: str, posts: list, nfields: int,
                 unsigned: list[tuple[int, int]], posted: bool):
        self.struct = st
        self.size = st.size
        self.expr = expr
        self.unsigned = unsigned
        #: the value itself sorts as the key order wherever no unsigned
        #: integer has its top bit set
        self.orders_like_value = not posted
        identity = "(" + "".join(f"t[{i}], " for i in range(nfields)) + ")"
        if expr == "t[0]":
            self._shape = None
            self.kind = "scalar"
        elif expr == identity:
            self._shape = None
            self.kind = "flat"
        else:
            self._shape = eval("lambda t: " + expr, {"p": tuple(posts)})  # noqa: S307
            self.kind = "shaped"

    def decode_all(self, buf: bytes) -> list:
        if not buf:
            return []
        rows = self.struct.iter_unpack(buf)
        if self.kind == "scalar":
            return [v for (v,) in rows]
        if self.kind == "flat":
            return list(rows)
        return list(map(self._shape, rows))

    def decode_at(self, buf: bytes, index: int):
        row = self.struct.unpack_from(buf, index * self.size)
        if self.kind == "scalar":
            return row[0]
        if self.kind == "flat":
            return row
        return self._shape(row)

    def top_bits_clear(self, values: list) -> bool:
        """Whether no unsigned integer field of ``values`` (as
        ``decode_all`` returned them) has its top bit set, so that they
        sort as their key order. Answers only for unshaped layouts."""
        if self.kind == "shaped" or not self.orders_like_value:
            return False
        if not values or not self.unsigned:
            return True
        if self.kind == "scalar":
            (_, bits), = self.unsigned
            return max(values) >> (bits - 1) == 0
        return all(max(map(itemgetter(i), values)) >> (bits - 1) == 0
                   for i, bits in self.unsigned)


def compile_layout(type: Type, stride: int, order: bool = False,
                   extra: tuple[tuple[int, str, int], ...] = ()) -> Layout:
    """The layout of ``type`` at offset 0 of ``stride`` bytes (the rest is
    padding); ``order``: shape the sort order instead of the value.
    ``extra`` are (offset, code, size) fields after the type's, appended
    to the shaped value as a tuple ``(value, extra...)`` (a hist key's
    bucket)."""
    b = _Builder(order)
    try:
        expr = b.expr(type, 0)
        fmt = _format(b.fields + list(extra), stride)
    except _Overlap:
        b = _Builder(order)
        expr = b.generic(type, 0)
        try:
            fmt = _format(b.fields + list(extra), stride)
        except _Overlap:
            raise NoLayout(f"{type} does not fit in {stride} bytes") from None
    if extra:
        n = len(b.fields)
        expr = "(" + expr + ", " + "".join(f"t[{n + i}], " for i in range(len(extra))) + ")"
    return Layout(struct.Struct(fmt), expr, b.posts, len(b.fields) + len(extra),
                  b.unsigned, b.posted)


def _format(fields: list[tuple[int, str, int]], stride: int) -> str:
    parts, pos = [STRUCT_ORDER], 0
    for offset, code, size in fields:
        if offset < pos:
            raise _Overlap()
        if offset > pos:
            parts.append(f"{offset - pos}x")
        parts.append(code)
        pos = offset + size
    if pos > stride:
        raise _Overlap()
    if stride > pos:
        parts.append(f"{stride - pos}x")
    return "".join(parts)


# ------------------------------------------------------------ per-CPU folding

def _slots(code: str, slot_size: int, cpu_stride: int, ncpus: int) -> struct.Struct:
    pad = f"{cpu_stride - slot_size}x" if cpu_stride > slot_size else ""
    return struct.Struct(STRUCT_ORDER + (code + pad) * ncpus)


def _wrap(values: list[int], signed: bool) -> list[int]:
    """64-bit wrapping of sums (unsigned), then their signed reading."""
    if values and max(values) > _MASK64:
        values = [v & _MASK64 for v in values]
    if signed and values and max(values) >> 63:
        values = [v - (1 << 64) if v >> 63 else v for v in values]
    return values


def fold_column(agg: Agg, values: bytes, count: int, ncpus: int, cpu_stride: int,
                value_size: int) -> list:
    """``fold_percpu`` of every value of a column at once: ``count``
    entries of ``ncpus`` slots of ``cpu_stride`` bytes each."""
    if not count:
        return []
    kind, signed = agg.kind, agg_signed(agg)
    if value_size < agg.size:       # not an aggregation's own layout: one at a time
        step = cpu_stride * ncpus
        return [fold_percpu(agg, [values[i + c * cpu_stride:i + c * cpu_stride + value_size]
                                  for c in range(ncpus)])
                for i in range(0, step * count, step)]
    if kind in (AggKind.COUNT, AggKind.SUM, AggKind.HIST, AggKind.LHIST):
        rows = _slots("Q", 8, cpu_stride, ncpus).iter_unpack(values)
        totals = [v for (v,) in rows] if ncpus == 1 else list(map(sum, rows))
        return _wrap(totals, signed and kind is AggKind.SUM)
    if kind in (AggKind.MIN, AggKind.MAX):
        rows = _slots("qQ" if signed else "QQ", 16, cpu_stride, ncpus).iter_unpack(values)
        if ncpus == 1:
            return [v if flag else 0 for v, flag in rows]
        pick = max if kind is AggKind.MAX else min
        return [pick([r[i] for i in range(0, 2 * ncpus, 2) if r[i + 1]], default=0)
                for r in rows]
    if kind in (AggKind.AVG, AggKind.STATS):
        rows = _slots("QQ", 16, cpu_stride, ncpus).iter_unpack(values)
        if ncpus == 1:
            pairs = list(rows)
        else:
            pairs = [(sum(r[0::2]), sum(r[1::2])) for r in rows]
        counts = _wrap([c for c, _ in pairs], False)
        totals = _wrap([t for _, t in pairs], signed)
        return list(zip(counts, totals))
    raise TypeError(f"unknown aggregation {kind}")


def value_layout(type: Type, cpu_stride: int, ncpus: int) -> Layout:
    """A non-aggregate value: the first CPU's bytes (as ``build_dump``
    decodes it), the other CPUs' slots skipped."""
    return compile_layout(type, cpu_stride * ncpus)

