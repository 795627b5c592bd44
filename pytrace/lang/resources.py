"""What all probes of a script share while they are lowered: maps, events,
pytrace's counters and the size of the per-CPU scratch area."""
from __future__ import annotations

from ..base.diagnostics import Loc
from .kernelinfo import Feature, KernelInfo
from .program import Counter, CounterSpec, EventKind, EventSpec, Limits, MapKind, MapSpec
from .types import Tuple

EVENTS_MAP = "events"
SCRATCH_MAP = "scratch"
COUNTERS_MAP = "counters"
#: the ring of a script whose only records are exit()'s: one record ends the
#: run, so a burst never needs room (the 4 MiB default is 8 MiB of mapped
#: pages in pytrace's RSS: the kernel maps the data area twice)
EXIT_ONLY_RING = 64 << 10


class Resources:
    """What all probes of a script share: maps, events, counters, scratch."""

    def __init__(self, limits: Limits, kernel: KernelInfo):
        self.limits = limits
        self.kernel = kernel
        self.maps: dict[str, MapSpec] = {}
        self.events: list[EventSpec] = []
        self.counters: list[CounterSpec] = []
        self.scratch_size = 0
        self.ringbuf = kernel.has(Feature.RINGBUF)

    def event(self, kind: EventKind, fmt: str = "", args: Tuple = Tuple(()), map: str = "",
              loc: Loc | None = None) -> EventSpec:
        spec = EventSpec(len(self.events) + 1, kind, fmt, args, map, loc)
        self.events.append(spec)
        return spec

    def counter(self, kind: Counter, map: str = "") -> int:
        for c in self.counters:
            if c.kind is kind and c.map == map:
                return c.index
        c = CounterSpec(len(self.counters), kind, map)
        self.counters.append(c)
        return c.index

    def ring_size(self) -> int:
        """The ring's size: the limit, or a small ring when every record is
        an exit() (the first one ends the run)."""
        if all(e.kind is EventKind.EXIT for e in self.events):
            return min(self.limits.ringbuf_size, EXIT_ONLY_RING)
        return self.limits.ringbuf_size

    def internal_maps(self, nprobes: int, ncpus: int) -> list[MapSpec]:
        out = []
        if self.events:
            if self.ringbuf:
                out.append(MapSpec(EVENTS_MAP, MapKind.RINGBUF, 0, 0, self.ring_size(),
                                   user=False))
            else:
                out.append(MapSpec(EVENTS_MAP, MapKind.PERF_EVENT_ARRAY, 4, 4,
                                   max(ncpus, 1), user=False))
        if self.scratch_size:
            out.append(MapSpec(SCRATCH_MAP, MapKind.PERCPU_ARRAY, 4,
                               (self.scratch_size + 7) // 8 * 8, max(nprobes, 1), user=False))
        if self.counters:
            out.append(MapSpec(COUNTERS_MAP, MapKind.ARRAY, 4, 8 * len(self.counters), 1,
                               user=False))
        return out
