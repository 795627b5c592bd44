"""Raw map and event bytes -> Python values, per-CPU folding, bucket math.

Pure: no syscalls, no files. The session reads bytes (kernel.maps,
kernel.buffers) and hands them here; ``output`` prints the results.

Python values by type (all little-endian, as the BPF target is):

=================  =====================================================
Int                int, sign per ``Int.signed``
Str                str up to the first NUL, UTF-8 with invalid bytes kept
                   as surrogate escapes (bpftrace prints the raw bytes);
                   a buffer with no NUL was truncated and gets ``..``
Ptr, Special,      int (unsigned 64-bit); output formats them (``0x..``,
Stack              symbols, frames)
Tuple, Struct,     tuple of element values (field names come from the
Array              type)
Inet6              str, the address as text (``fe80::1``)
LpmKey             tuple: the exact parts (int), then "address/prefix"
Agg                see ``fold_percpu``
=================  =====================================================
"""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
from ..base.record import record

from pytrace.lang.types import (
    Agg, AggKind, Array, Ptr, Special, Stack, Str, Struct, Tuple, Type, Void, Int,
    Buffer, Inet6, LpmKey,
)

_U64 = 8
_MASK64 = (1 << 64) - 1
#: what bpftrace (0.21+, config ``str_trunc_trailer``) appends to a string
#: that filled its whole buffer without a NUL
STR_TRUNC_TRAILER = ".."


def _u64(buf: bytes, off: int) -> int:
    return int.from_bytes(buf[off:off + _U64], BYTE_ORDER)


def _s64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


def decode(type: Type, buf: bytes, offset: int = 0, *, trailer: str = STR_TRUNC_TRAILER):
    """The Python value of ``type`` stored at ``buf[offset:]``."""
    if isinstance(type, Int):
        return int.from_bytes(buf[offset:offset + type.size], BYTE_ORDER, signed=type.signed)
    if isinstance(type, (Inet6, LpmKey)):          # network addresses: text
        from ..base.netaddr import inet6_text, lpm_key_value
        raw = bytes(buf[offset:offset + type.size])
        return inet6_text(raw) if isinstance(type, Inet6) else lpm_key_value(
            raw, type.exact, type.addr)
    if isinstance(type, Buffer):                    # buf(): length byte, then the data
        from .formats import BufferValue
        raw = bytes(buf[offset:offset + type.cap])
        return BufferValue.of(raw[1:1 + min(raw[0], type.cap - 1)])
    if isinstance(type, Str):
        raw = bytes(buf[offset:offset + type.cap])
        end = raw.find(b"\0")
        if end < 0:
            return raw.decode("utf-8", "surrogateescape") + trailer
        return raw[:end].decode("utf-8", "surrogateescape")
    if isinstance(type, (Ptr, Special, Stack)):
        return _u64(buf, offset)
    if isinstance(type, Tuple):
        return tuple(decode(t, buf, offset + off, trailer=trailer)
                     for t, off in zip(type.elems, type.offsets))
    if isinstance(type, Struct):
        return tuple(_decode_field(f, buf, offset, trailer) for f in type.fields)
    if isinstance(type, Array):
        step = type.elem.size
        return tuple(decode(type.elem, buf, offset + i * step, trailer=trailer)
                     for i in range(type.count))
    if isinstance(type, Agg):
        return fold_percpu(type, [bytes(buf[offset:offset + type.size])])
    if isinstance(type, Void):
        return None
    raise TypeError(f"cannot decode a value of type {type}")


def _decode_field(f, buf: bytes, base: int, trailer: str):
    if f.bits is None or not isinstance(f.type, Int):
        return decode(f.type, buf, base + f.offset, trailer=trailer)
    bit_off, width = f.bits
    unit = int.from_bytes(buf[base + f.offset:base + f.offset + f.type.size], BYTE_ORDER)
    value = (unit >> bit_off) & ((1 << width) - 1)
    if f.type.signed and width and value >> (width - 1):
        value -= 1 << width
    return value


