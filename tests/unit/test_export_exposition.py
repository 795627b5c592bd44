"""The bulk writer of map families (runtime/export/exposition.py) is byte
for byte what prometheus_client's own generate_latest writes for the same
samples, in the text format and in OpenMetrics, for every family the
collector emits."""
from __future__ import annotations

import random

import pytest

prometheus_client = pytest.importorskip("prometheus_client")

from prometheus_client.exposition import choose_encoder, generate_latest  # noqa: E402
from prometheus_client.openmetrics import exposition as om  # noqa: E402

from pytrace.lang.types import Agg, AggKind, Int, Str, Tuple  # noqa: E402
from pytrace.render.decode import MapDump  # noqa: E402
from pytrace.runtime.export.collector import ExportedScript, MapCollector  # noqa: E402
from pytrace.runtime.export.config import parse  # noqa: E402
from pytrace.runtime.export.exposition import MapFamily, go_value, render, templates  # noqa: E402

ENCODERS = {
    "text": generate_latest,
    "openmetrics": choose_encoder("application/openmetrics-text;version=1.0.0,"
                                  "text/plain;version=0.0.4;q=0.5")[0],
    "openmetrics-utf8": choose_encoder("application/openmetrics-text;version=1.0.0;"
                                       "escaping=allow-utf-8")[0],
    "text-1.0.0": choose_encoder("text/plain;version=1.0.0;escaping=underscores")[0],
}
NASTY = ['a"b', "c\\d", "e\nf", "é ü 日本", "", "\\\"\n", "x%sy", "{}", "\x00"]


class Registry:
    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        for m in self.metrics:
            if isinstance(m, MapFamily):
                m._samples = None                   # built anew from the columns
        return list(self.metrics)


def assert_same(metrics, fast_only=True):
    reg = Registry(metrics)
    for name, enc in ENCODERS.items():
        fast = render(reg, enc)
        assert fast == enc(reg), name
        if fast_only:                               # and not the encoder's fallback
            fn = getattr(enc, "func", enc)
            kw = tuple(sorted((getattr(enc, "keywords", None) or {}).items()))
            for m in metrics:
                if isinstance(m, MapFamily):
                    assert m.render(fn, kw) is not None, (name, m.name)


def test_every_family_kind():
    assert_same([
        MapFamily("pytrace_c", 'help "q" \\ x\nnl', "counter", ["comm", "pid"],
                  [NASTY, [str(i) for i in range(len(NASTY))]],
                  [0, 1, -5, 2 ** 64 - 1, 10 ** 6, 999_999, 2 ** 53 + 1, -(2 ** 63), 7]),
        MapFamily("pytrace_g", "g", "gauge", [], [], [-3]),
        MapFamily("pytrace_f", "f", "gauge", ["key"], [["a", "b", "c", "d"]],
                  [1.5, float("inf"), float("-inf"), 1e22]),
        MapFamily("pytrace_s", "s", "summary", ["key"], [["x", 'y"']], [(3, 10), (0, -4)]),
        MapFamily("pytrace_h", "h", "histogram", ["comm", "zz"], [["x", "y\n"], ["1", "2"]],
                  [[("-1", 0), ("0", 1), ("1", 3), ("+Inf", 4)], [("+Inf", 0)]]),
        MapFamily("pytrace_h0", "h", "histogram", [], [], [[("0", 2), ("+Inf", 5)]]),
    ])


@pytest.mark.parametrize("kind", ["counter", "gauge", "summary", "histogram"])
def test_empty_maps(kind):
    assert_same([MapFamily("pytrace_e", "e", kind, ["key"], [[]], [])])


def test_nan_is_the_encoders():
    reg = Registry([MapFamily("pytrace_n", "n", "gauge", [], [], [float("nan")])])
    for enc in ENCODERS.values():
        assert render(reg, enc) == enc(reg)


def test_values_as_float_to_go_string():
    from prometheus_client.utils import floatToGoString
    for v in [0, 1, -1, 999_999, 1_000_000, 1_234_567, 2 ** 53 - 1, 2 ** 53, -(2 ** 53) + 1,
              2 ** 64, -(2 ** 64), 0.1, -0.0, 123456789.5]:
        assert go_value(v) == floatToGoString(v), v


