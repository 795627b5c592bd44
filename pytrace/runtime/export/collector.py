"""Maps as Prometheus metrics, read at scrape time.

``MapCollector`` is a ``prometheus_client`` custom collector: each scrape
(in the HTTP server's thread) reads every user map of every exported
script through its ``MapReader`` and turns it into metric families:

    count() / sum()         counter   <prefix>_<map>_total
    min() / max() / values  gauge     <prefix>_<map>
    avg() / stats()         summary   <prefix>_<map>_sum and _count
    hist() / lhist()        histogram <prefix>_<map>_bucket{le=…} (+ _count),
                            cumulative, at the map's own bucket bounds

A bpftrace bucket [lo, hi) holds integers, so its Prometheus bound is
``le = hi - 1``; the last lhist bucket (and nothing above hist's last used
one) is ``+Inf``. A hist keeps no sum of its values, so no ``_sum`` is
exported for it (its ``_count`` is). Keys become labels (``config.ExportConfig``); past a
map's series cap the keys after the first N (in sorted order) are left
out and counted in ``<prefix>_dropped_series_total{map=…}``.
Non-numeric values (strings, stacks …) are not exported.
"""
from __future__ import annotations

import re
import threading

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ...base.diagnostics import PytraceError
from ...base.record import field, record
from ...lang.types import Agg, AggKind, Int, Tuple
from ...render.decode import hist_bound
from .config import ExportConfig
from .counters import read_counters
from .exposition import MapFamily

_BAD = re.compile(r"[^a-zA-Z0-9_]")
INF = float("inf")


@record
class ExportedScript:
    """One script whose maps are exported: its file name (for help text),
    its settings, its loader (maps and compiled script), and for health
    metrics its event stream and ``attached`` (how many attachments are
    live now). ``namespace``: put in front
    of map names when an agent runs several scripts."""
    name: str
    config: ExportConfig
    loader: object
    events: object = None
    attached: object = None          # () -> int
    namespace: str = ""
    dropped: dict = field(default_factory=dict)     # map name -> series left out


def metric_base(prefix: str, namespace: str, map_name: str) -> str:
    """``@opens`` -> ``pytrace_opens``; ``@`` -> ``pytrace_map``."""
    name = map_name.lstrip("@") or "map"
    parts = [prefix] + ([namespace] if namespace else []) + [name]
    return _BAD.sub("_", "_".join(parts))


def key_arity(key_type) -> int:
    if key_type is None:
        return 0
    return len(key_type.elems) if isinstance(key_type, Tuple) else 1


def label_values(key, arity: int) -> list[str]:
    if arity == 0:
        return []
    values = key if arity > 1 else (key,)
    return [_label(v) for v in values]


