"""bpftrace as the oracle: the same script and workload through bpftrace
(0.17 here) and pytrace, printed maps compared after normalising 0.17's
known differences (conftest.normalise_map_text): "Attaching N probes..."
on stdout, stats as "count 3, average 2, total 6", a blank line after every
map, ties left in hash order. lhist maxima are
min + N * step (0.17 labels the last bucket with the maximum, bpftrace 0.24
with the last bound, as we do). Strings stay under 64 bytes (0.17 cuts str()
there) and workloads are script files (0.17 splits -c on whitespace).
Both tools run at the same time; the workloads filter on their own pid."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (OPEN_MARK_FLAGS, PREAD_MARK_POS, needs_root, normalise_map_text, pytrace,
                      workload)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

PREAD = f"tracepoint:syscalls:sys_enter_pread64 /pid == cpid && args->pos == {PREAD_MARK_POS}/"
OPENAT = f"tracepoint:syscalls:sys_enter_openat /pid == cpid && args->flags == {OPEN_MARK_FLAGS}/"
SIZES = ["1x3", "10x5", "100x2", "1000x1", "4096x4"]
#: bucket edges of hist() and lhist(): 0, powers of two and their neighbours, 1 MiB
EDGES = ["0x1", "1x2", "2x1", "3x3", "4x1", "7x2", "8x1", "1023x1", "1024x2", "1025x1",
         "1048576x1"]

CASES = {
    "all-aggregations": (
        PREAD + " { @count[comm, args->count] = count(); @bytes[comm] = sum(args->count); "
        "@h = hist(args->count); @l = lhist(args->count, 0, 1000, 100); "
        "@s = stats(args->count); @a = avg(args->count); @mi = min(args->count); "
        "@ma = max(args->count); @su = sum(args->count); }",
        workload("pread", *SIZES)),
    "per-key-aggregations": (
        PREAD + " { @k[args->count, args->pos] = count(); @avg[args->count % 7] = avg(args->count); "
        "@max[args->count > 50] = max(args->count); @min[args->count > 50] = min(args->count); "
        "@st[args->count / 1000] = stats(args->count); @sum[args->count & 1] = sum(args->count); "
        "@hk[args->count > 50] = hist(args->count); }",
        workload("pread", *SIZES)),
    "hist-edges": (
        PREAD + " { @h = hist(args->count); @l = lhist(args->count, 5, 2005, 500); "
        "@c[args->count] = count(); }",
        workload("pread", *EDGES)),
    "count-ties": (
        PREAD + " { @[comm, args->count] = count(); @t[args->count, comm, args->count * 2] = count(); }",
        workload("pread", "1x2", "2x2", "3x2", "4x2", "5x1", "6x1", "7x1")),
    "strings": (
        OPENAT + ' { @[comm, str(args->filename), "x"] = count(); @p[str(args->filename)] = '
        'sum(args->mode); printf("%s|%d\\n", str(args->filename), args->dfd); }',
        workload("opens", "/tmp/pt-o-b", "/tmp/pt-o-a", "/tmp/pt-o-b", "/tmp/pt-o-c")),
    "char-array": (
        "tracepoint:sched:sched_switch /args->prev_pid == cpid && args->prev_state == 1/ "
        '{ @[args->prev_comm] = count(); printf("%s\\n", args->prev_comm); }',
        workload("sleeper", 4)),
    "data-loc": (
        "tracepoint:sched:sched_process_exec /pid == cpid/ "
        "{ @[str(args->filename), args->pid == cpid] = count(); }",
        workload("reexec", "/usr/bin/true")),
    "probe-wildcard": (
        "tracepoint:syscalls:sys_enter_getp* /pid == cpid/ { @[probe] = count(); }",
        workload("getppid", 321)),
    "getppid": (
        "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); @n[comm] = count(); }",
        workload("getppid", 1000)),
    "printf-formats": (
        'BEGIN { printf("%d|%5d|%-5d|%05d|%x|%X|%o|%u|%s|%8s|%-8s|%c|%lld|%llu|%%|%lx\\n", '
        '-42, 42, 42, 42, 255, 255, 8, -1, "abc", "abc", "abc", 65, -9223372036854775807, '
        "18446744073709551615, 4096); exit(); }",
        None),
}


def both(oracle, script: str, command: str | None, *options: str):
    extra = ["-c", command] if command else []
    with ThreadPoolExecutor(2) as pool:
        theirs = pool.submit(oracle, script, *options, *extra)
        ours = pool.submit(pytrace, *options, "-q", "-e", script, *extra)
        return theirs.result(), ours.result()


@pytest.mark.parametrize("case", list(CASES))
def test_text_output_matches_bpftrace(oracle, case):
    script, command = CASES[case]
    theirs, ours = both(oracle, script, command)
    assert theirs.rc == 0, theirs
    assert (ours.rc, ours.err) == (0, ""), ours
    expected = normalise_map_text(theirs.out, bpftrace_017=True)
    assert expected, theirs                 # not a vacuous comparison
    assert normalise_map_text(ours.out) == expected, f"{ours}\n=== bpftrace ===\n{theirs}"


def _json_records(text: str) -> list:
    recs = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in recs if r["type"] != "attached_probes"]


@pytest.mark.parametrize("case", ["all-aggregations", "per-key-aggregations", "strings"])
def test_json_output_matches_bpftrace(oracle, case):
    script, command = CASES[case]
    theirs, ours = both(oracle, script, command, "-f", "json")
    assert theirs.rc == 0, theirs
    assert (ours.rc, ours.err) == (0, ""), ours
    assert _json_records(theirs.out), theirs
    assert _json_records(ours.out) == _json_records(theirs.out), \
        f"{ours}\n=== bpftrace ===\n{theirs}"
