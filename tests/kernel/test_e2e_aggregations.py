"""Aggregations fed by preads of known sizes (sys_enter_pread64
args->count): count by several keys, sum, avg, min, max, stats, hist,
lhist, with the exact text bpftrace prints."""
from __future__ import annotations

import os

import pytest

from conftest import FEATURE_SETS, PREAD_MARK_POS, needs_root, pytrace, workload

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

PREDICATE = f"/pid == cpid && args->pos == {PREAD_MARK_POS}/"
#: 3 x 1 byte, 5 x 10, 2 x 100, 1 x 1000, 4 x 4096: 15 calls, 17637 bytes
SIZES = ["1x3", "10x5", "100x2", "1000x1", "4096x4"]

SCRIPT = ("tracepoint:syscalls:sys_enter_pread64 " + PREDICATE + " { "
          "@count[comm, args->count] = count(); @bytes[comm] = sum(args->count); "
          "@h = hist(args->count); @l = lhist(args->count, 0, 1000, 100); "
          "@s = stats(args->count); @a = avg(args->count); "
          "@mi = min(args->count); @ma = max(args->count); @su = sum(args->count); }")

EXPECTED = """\


@a: 1175
@bytes[python3]: 17637
@count[python3, 1000]: 1
@count[python3, 100]: 2
@count[python3, 1]: 3
@count[python3, 4096]: 4
@count[python3, 10]: 5
@h:
[1]                    3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                     |
[2, 4)                 0 |                                                    |
[4, 8)                 0 |                                                    |
[8, 16)                5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              2 |@@@@@@@@@@@@@@@@@@@@                                |
[128, 256)             0 |                                                    |
[256, 512)             0 |                                                    |
[512, 1K)              1 |@@@@@@@@@@                                          |
[1K, 2K)               0 |                                                    |
[2K, 4K)               0 |                                                    |
[4K, 8K)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@           |

@l:
[0, 100)               8 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[100, 200)             2 |@@@@@@@@@@@@@                                       |
[200, 300)             0 |                                                    |
[300, 400)             0 |                                                    |
[400, 500)             0 |                                                    |
[500, 600)             0 |                                                    |
[600, 700)             0 |                                                    |
[700, 800)             0 |                                                    |
[800, 900)             0 |                                                    |
[900, 1000)            0 |                                                    |
[1000, ...)            5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                    |

@ma: 4096
@mi: 1
@s: { .count = 15, .average = 1175, .total = 17637 }
@su: 17637
"""


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_all_aggregations_one_cpu(features):
    r = pytrace(*features, "-q", "-e", SCRIPT, "-c", workload("pread", *SIZES))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == EXPECTED, r


def test_keys_of_two_integers_and_per_key_aggregations():
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_pread64 " + PREDICATE + " { "
                "@k[args->count, args->pos] = count(); @avg[args->count % 7] = avg(args->count); "
                "@max[args->count > 50] = max(args->count); @min[args->count > 50] = min(args->count); "
                "@st[args->count / 1000] = stats(args->count); }",
                "-c", workload("pread", *SIZES))
    assert (r.rc, r.err) == (0, ""), r
    # 1 % 7 = 1, 10 % 7 = 3, 100 % 7 = 2, 1000 % 7 = 6, 4096 % 7 = 1: avg of 1,1,1,4096x4 = 2341;
    # avg and stats maps sort by average
    assert r.out == """\


@avg[3]: 10
@avg[2]: 100
@avg[6]: 1000
@avg[1]: 2341
@k[1000, 7777]: 1
@k[100, 7777]: 2
@k[1, 7777]: 3
@k[4096, 7777]: 4
@k[10, 7777]: 5
@max[0]: 10
@max[1]: 4096
@min[0]: 1
@min[1]: 100
@st[0]: { .count = 10, .average = 25, .total = 253 }
@st[1]: { .count = 1, .average = 1000, .total = 1000 }
@st[4]: { .count = 4, .average = 4096, .total = 16384 }
""", r


def test_print_clear_zero_of_aggregations():
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_pread64 " + PREDICATE + " { "
                "@c = count(); @s = sum(args->count); } "
                "END { print(@c); print(@s); clear(@c); zero(@s); }",
                "-c", workload("pread", "7x2", "5x1"))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == "@c: 3\n@s: 19\n\n\n@s: 0\n", r


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_min_max_across_cpus():
    cpus = sorted(os.sched_getaffinity(0))[:2]
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_pread64 " + PREDICATE + " { "
                "@mi = min(args->count); @ma = max(args->count); @s = stats(args->count); }",
                "-c", workload("pread", f"cpu={cpus[0]}", "784x1", f"cpu={cpus[1]}", "1x1",
                               "4096x1"))
    assert r.out == ("\n\n@ma: 4096\n@mi: 1\n"
                     "@s: { .count = 3, .average = 1627, .total = 4881 }\n"), r


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_count_sum_avg_hist_across_cpus():
    cpus = sorted(os.sched_getaffinity(0))[:2]
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_pread64 " + PREDICATE + " { "
                "@c = count(); @s = sum(args->count); @a = avg(args->count); "
                "@l = lhist(args->count, 0, 3000, 1000); @cpu[cpu] = count(); }",
                "-c", workload("pread", f"cpu={cpus[0]}", "784x1", f"cpu={cpus[1]}", "1x1",
                               "4096x1"))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == f"""\


@a: 1627
@c: 3
@cpu[{cpus[0]}]: 1
@cpu[{cpus[1]}]: 2
@l:
[0, 1000)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1000, 2000)           0 |                                                    |
[2000, 3000)           0 |                                                    |
[3000, ...)            1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |

@s: 4881
""", r


@pytest.mark.parametrize("how", ["environment", "config"])
def test_full_map_drops_updates_and_says_so(how):
    config = "config = { max_map_keys = 4 } " if how == "config" else ""
    extra = {"PYTRACE_MAX_MAP_KEYS": "4"} if how == "environment" else None
    r = pytrace("-q", "-e", config + "tracepoint:syscalls:sys_enter_pread64 " + PREDICATE +
                " { @[args->count] = count(); }",
                "-c", workload("pread", "1x1", "2x2", "3x1", "4x1", "5x3", "6x1"), extra_env=extra)
    assert r.rc == 0, r
    assert r.out == "\n\n@[1]: 1\n@[3]: 1\n@[4]: 1\n@[2]: 2\n", r
    # sizes 5 (3 calls) and 6 (1 call) found no room
    assert r.err == ("warning: map @ was full (4 keys): 4 updates were dropped; raise the limit "
                     "with PYTRACE_MAX_MAP_KEYS or config = { max_map_keys = N }\n"), r
