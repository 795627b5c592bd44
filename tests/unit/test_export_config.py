"""The exporter's settings (``// export:`` comments) and its pure parts:
located errors asserted whole, default label names, metric names,
histogram buckets at a map's own bounds, --export's address."""
from __future__ import annotations

import pytest

from pytrace.base.diagnostics import CompileError, UsageError
from pytrace.lang.types import Agg, AggKind
from pytrace.runtime.export.config import check, default_labels, parse
from pytrace.runtime.export.config import parse_export


def error_of(text: str, arities: dict | None = None) -> str:
    with pytest.raises(CompileError) as info:
        config = parse(text, "t.pt")
        check(config, arities or {"@a": 1, "@b": 0})
    return info.value.render()


def test_settings_and_defaults():
    config = parse("// export: prefix=node max_series=7\n"
                   "kprobe:x { }  // export: @a labels=comm max_series=3\n"
                   "// export: @a labels=comm max_series=3\n", "t.pt")
    check(config, {"@a": 1, "@b": 2})
    assert config.prefix == "node"
    assert config.labels_for("@a", 1) == ("comm",)
    assert config.labels_for("@b", 2) == ("key0", "key1")
    assert (config.cap_for("@a"), config.cap_for("@b")) == (3, 7)
    assert default_labels(0) == () and default_labels(1) == ("key",)
    over = parse("// export: prefix=node\n", "t.pt", prefix="cli", max_series=9)
    assert (over.prefix, over.max_series) == ("cli", 9)
    plain = parse("BEGIN { }\n", "t.pt")
    assert (plain.prefix, plain.max_series, plain.maps) == ("pytrace", 5000, {})


@pytest.mark.parametrize("text, message", [
    ("// export: @a labels=x,x\n",
     "t.pt:1:24: error: export: label 'x' given twice\n"
     "// export: @a labels=x,x\n"
     "                       ~"),
    ("// export: @a labels=le\n",
     "t.pt:1:22: error: export: label name 'le' is reserved\n"
     "// export: @a labels=le\n"
     "                     ~~\n"
     "hint: choose another name"),
    ("// export: @a foo=1\n",
     "t.pt:1:15: error: export: unknown setting 'foo'\n"
     "// export: @a foo=1\n"
     "              ~~~\n"
     "hint: settings are prefix=, max_series=, labels="),
    ("// export: @a labels=comm\n// export: @a labels=pid\n",
     "t.pt:2:12: error: export: conflicting settings for @a\n"
     "// export: @a labels=pid\n"
     "           ~~\n"
     "hint: give each map one '// export:' line\n"
     "t.pt:1:12: note: first set here\n"
     "// export: @a labels=comm\n"
     "           ~~"),
    ("// export: labels=a\n",
     "t.pt:1:11: error: export: labels= needs a map\n"
     "// export: labels=a\n"
     "          ~~~~~~~~~\n"
     "hint: name it first: // export: @map labels=a,b"),
    ("// export: @a @b\n",
     "t.pt:1:15: error: export: one map per line, not @a and @b\n"
     "// export: @a @b\n"
     "              ~~\n"
     "hint: write a second '// export:' line"),
    ("// export: @a max_series=0\n",
     "t.pt:1:26: error: export: max_series takes a positive number, not '0'\n"
     "// export: @a max_series=0\n"
     "                         ~"),
    ("// export: @a labels=9x\n",
     "t.pt:1:22: error: export: '9x' is not a label name\n"
     "// export: @a labels=9x\n"
     "                     ~~\n"
     "hint: use letters, digits and _ (not starting with __)"),
    ("// export: prefix=a-b\n",
     "t.pt:1:19: error: export: 'a-b' is not a metric name prefix\n"
     "// export: prefix=a-b\n"
     "                  ~~~\n"
     "hint: use letters, digits and _"),
    ("// export: @a bare\n",
     "t.pt:1:15: error: export: 'bare' is not a setting\n"
     "// export: @a bare\n"
     "              ~~~~\n"
     "hint: settings are name=value: prefix=, max_series=, labels="),
    ("BEGIN{}\n  // export: @a labels=comm,pid\n",
     "t.pt:2:14: error: export: @a has 1 key, but 2 labels are given\n"
     "  // export: @a labels=comm,pid\n"
     "             ~~\n"
     "hint: give one label name per key, in order"),
    ("// export: @zz labels=x\n",
     "t.pt:1:12: error: export: the script has no map @zz\n"
     "// export: @zz labels=x\n"
     "           ~~~\n"
     "hint: its maps: @a, @b"),
])
def test_located_errors(text, message):
    assert error_of(text) == message


def test_export_address():
    assert parse_export("prometheus") == ("127.0.0.1", 9435)
    assert parse_export("prometheus=127.0.0.1:9500") == ("127.0.0.1", 9500)
    assert parse_export("prometheus=9501") == ("127.0.0.1", 9501)
    assert parse_export("prometheus=[::1]:9502") == ("::1", 9502)
    with pytest.raises(UsageError) as info:
        parse_export("statsd")
    assert str(info.value) == "--export: unknown exporter 'statsd' (use prometheus[=HOST:PORT])"
    with pytest.raises(UsageError) as info:
        parse_export("prometheus=host:http")
    assert str(info.value) == ("--export: 'host:http' has no valid port (use HOST:PORT, e.g. "
                               "127.0.0.1:9435)")


prometheus_client = pytest.importorskip("prometheus_client")


def test_histogram_buckets_at_the_maps_own_bounds():
    from pytrace.runtime.export.collector import histogram_buckets, metric_base
    hist = Agg(AggKind.HIST, ())
    # hist buckets: 0 holds negatives, 1 holds 0, 2 holds 1, 3 holds [2, 4), 4: [4, 8)
    assert histogram_buckets(hist, {1: 2, 4: 3}) == [
        ("-1", 0), ("0", 2), ("1", 2), ("3", 2), ("7", 5), ("+Inf", 5)]
    lhist = Agg(AggKind.LHIST, (0, 10, 5))
    # lhist(x, 0, 10, 5): below 0, [0, 5), [5, 10), [10, ...)
    assert histogram_buckets(lhist, {1: 1, 3: 4}) == [
        ("-1", 0), ("4", 1), ("9", 1), ("+Inf", 5)]
    assert metric_base("pytrace", "", "@opens") == "pytrace_opens"
    assert metric_base("pytrace", "", "@") == "pytrace_map"
    assert metric_base("node", "web", "@a") == "node_web_a"


def test_the_plain_cli_never_imports_prometheus_client():
    import subprocess
    import sys
    code = ("import sys, io, pytrace.cli as c\n"
            "c.parse_args(['--export', 'prometheus=9999', '-e', 'BEGIN { }'])\n"
            "c.main(['-e', 'BEGIN {', '--dry-run'])\n"
            "print('prometheus_client' in sys.modules)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines()[-1] == "False", p
