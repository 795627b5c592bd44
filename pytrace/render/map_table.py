"""A map read whole (``kernel.maps.MapColumns``) decoded in bulk.

The values are decoded (aggregations folded over CPUs) for every entry, by
layouts ``bulk_decode`` compiles once per map; the keys stay bytes in a
``MapTable`` until someone asks. The table sorts in bpftrace's print order
(``entries.sorted_entries``: ascending value, ties by key; key order
otherwise) on whole columns, and for ``print(@m, top)`` of a map ordered
by value it decodes only the keys of the entries that can still be among
the last ``top``: those whose value reaches the ``top``-th largest.
Hist/lhist maps are grouped by user key as ``decode.build_dump`` does.
Whatever has no compiled layout goes through ``build_dump``.
"""
from __future__ import annotations

import heapq
import struct
from operator import itemgetter

from ..base.arch import STRUCT_ORDER
from .bulk_decode import Layout, NoLayout, compile_layout, fold_column, value_layout
from .decode import MapDump, average, build_dump
from .entries import HIST_KINDS, STATS_KINDS
from ..lang.types import Agg, Int, Type

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..kernel.maps import MapColumns


def decode_map(name: str, key_type: Type | None, value_type: Type,
               columns: "MapColumns") -> MapDump:
    """``columns`` as a ``MapDump`` (keys decoded lazily, see ``MapTable``)."""
    try:
        return _decode(name, key_type, value_type, columns)
    except (NoLayout, struct.error):
        pairs = [(k, _cpu_values(v, columns)) for k, v in columns.pairs()]
        return build_dump(name, key_type, value_type, pairs)


def _cpu_values(raw: bytes, columns: "MapColumns") -> list[bytes]:
    step, size = columns.cpu_stride, columns.value_size
    return [raw[i:i + size] for i in range(0, step * columns.ncpus, step)]


def decode_values(value_type: Type, columns: "MapColumns") -> list:
    """Every entry's value: aggregations folded over the CPUs, anything
    else decoded from the first CPU's bytes."""
    if isinstance(value_type, Agg):
        return fold_column(value_type, columns.values, columns.count, columns.ncpus,
                           columns.cpu_stride, columns.value_size)
    return value_layout(value_type, columns.cpu_stride, columns.ncpus).decode_all(
        columns.values)


def _decode(name: str, key_type: Type | None, value_type: Type,
            columns: "MapColumns") -> MapDump:
    values = decode_values(value_type, columns)
    if isinstance(value_type, Agg) and value_type.kind in HIST_KINDS:
        return MapDump(name, key_type, value_type, _hist_groups(key_type, columns, values))
    if key_type is None:
        return MapDump(name, None, value_type, [(None, v) for v in values])
    return MapDump(name, key_type, value_type,
                   table=MapTable(key_type, value_type, columns.keys, columns.key_size, values))


def _hist_groups(key_type: Type | None, columns: "MapColumns", counts: list) -> list:
    """(user key, {bucket: count}) per user key, in the order the keys came:
    a hist key is the user key, then the bucket (its last u64)."""
    ks = columns.key_size
    bucket = ((ks - 8, "Q", 8),)
    if key_type is None:
        keys = [(None, b) for (b,) in struct.Struct(f"{STRUCT_ORDER}{ks - 8}xQ").iter_unpack(columns.keys)]
    else:
        keys = compile_layout(key_type, ks, extra=bucket).decode_all(columns.keys)
    groups: dict[object, dict[int, int]] = {}
    for (user, index), count in zip(keys, counts):
        buckets = groups.get(user)
        if buckets is None:
            groups[user] = buckets = {}
        buckets[index] = buckets.get(index, 0) + count
    return list(groups.items())