def zero_value(type: Type):
    """The value of ``type`` whose bytes are all zero (what bpftrace prints
    for ``print(@x)`` of a scalar map that was never written)."""
    if isinstance(type, Agg):
        return fold_percpu(type, [bytes(type.size)])
    return decode(type, bytes(type.size), trailer="")


# ------------------------------------------------------------ aggregations

def agg_signed(agg: Agg) -> bool:
    """Whether an aggregation's value prints as signed.

    bpftrace keeps the signedness of the aggregated expression (``sum`` of a
    ``u64`` prints unsigned). ``types.Agg`` has no such field yet, so until it
    grows ``signed``: count is unsigned, everything else signed (the i64
    layouts documented on ``Agg``).
    """
    signed = getattr(agg, "signed", None)
    if signed is not None:
        return bool(signed)
    return agg.kind is not AggKind.COUNT


def fold_percpu(agg: Agg, values: list[bytes]):
    """Fold one map value's per-CPU slots (one ``bytes`` per CPU; a single
    element for a map that is not per-CPU) into its Python value:

    COUNT, SUM: int, the 64-bit wrapping sum (signed per ``agg_signed``).
    MIN, MAX: int, the least/greatest value among CPUs whose "set" flag is
    non-zero; 0 when no CPU has one.
    AVG, STATS: (count, total), both summed over CPUs; count unsigned,
    total signed per ``agg_signed``.
    HIST, LHIST: int, the sum of this bucket's counts (the bucket index is
    in the map key; ``build_dump`` groups buckets by user key).
    """
    kind = agg.kind
    signed = agg_signed(agg)
    if kind in (AggKind.COUNT, AggKind.SUM, AggKind.HIST, AggKind.LHIST):
        total = sum(_u64(v, 0) for v in values) & _MASK64
        return _s64(total) if signed and kind is AggKind.SUM else total
    if kind in (AggKind.MIN, AggKind.MAX):
        best = None
        for v in values:
            if not _u64(v, 8):
                continue
            x = _s64(_u64(v, 0)) if signed else _u64(v, 0)
            if best is None or (x > best if kind is AggKind.MAX else x < best):
                best = x
        return 0 if best is None else best
    if kind in (AggKind.AVG, AggKind.STATS):
        count = sum(_u64(v, 0) for v in values) & _MASK64
        total = sum(_u64(v, 8) for v in values) & _MASK64
        return count, _s64(total) if signed else total
    raise TypeError(f"unknown aggregation {kind}")


def average(agg: Agg, count: int, total: int) -> int:
    """bpftrace's integer average: C division (truncating toward zero), 0
    when nothing was counted."""
    if not count:
        return 0
    if agg_signed(agg):
        return cdiv(total, count)
    return (total & _MASK64) // count


def cdiv(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


# ---------------------------------------------------------------- map dumps

class MapDump:
    """A map's contents, decoded, as the printers take them.

    ``key_type`` is None for a scalar map (``@x = 1``; keys are then None).
    ``entries`` is in no particular order (printers sort as bpftrace does).
    Values by ``value_type``: for ``Agg`` see ``fold_percpu``, except that
    HIST/LHIST values are ``{bucket_index: count}`` dicts per user key;
    anything else is ``decode``'s value.

    A dump read in bulk (``map_table.decode_map``) has a ``table`` holding
    the keys still as bytes: ``entries`` decodes them when first asked,
    and the printers ask the table for the entries in print order instead,
    so ``print(@m, top)`` decodes only the keys it prints.
    """
    __slots__ = ("name", "key_type", "value_type", "_entries", "table")

    def __init__(self, name: str, key_type: Type | None, value_type: Type,
                 entries: "list[tuple[object, object]] | None" = None, table=None):
        self.name = name
        self.key_type = key_type
        self.value_type = value_type
        self._entries = entries if entries is not None or table is not None else []
        self.table = table

    @property
    def entries(self) -> list[tuple[object, object]]:
        if self._entries is None:
            self._entries = self.table.entries()
        return self._entries

    @entries.setter
    def entries(self, entries: list[tuple[object, object]]) -> None:
        self._entries = entries
        self.table = None

    def __len__(self) -> int:
        """The number of entries (without decoding a bulk-read map's keys)."""
        if self._entries is None:
            return len(self.table)
        return len(self._entries)

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return ((self.name, self.key_type, self.value_type, self.entries) ==
                (other.name, other.key_type, other.value_type, other.entries))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"MapDump(name={self.name!r}, key_type={self.key_type!r}, "
                f"value_type={self.value_type!r}, entries={self.entries!r})")

    @property
    def is_scalar(self) -> bool:
        return self.key_type is None

    @property
    def is_hist(self) -> bool:
        return isinstance(self.value_type, Agg) and self.value_type.kind in (
            AggKind.HIST, AggKind.LHIST)


