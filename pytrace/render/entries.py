"""Map entries as printed: bpftrace's print order and the shown value of
an aggregate (after ``print(@m, top, div)``)."""
from __future__ import annotations

from .decode import MapDump, agg_buckets, agg_signed, average, cdiv
from ..lang.types import Agg, AggKind, Array, Int, Str, Struct, Tuple, Type

HIST_KINDS = (AggKind.HIST, AggKind.LHIST)
STATS_KINDS = (AggKind.AVG, AggKind.STATS)


def key_order(type: Type | None, key):
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
        return tuple(key_order(t, v) for t, v in zip(elems, key))
    return key


_key_order = key_order


def value_order(type: Agg | Int, value) -> int:
    """The number bpftrace sorts an aggregate or integer map by."""
    if isinstance(type, Agg):
        if type.kind in HIST_KINDS:
            return sum(value.values())
        if type.kind in STATS_KINDS:
            return average(type, *value)
    return value


def sorted_entries(dump: MapDump, top: int = 0) -> list[tuple[object, object]]:
    """Entries in bpftrace's print order (ascending value, else key), keeping
    only the last ``top`` when ``top`` is set (``print(@m, top)``)."""
    if dump.table is not None:         # read in bulk: sorted there, keys decoded as needed
        return dump.table.sorted_entries(top)
    vt, kt = dump.value_type, dump.key_type
    if isinstance(vt, (Agg, Int)):
        entries = sorted(dump.entries,
                         key=lambda e: (value_order(vt, e[1]), key_order(kt, e[0])))
    else:
        entries = sorted(dump.entries, key=lambda e: key_order(kt, e[0]))
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
        if kind in HIST_KINDS:
            return agg_buckets(type, value, div)
        signed = agg_signed(type)
        if kind in STATS_KINDS:
            count, total = value
            avg = _divide(average(type, count, total), div, signed)
            return (count, avg, total) if kind is AggKind.STATS else avg
        return _divide(value, div, signed and kind is not AggKind.COUNT)
    if isinstance(type, Int) and div != 1:
        return _divide(value, div, type.signed)
    return value


def shows_as_is(type: Type, div: int = 1) -> bool:
    """Whether ``shown_value`` returns every value of ``type`` unchanged:
    counts, sums, minima, maxima and integers without ``div``; anything
    not an aggregation or integer."""
    if not isinstance(type, (Agg, Int)):
        return True
    return (div or 1) == 1 and (isinstance(type, Int) or type.kind in (
        AggKind.COUNT, AggKind.SUM, AggKind.MIN, AggKind.MAX))


def _divide(value: int, div: int, signed: bool) -> int:
    if div == 1:
        return value
    return cdiv(value, div) if signed else value // div