def _label(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def label_columns(keys: list, arity: int) -> list[list[str]]:
    """The keys' label values, one column per key field (``label_values``
    of every key, transposed)."""
    if arity == 0:
        return []
    fields = [keys] if arity == 1 else [list(c) for c in zip(*keys)] if keys else [[]] * arity
    return [list(map(str, c)) if set(map(type, c)) <= {int} else list(map(_label, c))
            for c in fields]


def _keys_values(dump) -> tuple[list, list]:
    """The dump's keys and values as two lists (a bulk read's as they are)."""
    table = dump.table
    if table is not None:
        return table.keys(), table.values
    entries = dump.entries
    return [k for k, _ in entries], [v for _, v in entries]


def _kind(value_type) -> str | None:
    if isinstance(value_type, Agg):
        return {AggKind.COUNT: "counter", AggKind.SUM: "counter", AggKind.MIN: "gauge",
                AggKind.MAX: "gauge", AggKind.AVG: "summary", AggKind.STATS: "summary",
                AggKind.HIST: "histogram", AggKind.LHIST: "histogram"}[value_type.kind]
    return "gauge" if isinstance(value_type, Int) else None


def histogram_buckets(agg: Agg, counts: dict[int, int]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs for a hist/lhist value, ending with
    +Inf: every bucket from the first up to the last used one (hist) or
    all of the lhist's buckets, so the set of bounds only grows."""
    if agg.kind is AggKind.LHIST:
        lo, hi, step = agg.params
        # bucket i < lo + i*step while that is <= hi; the one after is open (+Inf)
        bounds = [lo + i * step - 1 for i in range((hi - lo) // step + 1)]
    else:
        bits = agg.params[0] if agg.params else 0
        used = [i for i, c in counts.items() if c]
        last = max(used) if used else 0
        bounds = [hist_bound(i, bits).value - 1 for i in range(last + 1)]
    out, total = [], 0
    for i, bound in enumerate(bounds):
        total += counts.get(i, 0)
        out.append((str(bound), total))
    total = sum(counts.values())
    out.append(("+Inf", total))
    return out


class MapCollector:
    """The custom collector; ``scripts`` may change between scrapes (agent
    reloads) under ``lock``."""

    def __init__(self, scripts: list[ExportedScript], build_info: dict[str, str]):
        self.scripts = scripts
        self.build_info = build_info
        self.lock = threading.Lock()
        self.scrapes = 0

    def describe(self):
        return []           # no registration-time scrape: maps change under us

    def collect(self):
        with self.lock:
            scripts = list(self.scripts)
        self.scrapes += 1
        prefix = scripts[0].config.prefix if scripts else "pytrace"
        for s in scripts:
            yield from self._script_metrics(s)
        yield from self._health(prefix, scripts)

    # -- the maps ------------------------------------------------------------------
    def _script_metrics(self, s: ExportedScript):
        from ..mapreader import MapReader
        script = s.loader.script
        if script is None:
            return
        reader = MapReader(s.loader)
        for spec in sorted(script.user_maps, key=lambda m: m.name):
            if spec.name not in s.loader.maps:
                continue
            try:
                dump = reader.dump(spec.name)
            except (OSError, PytraceError):
                continue                       # closed under us (reload, exit)
            family = self._family(s, dump)
            if family is not None:
                yield family

    def _family(self, s: ExportedScript, dump):
        kind = _kind(dump.value_type)
        if kind is None:
            return None
        arity = key_arity(dump.key_type)
        labels = list(s.config.labels_for(dump.name, arity))
        base = metric_base(s.config.prefix, s.namespace, dump.name)
        help_text = f"{dump.name} of {s.name}"
        keys, values = _keys_values(dump)
        cap = s.config.cap_for(dump.name)
        if len(keys) > cap:
            order = sorted(range(len(keys)), key=lambda i: _sort_key(keys[i]))[:cap]
            s.dropped[dump.name] = s.dropped.get(dump.name, 0) + len(keys) - cap
            keys, values = [keys[i] for i in order], [values[i] for i in order]
        if kind == "histogram":
            values = [histogram_buckets(dump.value_type, counts) for counts in values]
        return MapFamily(base, help_text, kind, labels, label_columns(keys, arity), values)

    # -- the agent's own health ------------------------------------------------------
    def _health(self, prefix: str, scripts: list[ExportedScript]):
        info = GaugeMetricFamily(f"{prefix}_build_info", "pytrace's version",
                                 labels=list(self.build_info))
        info.add_metric(list(self.build_info.values()), 1)
        yield info
        lost = CounterMetricFamily(f"{prefix}_lost_events", "events the kernel dropped "
                                   "(buffer full)", labels=["script"])
        full = CounterMetricFamily(f"{prefix}_map_full_drops", "map updates dropped "
                                   "because the map was full", labels=["script", "map"])
        probes = GaugeMetricFamily(f"{prefix}_probes_attached", "probes attached now",
                                   labels=["script"])
        dropped = CounterMetricFamily(f"{prefix}_dropped_series", "series left out of "
                                      "scrapes past the map's cap (summed over scrapes)",
                                      labels=["script", "map"])
        for s in scripts:
            counted_lost, map_full = read_counters(s.loader)
            buffer_lost = s.events.lost if s.events is not None else 0
            lost.add_metric([s.name], buffer_lost + counted_lost)
            for name, n in sorted(map_full.items()):
                full.add_metric([s.name, name], n)
            probes.add_metric([s.name], s.attached() if s.attached is not None else 0)
            for name, n in sorted(s.dropped.items()):
                dropped.add_metric([s.name, name], n)
        yield from (lost, full, probes, dropped)


def _sort_key(key):
    return tuple(str(k) for k in key) if isinstance(key, tuple) else (str(key),)
