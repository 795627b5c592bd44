"""pytrace's own counters of a loaded script (lost events, full maps),
read without printing: for the exporter's health metrics and the
streaming API's ``lost`` (no prometheus_client needed)."""
from __future__ import annotations

from ...base.arch import BYTE_ORDER
from ...base.diagnostics import PytraceError


def read_counters(loader) -> tuple[int, dict[str, int]]:
    """(lost events the programs counted, map name -> updates dropped as full)."""
    from ...lang.program import Counter
    script = loader.script
    counters = loader.maps.get("counters") if script is not None else None
    values: list[int] = []
    if counters is not None:
        try:
            raw = counters.lookup(b"\0\0\0\0")
        except (OSError, PytraceError):
            raw = None                  # closed under us
        raw = raw[0] if isinstance(raw, list) else raw
        if raw:
            values = [int.from_bytes(raw[i:i + 8], BYTE_ORDER) for i in range(0, len(raw), 8)]
    lost, full = 0, {}
    for c in script.counters if script is not None else ():
        n = values[c.index] if c.index < len(values) else 0
        if c.kind is Counter.LOST_EVENTS:
            lost += n
        elif c.kind is Counter.MAP_FULL:
            full[c.map] = full.get(c.map, 0) + n
    return lost, full
