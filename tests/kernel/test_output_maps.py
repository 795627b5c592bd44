"""Map contents read back from real kernel maps -> decode -> printers.

The values are written per CPU through bpf(BPF_MAP_UPDATE_ELEM) in the
layouts ``types.Agg`` documents, read back with ``kernel.maps`` (which
strips the kernel's per-CPU padding) and printed; the expected text is what
bpftrace prints for the same aggregations.
"""
from __future__ import annotations

import io
import os

import pytest

from pytrace.kernel import maps
from pytrace.kernel.bpf_consts import MapType
from pytrace.render.decode import build_dump
from pytrace.lang.types import INT64, Agg, AggKind, Str, Tuple
from pytrace.render.output import JsonPrinter, TextPrinter

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create BPF maps")]


def u64(n: int) -> bytes:
    return (n & (2**64 - 1)).to_bytes(8, "little")


def two_cpus(m: maps.Map, cpu0: bytes, cpu1: bytes) -> list[bytes]:
    """Values for CPU 0 and CPU 1; zeros on any other CPU."""
    return [cpu0, cpu1] + [bytes(len(cpu0))] * (m.ncpus - 2)


def printed(dump, printer=TextPrinter) -> str:
    out = io.StringIO()
    printer(out, io.StringIO()).map(dump)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _needs_two_cpus():
    if len(maps.possible_cpus()) < 2:
        pytest.skip("needs two possible CPUs")


def test_percpu_hist_map_prints_like_bpftrace():
    # @h[str] = hist(v): key = user key + u64 bucket, u64 count per CPU
    with maps.Map.create(MapType.PERCPU_HASH, 16, 8, 64, name="pt_out_hist") as m:
        m.update(b"bash\0\0\0\0" + u64(3), two_cpus(m, u64(2), u64(1)))     # [2, 4): 3
        m.update(b"bash\0\0\0\0" + u64(5), two_cpus(m, u64(1), u64(0)))     # [8, 16): 1
        m.update(b"sh\0\0\0\0\0\0" + u64(1), two_cpus(m, u64(0), u64(1)))   # [0]: 1
        dump = build_dump("@h", Str(8), Agg(AggKind.HIST), m.items())
    assert printed(dump) == (
        "@h[sh]:\n"
        f"[0]                    1 |{'@' * 52}|\n"
        "\n"
        "@h[bash]:\n"
        f"[2, 4)                 3 |{'@' * 52}|\n"
        f"[4, 8)                 0 |{' ' * 52}|\n"
        f"[8, 16)                1 |{'@' * 17}{' ' * 35}|\n"
        "\n")


def test_percpu_aggregations_fold():
    with maps.Map.create(MapType.PERCPU_HASH, 8, 16, 8, name="pt_out_min") as m:
        # min: CPU 0 has -5 set; CPU 1 holds -100 but never set it
        m.update(u64(1), two_cpus(m, u64(-5) + u64(1), u64(-100) + u64(0)))
        mins = build_dump("@m", INT64, Agg(AggKind.MIN), m.items())
    assert printed(mins) == "@m[1]: -5\n"

    with maps.Map.create(MapType.PERCPU_HASH, 8, 16, 8, name="pt_out_stats") as m:
        # stats: u64 count, then i64 total; 3 values summing to -10
        m.update(u64(7), two_cpus(m, u64(2) + u64(-12), u64(1) + u64(2)))
        stats = build_dump("@s", INT64, Agg(AggKind.STATS), m.items())
    # bpftrace tests/runtime/signed_ints prints the same record
    assert printed(stats) == "@s[7]: { .count = 3, .average = -3, .total = -10 }\n"
    assert printed(stats, JsonPrinter) == \
        '{"type": "stats", "data": {"@s": {"7": {"count": 3, "average": -3, "total": -10}}}}\n'


def test_plain_hash_with_tuple_keys():
    key = Tuple((INT64, Str(4)))
    with maps.Map.create(MapType.HASH, key.size, 8, 8, name="pt_out_tup") as m:
        m.update(u64(2) + b"x y\0" + bytes(4), u64(3))
        m.update(u64(1) + b"abc\0" + bytes(4), u64(5))
        dump = build_dump("@m", key, INT64, m.items())
    assert printed(dump) == "@m[2, x y]: 3\n@m[1, abc]: 5\n"
    assert printed(dump, JsonPrinter) == \
        '{"type": "map", "data": {"@m": {"2,x y": 3, "1,abc": 5}}}\n'