def split_hist_key(key_type: Type | None, raw_key: bytes) -> tuple[object, int]:
    """A hist/lhist map key -> (user key, bucket index): the bucket is the
    key's last u64, the user key starts at offset 0."""
    bucket = _u64(raw_key, len(raw_key) - _U64)
    user = None if key_type is None else decode(key_type, raw_key, 0)
    return user, bucket


def build_dump(name: str, key_type: Type | None, value_type: Type,
               raw: "list[tuple[bytes, bytes | list[bytes]]]") -> MapDump:
    """Decode ``(key bytes, value)`` pairs as ``kernel.maps.Map.items()``
    returns them (value: one ``bytes``, or one per CPU for a per-CPU map)
    into a ``MapDump``. Non-aggregate values use the first CPU's bytes."""
    raw = [(k, [v] if isinstance(v, (bytes, bytearray, memoryview)) else v) for k, v in raw]
    entries: list[tuple[object, object]] = []
    if isinstance(value_type, Agg) and value_type.kind in (AggKind.HIST, AggKind.LHIST):
        groups: dict[object, dict[int, int]] = {}
        for raw_key, values in raw:
            user, bucket = split_hist_key(key_type, raw_key)
            buckets = groups.setdefault(user, {})
            buckets[bucket] = buckets.get(bucket, 0) + fold_percpu(value_type, values)
        entries = list(groups.items())
    elif isinstance(value_type, Agg):
        for raw_key, values in raw:
            key = None if key_type is None else decode(key_type, raw_key)
            entries.append((key, fold_percpu(value_type, values)))
    else:
        for raw_key, values in raw:
            key = None if key_type is None else decode(key_type, raw_key)
            entries.append((key, decode(value_type, values[0])))
    return MapDump(name, key_type, value_type, entries)


# ------------------------------------------------------------- bucket math

def hist_index(value: int, bits: int = 0) -> int:
    """The bucket of ``hist(value, bits)``, as bpftrace's BPF code computes
    it: 0 for negatives; with N = 2**bits, values 0..N-1 go to 1..N; above,
    each power of two is split into N buckets, indexed
    ``((floor(log2 v) - bits + 1) << bits) + (next ``bits`` bits of v) + 1``.
    """
    value = _s64(value)
    if value < 0:
        return 0
    mask = (1 << bits) - 1
    if value <= mask:
        return value + 1
    shift = value.bit_length() - 1 - bits
    return ((shift + 1) << bits) + ((value >> shift) & mask) + 1


def lhist_index(value: int, lo: int, hi: int, step: int) -> int:
    """The bucket of ``lhist(value, lo, hi, step)``: 0 below ``lo``, then one
    bucket per step, and ``1 + (hi - lo) / step`` for values above ``hi``."""
    value = _s64(value)
    if value < lo:
        return 0
    if value > hi:
        return 1 + (hi - lo) // step
    return 1 + (value - lo) // step