def test_randomized():
    rnd = random.Random(13)
    alphabet = 'ab"\\\n é%{}'
    for _ in range(60):
        arity = rnd.randrange(4)
        labels = rnd.sample(["comm", "pid", "key", "a", "zz", "key0", "key10", "key2"], arity)
        kind = rnd.choice(["counter", "gauge", "summary", "histogram"])
        n = rnd.randrange(6)
        columns = [["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(5)))
                    for _ in range(n)] for _ in labels]

        def number():
            return rnd.choice([rnd.randrange(-10, 10), rnd.randrange(2 ** 64),
                               rnd.randrange(10 ** 5, 10 ** 8), rnd.random() * 1e9])
        if kind == "summary":
            values = [(rnd.randrange(100), number()) for _ in range(n)]
        elif kind == "histogram":
            values = []
            for _ in range(n):
                total, buckets = 0, []
                for b in range(rnd.randrange(4)):
                    total += rnd.randrange(5)
                    buckets.append((str(2 ** b - 1), total))
                values.append(buckets + [("+Inf", total)])
        else:
            values = [number() for _ in range(n)]
        assert_same([MapFamily(f"pytrace_r{rnd.randrange(9)}", "r", kind, labels, columns,
                               values)])


# -- through the collector: the families it emits, the cap, the health metrics ------------
class Loader:
    script = None
    maps = {}


def collector(dumps, text="", max_series=None):
    config = parse(text, "t.pt", max_series=max_series)
    s = ExportedScript("t.pt", config, Loader(), attached=lambda: 3)
    c = MapCollector([s], {"version": "0.1", "python": "3.11"})
    c._script_metrics = lambda s: (f for f in (c._family(s, d) for d in dumps) if f)
    return c, s


def test_collector_families_and_health():
    u64 = Int(64, False)
    dumps = [
        MapDump("@opens", Str(16), Agg(AggKind.COUNT),
                [(b"ba\"sh", 3), (b"a\\b", 1), (b"x\ny", 2), ("é".encode() + b"\xff", 5)]),
        MapDump("@bytes", Tuple((Str(16), u64)), Agg(AggKind.SUM),
                [((b"cat", 10), 2 ** 64 - 1), ((b"dd", 11), 0)]),
        MapDump("@lo", u64, Agg(AggKind.MIN), [(1, -7), (2, 2 ** 62)]),
        MapDump("@x", None, Int(64, True), [(None, -1)]),
        MapDump("@lat", u64, Agg(AggKind.AVG), [(1, (3, 30)), (2, (0, 0))]),
        MapDump("@h", Str(16), Agg(AggKind.HIST, (0,)),
                [(b"a", {0: 1, 3: 2}), (b"b\"", {1: 4})]),
        MapDump("@l", None, Agg(AggKind.LHIST, (0, 10, 5)), [(None, {0: 1, 2: 3})]),
        MapDump("@empty", u64, Agg(AggKind.COUNT), []),
    ]
    c, s = collector(dumps, "// export: @bytes labels=comm,pid\n")
    s.dropped["@opens"] = 4
    from prometheus_client import CollectorRegistry
    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)
    for name, enc in ENCODERS.items():
        fast = render(reg, enc)
        assert fast == enc(reg), name
    text = render(reg, generate_latest).decode()
    assert 'pytrace_opens_total{key="ba\\"sh"} 3.0' in text
    assert 'pytrace_h_bucket{key="b\\"",le="+Inf"} 4.0' in text
    assert 'pytrace_dropped_series_total{map="@opens",script="t.pt"} 4.0' in text
    assert "pytrace_probes_attached{script=\"t.pt\"} 3.0" in text


def test_the_cap_is_the_same_as_before():
    u64 = Int(64, False)
    dump = MapDump("@m", u64, Agg(AggKind.COUNT), [(k, k * 3) for k in range(50, 0, -1)])
    c, s = collector([dump], max_series=7)
    (fam,) = c._script_metrics(s)
    assert fam.columns == [sorted(map(str, range(1, 51)))[:7]]
    assert s.dropped == {"@m": 43}
    assert_same([fam])


def test_a_template_that_cannot_be_cut_falls_back_to_the_encoder():
    def odd(registry):                         # an encoder of some other format
        return "".join(f"{m.name}:{len(m.samples)};" for m in registry.collect()).encode()
    fam = MapFamily("pytrace_c", "c", "counter", ["key"], [["a"]], [1])
    assert templates(odd, (), fam.name, fam.documentation, fam.type, fam.labels) is None
    assert render(Registry([fam]), odd) == b"pytrace_c:1;"


def test_process_metrics_pass_through():
    from prometheus_client import CollectorRegistry
    from prometheus_client.process_collector import ProcessCollector
    reg = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=reg, pid=lambda: "self")
    for enc in ENCODERS.values():
        a, b = render(reg, enc), enc(reg)
        # process_cpu_seconds_total may move between the two reads
        strip = [line for line in a.splitlines() if b"cpu_seconds" not in line]
        assert strip == [line for line in b.splitlines() if b"cpu_seconds" not in line]
    assert om.generate_latest(reg).endswith(b"# EOF\n")