class MapTable:
    """A keyed map's entries: values decoded, keys as the kernel's packed
    bytes (``key_size`` each) decoded when asked."""

    def __init__(self, key_type: Type, value_type: Type, keys: bytes, key_size: int,
                 values: list):
        self.key_type = key_type
        self.value_type = value_type
        self.raw_keys = keys
        self.values = values
        self.layout: Layout = compile_layout(key_type, key_size)
        self._order_layout: Layout | None = None
        self._keys: list | None = None

    def __len__(self) -> int:
        return len(self.values)

    def keys(self) -> list:
        """Every key, decoded (once)."""
        if self._keys is None:
            self._keys = self.layout.decode_all(self.raw_keys)
        return self._keys

    def entries(self) -> list[tuple[object, object]]:
        return list(zip(self.keys(), self.values))

    # -- print order ---------------------------------------------------------------
    @property
    def order_layout(self) -> Layout:
        if self._order_layout is None:
            self._order_layout = compile_layout(self.key_type, self.layout.size, order=True)
        return self._order_layout

    def _orders(self, keys: list, indices: list[int] | None = None) -> list:
        """The key order (``entries.key_order``) of ``keys``, the keys at
        ``indices`` (all when None): the keys themselves where that is the
        same thing."""
        if self.layout.top_bits_clear(keys):
            return keys
        if indices is None:
            return self.order_layout.decode_all(self.raw_keys)
        at, raw = self.order_layout.decode_at, self.raw_keys
        return [at(raw, i) for i in indices]

    def value_orders(self) -> list | None:
        """The number each entry sorts by (``entries.value_order``), or
        None for a map sorted by key alone."""
        vt = self.value_type
        if isinstance(vt, Agg):
            if vt.kind in STATS_KINDS:
                return [average(vt, count, total) for count, total in self.values]
            return self.values
        return self.values if isinstance(vt, Int) else None

    def sorted_entries(self, top: int = 0) -> list[tuple[object, object]]:
        """(key, value) in print order; only the last ``top`` when set."""
        values, n = self.values, len(self.values)
        by_value = self.value_orders()
        cut = bool(top) and n > top
        if by_value is not None and cut:
            return self._top_by_value(by_value, top)
        if by_value is None and cut:
            orders = self._orders_of_all()
            rows = sorted(zip(orders, range(n)))[n - top:]
            at, raw = self.layout.decode_at, self.raw_keys
            return [(at(raw, i), values[i]) for _, i in rows]
        keys = self.keys()
        orders = self._orders(keys)
        if orders is keys and self.layout.kind != "shaped":
            columns = self._key_columns(keys)
            order = _column_sort(n, columns if by_value is None else [by_value, *columns])
            if cut:
                order = order[n - top:]
            return [(keys[i], values[i]) for i in order]
        if by_value is None:
            rows = sorted(zip(orders, range(n)))
            return [(keys[i], values[i]) for _, i in rows]
        rows = sorted(zip(by_value, orders, range(n)))
        if cut:
            rows = rows[n - top:]
        return [(keys[i], values[i]) for _, _, i in rows]

    def _key_columns(self, keys: list) -> list[list]:
        """The fields of flat keys as columns (the key itself when scalar)."""
        if self.layout.kind == "scalar":
            return [keys]
        return [list(map(itemgetter(i), keys)) for i in range(len(keys[0]))] if keys else []

    def _orders_of_all(self) -> list:
        """The key order of every entry, decoding no key for it unless the
        key is its own order."""
        if self.layout.orders_like_value and self.layout.kind != "shaped":
            return self._orders(self.keys())
        return self.order_layout.decode_all(self.raw_keys)

    def _top_by_value(self, by_value: list, top: int) -> list[tuple[object, object]]:
        """The last ``top`` entries by (value, key): only entries whose value
        reaches the ``top``-th largest can be among them, and only their
        keys are decoded."""
        threshold = heapq.nlargest(top, by_value)[-1]
        picked = [i for i, v in enumerate(by_value) if v >= threshold]
        at, raw = self.layout.decode_at, self.raw_keys
        keys = [at(raw, i) for i in picked]
        orders = self._orders(keys, picked)
        rows = sorted(zip([by_value[i] for i in picked], orders, range(len(picked))))
        values = self.values
        return [(keys[j], values[picked[j]]) for _, _, j in rows[len(rows) - top:]]


def _column_sort(n: int, columns: list[list]) -> list[int]:
    """The indices 0..n-1 ordered by (columns[0][i], columns[1][i], ...),
    ties in index order: one stable sort per column, the least significant
    first (sorting plain numbers is several times faster than comparing
    tuples); a column with one value throughout needs no pass."""
    order = list(range(n))
    for column in reversed(columns):
        if n and column.count(column[0]) != n:
            order.sort(key=column.__getitem__)
    return order
