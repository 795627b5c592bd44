"""Reading a session's maps for printing: one map when a program says
``print(@m)`` or the REPL asks, every user map at the end (as bpftrace
prints them at exit), and pytrace's own counters (lost events, full maps)."""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
from ..lang.program import Counter


class MapReader:
    """Reads the maps of a ``loader.Loader`` (its script says their types)."""

    def __init__(self, loader):
        self.loader = loader

    def dump(self, name: str):
        """Map ``name`` as a ``render.decode.MapDump``, read whole and
        decoded in bulk (its keys as the printer needs them)."""
        from ..render.map_table import decode_map
        spec = self.loader.script.map(name)
        return decode_map(name, spec.key, spec.value, self.loader.maps[name].read_columns())

    def print_at_exit(self, printer, lost: int, reported: int = 0) -> None:
        """Every user map with entries, by name, then the counters' warnings
        and ``lost`` (the event buffer's) plus the lost events programs
        counted, less the ``reported`` already while the run went on."""
        user = sorted((m for m in self.loader.script.user_maps), key=lambda m: m.name)
        dumps = [self.dump(m.name) for m in user]
        if any(len(d) for d in dumps):
            printer.end()
            for d in dumps:
                if len(d):
                    printer.map(d)
        self.report_counters(printer, lost, reported)

    def _counter_values(self) -> list[int]:
        counters = self.loader.maps.get("counters")
        values: list[int] = []
        if counters is not None:
            raw = counters.lookup(b"\0\0\0\0")
            raw = raw[0] if isinstance(raw, list) else raw
            if raw:
                values = [int.from_bytes(raw[i:i + 8], BYTE_ORDER) for i in range(0, len(raw), 8)]
        return values

    def lost_counted(self) -> int:
        """The events programs could not send (a full ring buffer), so far."""
        values = self._counter_values()
        return sum(values[c.index] for c in self.loader.script.counters
                   if c.kind is Counter.LOST_EVENTS and c.index < len(values))

    def report_counters(self, printer, lost: int, reported: int = 0) -> None:
        script = self.loader.script
        values = self._counter_values()
        for c in script.counters:
            n = values[c.index] if c.index < len(values) else 0
            if c.kind is Counter.LOST_EVENTS:
                lost += n
            elif c.kind is Counter.MAP_FULL and n:
                limit = script.limits.max_map_keys
                printer.message(
                    f"warning: map {c.map} was full ({limit} keys): {n} update"
                    f"{'s were' if n != 1 else ' was'} dropped; raise the limit with "
                    f"PYTRACE_MAX_MAP_KEYS or config = {{ max_map_keys = N }}")
        if lost > reported:
            printer.lost(lost - reported)