@record(frozen=True)
class Bound:
    """A bucket boundary: its number, its label text, and whether bpftrace
    holds it as a plain integer (two adjacent plain bounds print as one
    value, ``[3]``) rather than a suffixed label (``1K``)."""
    value: int
    text: str
    plain: bool = True


@record(frozen=True)
class Bucket:
    """One printed histogram row: [lower, upper) and its count. ``lower``
    is None for the below-range bucket, ``upper`` None for lhist's
    above-range bucket."""
    lower: Bound | None
    upper: Bound | None
    count: int

    @property
    def label(self) -> str:
        """The row label as bpftrace prints it: ``(..., 0)``, ``[0]``,
        ``[2, 4)``, ``[1K, 2K)``, ``[100, ...)``."""
        if self.lower is None:
            return f"(..., {self.upper.text})"
        if self.upper is None:
            return f"[{self.lower.text}, ...)"
        if self.lower.plain and self.upper.plain and self.lower.value + 1 == self.upper.value:
            return f"[{self.lower.text}]"
        return f"[{self.lower.text}, {self.upper.text})"


_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


def hist_bound(index: int, bits: int = 0) -> Bound:
    """The upper bound of hist bucket ``index`` (= the lower bound of the
    next one): the index itself up to ``2 << bits``, above that a power of
    two times (N + sub-bucket), printed with a K/M/G/T/P/E suffix for each
    factor 1024."""
    if index <= 2 << bits:
        return Bound(index, str(index))
    n = 1 << bits
    interval = index & (n - 1)
    power = (index >> bits) - 1
    value = (1 << power) * (n + interval)
    decade = power // 10
    text = f"{(1 << (power - 10 * decade)) * (n + interval)}{_SUFFIXES[decade]}"
    return Bound(value, text, plain=False)


def lhist_bound(number: int, step: int) -> Bound:
    """An lhist boundary: a plain number unless the step is a multiple of
    1024, then suffixed (``0``, ``8K``, ``1M``)."""
    if step % 1024:
        return Bound(number, str(number))
    if number == 0:
        text = "0"
    elif number % (1 << 20) == 0:
        text = f"{number >> 20}M"
    elif number % 1024 == 0:
        text = f"{number >> 10}K"
    else:
        text = str(number)
    return Bound(number, text, plain=False)


def _used_range(counts: dict[int, int]) -> tuple[int, int] | None:
    used = [i for i, c in counts.items() if c > 0]
    return (min(used), max(used)) if used else None


def hist_buckets(counts: dict[int, int], bits: int = 0, div: int = 1) -> list[Bucket]:
    """The rows bpftrace prints for a hist: every bucket from the first to
    the last non-empty one, counts divided by ``div`` (``print(@h, 0, div)``)."""
    span = _used_range(counts)
    if span is None:
        return []
    div = div or 1
    return [Bucket(hist_bound(i - 1, bits) if i else None, hist_bound(i, bits),
                   counts.get(i, 0) // div)
            for i in range(span[0], span[1] + 1)]


def lhist_buckets(counts: dict[int, int], lo: int, hi: int, step: int) -> list[Bucket]:
    """The rows bpftrace prints for an lhist (``div`` does not apply)."""
    span = _used_range(counts)
    if span is None:
        return []

    def bound(i: int) -> Bound | None:
        number = lo + i * step
        return lhist_bound(number, step) if number <= hi else None

    return [Bucket(bound(i - 1) if i else None, bound(i), counts.get(i, 0))
            for i in range(span[0], span[1] + 1)]


def agg_buckets(agg: Agg, counts: dict[int, int], div: int = 1) -> list[Bucket]:
    """Rows for a HIST (params ``(bits,)`` or ``()``) or LHIST (params
    ``(min, max, step)``) value."""
    if agg.kind is AggKind.LHIST:
        lo, hi, step = agg.params
        return lhist_buckets(counts, lo, hi, step)
    bits = agg.params[0] if agg.params else 0
    return hist_buckets(counts, bits, div)
