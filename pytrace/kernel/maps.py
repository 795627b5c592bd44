"""The userspace view of a BPF map: create, read, write, iterate, clear.

Keys and values are raw bytes in the kernel's layout; the session decodes
them. Per-CPU maps read and write a ``list[bytes]``, one value per possible
CPU (the kernel pads each to 8 bytes; the padding is stripped here). Reading
a whole map uses BPF_MAP_LOOKUP_BATCH (5.6) when the kernel and map type
support it and falls back to BPF_MAP_GET_NEXT_KEY + lookup otherwise; the
printers take it as ``MapColumns`` (all keys in one bytes, all values in
another, padding kept), which ``render.map_table`` decodes in bulk.
"""
from __future__ import annotations

import errno
import os
from typing import Iterator

from . import bpf
from .bpf import BpfError
from .bpf_consts import MapType, UpdateFlag

_POSSIBLE_CPUS: list[int] | None = None


def parse_cpu_list(text: str) -> list[int]:
    """``"0-3,5"`` -> ``[0, 1, 2, 3, 5]`` (the kernel's cpulist format)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def possible_cpus() -> list[int]:
    """The CPUs a per-CPU map holds a value for (/sys/devices/system/cpu/possible)."""
    global _POSSIBLE_CPUS
    if _POSSIBLE_CPUS is None:
        with open("/sys/devices/system/cpu/possible") as f:
            _POSSIBLE_CPUS = parse_cpu_list(f.read())
    return _POSSIBLE_CPUS


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())


def _round8(n: int) -> int:
    return (n + 7) & ~7


#: errnos meaning "no batch operations here": fall back to one key at a time
_NO_BATCH = (errno.EINVAL, errno.EOPNOTSUPP, bpf.ENOTSUPP, errno.ENOSYS)
#: entries per BPF_MAP_LOOKUP_BATCH call (buffers of this many keys and values)
_BATCH_MAX = 1 << 16


class MapColumns:
    """A whole map as the kernel copies it: ``keys``, ``count`` keys of
    ``key_size`` bytes end to end, and ``values``, one ``value_stride``
    per entry. A per-CPU entry holds ``ncpus`` values of ``value_size``
    bytes, each padded to ``cpu_stride`` (8-byte multiples); otherwise
    ``ncpus`` is 1 and ``cpu_stride`` is ``value_size``."""
    __slots__ = ("keys", "values", "count", "key_size", "value_size", "ncpus", "cpu_stride")

    def __init__(self, keys: bytes, values: bytes, count: int, key_size: int,
                 value_size: int, ncpus: int = 1, cpu_stride: int | None = None):
        self.keys = keys
        self.values = values
        self.count = count
        self.key_size = key_size
        self.value_size = value_size
        self.ncpus = ncpus
        self.cpu_stride = value_size if cpu_stride is None else cpu_stride

    @property
    def value_stride(self) -> int:
        return self.cpu_stride * self.ncpus

    def key_list(self) -> list[bytes]:
        ks, keys = self.key_size, self.keys
        return [keys[i:i + ks] for i in range(0, ks * self.count, ks)]

    def value_list(self) -> list[bytes]:
        vs, values = self.value_stride, self.values
        return [values[i:i + vs] for i in range(0, vs * self.count, vs)]

    def pairs(self) -> list[tuple[bytes, bytes]]:
        return list(zip(self.key_list(), self.value_list()))

    def __repr__(self) -> str:
        return (f"MapColumns(count={self.count}, key_size={self.key_size}, "
                f"value_size={self.value_size}, ncpus={self.ncpus})")


class Map:
    """An open BPF map. Closing it (or leaving its ``with`` block) closes the fd."""

    def __init__(self, fd: int, map_type: int, key_size: int, value_size: int,
                 max_entries: int, name: str = ""):
        self.fd = fd
        self.map_type = MapType(map_type)
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.name = name
        self.percpu = self.map_type.is_percpu
        self.ncpus = len(possible_cpus()) if self.percpu else 1
        #: bytes the kernel copies for one value (all CPUs' values for per-CPU maps)
        self.raw_value_size = _round8(value_size) * self.ncpus if self.percpu else value_size
        #: read whole maps with BPF_MAP_LOOKUP_BATCH (the owner turns it off
        #: when the kernel lacks it: features.MAP_BATCH, ``--no-feature map_batch``)
        self.batch = True

    @classmethod
    def create(cls, map_type: int, key_size: int, value_size: int, max_entries: int,
               name: str = "", flags: int = 0, **extra) -> "Map":
        fd = bpf.map_create(map_type, key_size, value_size, max_entries, flags=flags,
                            name=name, **extra)
        return cls(fd, map_type, key_size, value_size, max_entries, name)

    # -- lifetime ------------------------------------------------------
    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def fileno(self) -> int:
        return self.fd

    def __enter__(self) -> "Map":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Map({self.name!r}, {self.map_type.name}, fd={self.fd}, key={self.key_size}, "
                f"value={self.value_size}, max={self.max_entries})")

    # -- values ----------------------------------------------------------
    def split_percpu(self, raw: bytes) -> list[bytes]:
        """One value per possible CPU out of the kernel's padded array."""
        step, size = _round8(self.value_size), self.value_size
        return [raw[i:i + size] for i in range(0, step * self.ncpus, step)]

    def _pack_value(self, value: bytes | list[bytes]) -> bytes:
        if not self.percpu:
            return bytes(value)  # type: ignore[arg-type]
        pad = b"\0" * (_round8(self.value_size) - self.value_size)
        if isinstance(value, (bytes, bytearray)):
            value = [bytes(value)] * self.ncpus
        if len(value) != self.ncpus:
            raise ValueError(f"per-CPU value needs {self.ncpus} entries, not {len(value)}")
        return b"".join(bytes(v) + pad for v in value)

    def lookup(self, key: bytes) -> bytes | list[bytes] | None:
        raw = bpf.map_lookup(self.fd, key, self.raw_value_size)
        if raw is None or not self.percpu:
            return raw
        return self.split_percpu(raw)

    def update(self, key: bytes, value: bytes | list[bytes],
               flags: int = UpdateFlag.ANY) -> None:
        """Set ``key``; a per-CPU map takes one value per CPU, or one value for all."""
        bpf.map_update(self.fd, key, self._pack_value(value), flags)

    def delete(self, key: bytes) -> bool:
        return bpf.map_delete(self.fd, key)

    # -- whole map ---------------------------------------------------------
    def keys(self) -> Iterator[bytes]:
        """Every key, once each, even while the map changes underneath.

        The next key is fetched before a key is handed out, so the caller
        may delete the key it holds. When the key we stand on vanishes
        anyway (the program deleted it), the kernel restarts from the first
        key; keys already seen are then skipped, and the walk is bounded so
        a map churning faster than we read cannot trap us."""
        fd, key_size = self.fd, self.key_size
        seen: set[bytes] = set()
        budget = 8 * self.max_entries + 64
        key = bpf.map_next_key(fd, None, key_size)
        while key is not None and budget > 0:
            budget -= 1
            following = bpf.map_next_key(fd, key, key_size)
            if key not in seen:
                seen.add(key)
                yield key
            key = following

    def read_columns(self) -> "MapColumns":
        """Every entry at once, as two packed arrays (see ``MapColumns``):
        by BPF_MAP_LOOKUP_BATCH when ``batch`` (the first refusal of this
        map type turns it off), else key by key."""
        if self.batch:
            columns = self._columns_batched()
            if columns is not None:
                return columns
            self.batch = False
        return self._columns_by_key()

    def _columns(self, keys: bytes, values: bytes, count: int) -> "MapColumns":
        return MapColumns(keys, values, count, self.key_size, self.value_size,
                          self.ncpus, _round8(self.value_size) if self.percpu else self.value_size)

    def _columns_by_key(self) -> "MapColumns":
        keys, values = [], []
        fd, size = self.fd, self.raw_value_size
        for key in list(self.keys()):
            raw = bpf.map_lookup(fd, key, size)
            if raw is not None:         # deleted since we listed it
                keys.append(key)
                values.append(raw)
        return self._columns(b"".join(keys), b"".join(values), len(keys))

    def _columns_batched(self) -> "MapColumns | None":
        """BPF_MAP_LOOKUP_BATCH, ``_BATCH_MAX`` entries per call, or None
        when the kernel or this map type has no batch lookup."""
        ks, vs = self.key_size, self.raw_value_size
        count = min(_BATCH_MAX, max(self.max_entries, 1))
        token: bytes | None = None
        keys: list[bytes] = []
        values: list[bytes] = []
        total = 0
        while True:
            try:
                batch = bpf.map_lookup_batch(self.fd, token, ks, vs, count)
            except BpfError as e:
                if e.errno == errno.ENOSPC and count < (1 << 20):
                    count *= 4          # one hash bucket holds more than count
                    continue
                if e.errno in _NO_BATCH and token is None:
                    return None
                raise
            keys.append(batch.keys)
            values.append(batch.values)
            total += batch.count
            if batch.done:
                break
            token = batch.next_token
        joined_keys = keys[0] if len(keys) == 1 else b"".join(keys)
        del keys
        joined_values = values[0] if len(values) == 1 else b"".join(values)
        return self._columns(joined_keys, joined_values, total)

    # the older names, which tests of the fallback still use
    @property
    def _batch_ok(self) -> bool:
        return self.batch

    @_batch_ok.setter
    def _batch_ok(self, on: bool) -> None:
        self.batch = on

    def _items_by_key(self) -> list[tuple[bytes, bytes]]:
        return self._columns_by_key().pairs()

    def _items_batched(self) -> list[tuple[bytes, bytes]] | None:
        columns = self._columns_batched()
        return None if columns is None else columns.pairs()

    def items_raw(self) -> list[tuple[bytes, bytes]]:
        """(key, value bytes as the kernel copies them) for every entry."""
        return self.read_columns().pairs()

    def items(self) -> list[tuple[bytes, bytes | list[bytes]]]:
        """(key, value) for every entry; per-CPU values as one bytes per CPU."""
        items = self.items_raw()
        if not self.percpu:
            return items  # type: ignore[return-value]
        return [(k, self.split_percpu(v)) for k, v in items]

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def _all_keys(self) -> list[bytes]:
        if self.batch:
            return self.read_columns().key_list()
        return list(self.keys())

    def clear(self) -> None:
        """Delete every entry (arrays cannot lose entries: they are zeroed)."""
        if self.map_type.is_array:
            self.zero()
            return
        keys = self._all_keys()
        if keys and self.batch:
            try:
                bpf.map_delete_batch(self.fd, b"".join(keys), len(keys))
                return
            except BpfError:
                pass    # a key went meanwhile, or no batch delete: one at a time
        for key in keys:
            self.delete(key)

    def zero(self) -> None:
        """Set every value to zero, keeping the keys."""
        zero = self._pack_value(b"\0" * self.value_size)
        keys = self._all_keys()
        if keys and self.batch:
            try:
                bpf.map_update_batch(self.fd, b"".join(keys), zero * len(keys), len(keys))
                return
            except BpfError:
                pass
        for key in keys:
            try:
                bpf.map_update(self.fd, key, zero, UpdateFlag.EXIST)
            except BpfError as e:
                if e.errno != errno.ENOENT:   # deleted meanwhile: nothing to zero
                    raise
