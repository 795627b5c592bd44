"""Strings end to end: user pointers read with str() (printf, map keys,
tuples, predicates), strings longer than 512 bytes, the length limit,
tracepoint char arrays and __data_loc strings."""
from __future__ import annotations

import pytest

from conftest import FEATURE_SETS, OPEN_MARK_FLAGS, needs_root, pytrace, workload

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

OPENAT = f"tracepoint:syscalls:sys_enter_openat /pid == cpid && args->flags == {OPEN_MARK_FLAGS}/"
MARKERS = ["/tmp/pt-e2e-b", "/tmp/pt-e2e-a", "/tmp/pt-e2e-b", "/tmp/pt-e2e-c", "/tmp/pt-e2e-c",
           "/tmp/pt-e2e-b"]
#: a 913-byte path: more than 512 bytes (the BPF stack), less than the 1024 default limit
LONG = "/nonexistent/" + "y" * 900
#: a 1512-byte path in components of 100 bytes
LONGER = "/nonexistent" + ("/" + "z" * 99) * 15


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_printf_user_strings(features):
    r = pytrace(*features, "-q", "-e", OPENAT + ' { printf("%s\\n", str(args->filename)); }',
                "-c", workload("opens", *MARKERS))
    assert (r.rc, r.err) == (0, ""), r
    expected = "".join(m + "\n" for m in MARKERS)
    if "ringbuf" in features:       # the perf buffer does not keep order across CPUs
        assert sorted(r.out.splitlines()) == sorted(expected.splitlines()), r
    else:
        assert r.out == expected, r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_three_string_tuple_key(features):
    r = pytrace(*features, "-q", "-e", OPENAT + ' { @[comm, str(args->filename), "x"] = count(); }',
                "-c", workload("opens", *MARKERS))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == ("\n\n@[python3, /tmp/pt-e2e-a, x]: 1\n@[python3, /tmp/pt-e2e-c, x]: 2\n"
                     "@[python3, /tmp/pt-e2e-b, x]: 3\n"), r


def test_string_predicate_and_key():
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_openat "
                '/pid == cpid && str(args->filename) == "/tmp/pt-e2e-b"/ '
                "{ @[str(args->filename)] = count(); @n = count(); }",
                "-c", workload("opens", *MARKERS, "/tmp/pt-e2e-bb", "/tmp/pt-e2e-"))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == "\n\n@[/tmp/pt-e2e-b]: 3\n@n: 3\n", r


def test_str_with_length():
    r = pytrace("-q", "-e", OPENAT + ' { printf("%s|\\n", str(args->filename, 5)); '
                "@[str(args->filename, 9)] = count(); }",
                "-c", workload("opens", "/tmp/abcdefg", "/tmp/abcdXYZ"))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == "/tmp/|\n/tmp/|\n\n\n@[/tmp/abcd]: 2\n", r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_string_longer_than_512_bytes(features):
    r = pytrace(*features, "-q", "-e", OPENAT + ' { printf("%s\\n", str(args->filename)); '
                "@[str(args->filename)] = count(); }",
                "-c", workload("opens", LONG, "/tmp/pt-e2e-a", LONG))
    assert (r.rc, r.err) == (0, ""), r
    printed = r.out.splitlines()
    assert sorted(printed[:3]) == sorted([LONG, "/tmp/pt-e2e-a", LONG]), r
    assert r.out.endswith(f"\n\n@[/tmp/pt-e2e-a]: 1\n@[{LONG}]: 2\n"), r


def test_string_limit_cuts_at_1023_bytes():
    r = pytrace("-q", "-e", OPENAT + ' { printf("%s\\n", str(args->filename)); }',
                "-c", workload("opens", LONGER))
    assert (r.rc, r.err, r.out) == (0, "", LONGER[:1023] + "\n"), r


@pytest.mark.parametrize("limit", [16, 2048])
def test_string_limit_from_environment(limit):
    r = pytrace("-q", "-e", OPENAT + ' { printf("%s\\n", str(args->filename)); }',
                "-c", workload("opens", LONGER), extra_env={"PYTRACE_MAX_STRLEN": str(limit)})
    assert (r.rc, r.err, r.out) == (0, "", LONGER[:limit - 1] + "\n"), r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_tracepoint_char_array(features):
    # sched_switch's prev_comm is char[16]: a key, a printf argument, and compared
    r = pytrace(*features, "-q", "-e",
                "tracepoint:sched:sched_switch "
                '/args->prev_pid == cpid && args->prev_state == 1 && args->prev_comm == "ptsleeper"/ '
                '{ @[args->prev_comm] = count(); printf("%s.\\n", args->prev_comm); }',
                "-c", workload("sleeper", 5))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == "ptsleeper.\n" * 5 + "\n\n@[ptsleeper]: 5\n", r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_tracepoint_data_loc_string(features):
    r = pytrace(*features, "-q", "-e", "tracepoint:sched:sched_process_exec /pid == cpid/ "
                '{ printf("%s\\n", str(args->filename)); @[str(args->filename)] = count(); }',
                "-c", workload("reexec", "/usr/bin/true"))
    assert (r.rc, r.err) == (0, ""), r
    printed, maps = r.out[:r.out.index("\n\n")], r.out[r.out.index("\n\n"):]
    if "ringbuf" in features:       # exec may move to another CPU: no order on perf buffers
        printed = "\n".join(sorted(printed.split("\n")))
    assert printed == "/usr/bin/python3\n/usr/bin/true", r
    assert maps == "\n\n\n@[/usr/bin/python3]: 1\n@[/usr/bin/true]: 1\n", r


def test_tracepoint_data_loc_event_count():
    # the same probe without the string: it fires for both execs of the child
    r = pytrace("-q", "-e", "tracepoint:sched:sched_process_exec /pid == cpid/ "
                "{ @[args->pid == cpid] = count(); }",
                "-c", workload("reexec", "/usr/bin/true"))
    assert (r.rc, r.err, r.out) == (0, "", "\n\n@[1]: 2\n"), r
