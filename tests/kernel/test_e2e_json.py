"""-f json end to end: every line of stdout is one JSON object (json.loads)
and the records are exactly bpftrace's: printf, map, hist, stats."""
from __future__ import annotations

import json

import pytest

from conftest import FEATURE_SETS, PREAD_MARK_POS, needs_root, pytrace, workload

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

SCRIPT = ('BEGIN { printf("start %s\\n", "x"); } '
          f"tracepoint:syscalls:sys_enter_pread64 /pid == cpid && args->pos == {PREAD_MARK_POS}/ {{ "
          "@c[comm, args->count] = count(); @h = hist(args->count); "
          "@l = lhist(args->count, 0, 200, 100); @s = stats(args->count); @a = avg(args->count); "
          '@n = count(); @str["abc"] = sum(args->count); @mi = min(args->count); '
          '@ma = max(args->count); printf("n=%d\\n", args->count); } '
          'END { printf("end \\"q\\"\\t\\n"); }')


def hist(*buckets):
    return [dict(zip(("min", "max", "count"), b)) if len(b) == 3 else {"min": b[0], "count": b[1]}
            for b in buckets]


EXPECTED_MAPS = [
    {"type": "stats", "data": {"@a": 80}},
    {"type": "map", "data": {"@c": {"python3,1": 1, "python3,300": 1, "python3,10": 2}}},
    {"type": "hist", "data": {"@h": hist((1, 1, 1), (2, 3, 0), (4, 7, 0), (8, 15, 2), (16, 31, 0),
                                         (32, 63, 0), (64, 127, 0), (128, 255, 0),
                                         (256, 511, 1))}},
    {"type": "hist", "data": {"@l": hist((0, 99, 3), (100, 199, 0), (200, 1))}},
    {"type": "map", "data": {"@ma": 300}},
    {"type": "map", "data": {"@mi": 1}},
    {"type": "map", "data": {"@n": 4}},
    {"type": "stats", "data": {"@s": {"count": 4, "average": 80, "total": 321}}},
    {"type": "map", "data": {"@str": {"abc": 321}}},
]


def records(text: str) -> list:
    lines = text.splitlines()
    assert all(line.startswith("{") for line in lines), text
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_json_records(features):
    r = pytrace(*features, "-f", "json", "-e", SCRIPT,
                "-c", workload("pread", "1x1", "10x2", "300x1"))
    assert (r.rc, r.err) == (0, ""), r
    got = records(r.out)
    attached = [g for g in got if g["type"] == "attached_probes"]
    assert attached == [{"type": "attached_probes", "count": 3, "data": {"probes": 3}}], r
    got = [g for g in got if g["type"] != "attached_probes"]
    printfs = [{"type": "printf", "data": "start x\n"},
               *({"type": "printf", "data": f"n={n}\n"} for n in (1, 10, 10, 300)),
               {"type": "printf", "data": 'end "q"\t\n'}]
    if "ringbuf" in features:       # the perf buffer does not keep order across CPUs
        key = json.dumps
        assert sorted(got[:6], key=key) == sorted(printfs, key=key), r
    else:
        assert got[:6] == printfs, r
    assert got[6:] == EXPECTED_MAPS, r


def test_json_quiet_has_no_attached_record_and_exit_code():
    r = pytrace("-q", "-f", "json", "-e", 'BEGIN { @x[1, "a"] = 5; printf("%d\\n", 7); exit(4); }')
    assert r.rc == 4, r
    assert records(r.out) == [{"type": "printf", "data": "7\n"},
                              {"type": "map", "data": {"@x": {"1,a": 5}}}], r


def test_json_print_in_probe():
    r = pytrace("-q", "-f", "json", "-e",
                f"tracepoint:syscalls:sys_enter_pread64 /pid == cpid && args->pos == {PREAD_MARK_POS}/ "
                "{ @h = hist(args->count); @c[args->count] = count(); } "
                "END { print(@h); print(@c); clear(@h); clear(@c); }",
                "-c", workload("pread", "4x2", "64x1"))
    assert r.rc == 0, r
    assert records(r.out) == [
        {"type": "hist", "data": {"@h": hist((4, 7, 2), (8, 15, 0), (16, 31, 0), (32, 63, 0),
                                             (64, 127, 1))}},
        {"type": "map", "data": {"@c": {"64": 1, "4": 2}}},
    ], r
