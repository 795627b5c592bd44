"""Loading a script into the kernel: maps and programs become fds."""
from __future__ import annotations

from ..lang.program import MapKind


def _map_type(kind: MapKind) -> int:
    from ..kernel.bpf import MapType
    return {MapKind.HASH: MapType.HASH, MapKind.PERCPU_HASH: MapType.PERCPU_HASH,
            MapKind.ARRAY: MapType.ARRAY, MapKind.PERCPU_ARRAY: MapType.PERCPU_ARRAY,
            MapKind.RINGBUF: MapType.RINGBUF,
            MapKind.PERF_EVENT_ARRAY: MapType.PERF_EVENT_ARRAY,
            MapKind.STACK_TRACE: MapType.STACK_TRACE, MapKind.LPM_TRIE: MapType.LPM_TRIE}[kind]


def _bpf_name(name: str) -> str:
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name.lstrip("@"))
    return (clean or "anon")[:15]
