"""End to end through the CLI: the acceptance command, BEGIN/END order,
interval probes, exit codes and positional parameters, with exact output,
on every output/BEGIN path (--no-feature ringbuf / test_run)."""
from __future__ import annotations

import subprocess

import pytest

from conftest import (FEATURE_SETS, PY, WORKLOADS, finish, needs_root, pytrace, start,
                      wait_attached, workload)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]


def lines_for(features: list, text: str) -> list | str:
    """The perf buffer does not keep order across CPUs: compare sorted lines there."""
    return sorted(text.splitlines()) if "ringbuf" in features else text


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_acceptance_command(features):
    r = pytrace(*features, "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
                "{ @ = count(); }",
                "-c", f"{PY} -c 'import os; [os.getppid() for _ in range(1000)]'")
    assert (r.rc, r.out) == (0, "\n\n@: 1000\n"), r
    assert "Attached 1 probe" in r.err, r
    assert "Traceback" not in r.err, r


@pytest.mark.parametrize("n", [1, 37, 5000])
def test_getppid_counts(n):
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); }",
                "-c", workload("getppid", n))
    assert (r.rc, r.out, r.err) == (0, f"\n\n@calls: {n}\n", ""), r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_begin_probe_child_end_order(features):
    r = pytrace(*features, "-q", "-e",
                'BEGIN { printf("begin\\n"); } '
                'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @++; printf("call\\n"); } '
                'END { printf("end %d\\n", @); }',
                "-c", workload("getppid", 3))
    assert r.rc == 0, r
    assert r.out == "begin\ncall\ncall\ncall\nend 3\n\n\n@: 3\n", r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_interval_exit_runs_end(features):
    # the predicate stops the count at 3 even if a tick fires before detach
    r = pytrace(*features, "-e",
                'BEGIN { printf("begin\\n"); } '
                'interval:ms:20 /@n < 3/ { @n++; printf("tick %d\\n", @n); '
                'if (@n == 3) { exit(); } } '
                'END { @e = @n + 10; }')
    assert r.rc == 0, r
    assert lines_for(features, r.out) == lines_for(
        features, "begin\ntick 1\ntick 2\ntick 3\n\n\n@e: 13\n@n: 3\n"), r
    assert r.err == "Attached 3 probes\n", r


@pytest.mark.parametrize("script, expected", [
    ('BEGIN { printf("begin\\n"); } interval:ms:20 /@n < 3/ { @n++; printf("tick %d\\n", @n); '
     'if (@n == 3) { exit(); } } END { printf("end %d\\n", @n); }',
     "begin\ntick 1\ntick 2\ntick 3\nend 3\n\n\n@n: 3\n"),
    ('BEGIN { printf("1\\n"); exit(); } END { printf("2\\n"); }', "1\n2\n"),
], ids=["interval", "begin"])
def test_end_printf_after_exit(script, expected):
    r = pytrace("-q", "-e", script)
    assert (r.rc, r.out) == (0, expected), r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_exit_code_from_begin(features):
    r = pytrace(*features, "-e", 'BEGIN { printf("bye\\n"); exit(3); }')
    assert (r.rc, r.out, r.err) == (3, "bye\n", ""), r


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_exit_code_from_tracepoint(features):
    # events after exit() are dropped: one "x" although the probe fires 100 times
    r = pytrace(*features, "-q", "-e",
                'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("x\\n"); exit(5); }',
                "-c", workload("getppid", 100))
    assert (r.rc, r.out, r.err) == (5, "x\n", ""), r


def test_positional_parameters_file(tmp_path):
    script = tmp_path / "pos.pt"
    script.write_text('BEGIN { printf("%d %d %s\\n", $#, $1 * 2, str($2)); exit(); }\n')
    r = pytrace(script, "21", "hello")
    assert (r.rc, r.out) == (0, "2 42 hello\n"), r


def test_positional_parameters_e():
    r = pytrace("-e", 'BEGIN { printf("%d %d\\n", $#, $1 + $2); exit(); }', "3", "4")
    assert (r.rc, r.out) == (0, "2 7\n"), r


def test_str_of_numeric_positional_parameter():
    r = pytrace("-e", 'BEGIN { printf("%s|%s\\n", str($1), str($2)); exit(); }', "3", "foo")
    assert (r.rc, r.out) == (0, "3|foo\n"), r


def test_trace_running_process_with_p():
    child = subprocess.Popen([PY, str(WORKLOADS / "gated_getppid.py"), "250"],
                             stdin=subprocess.PIPE, text=True)
    try:
        p = start("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }",
                  "-p", str(child.pid))
        wait_attached(p)
        child.communicate("go\n", timeout=20)
        r = finish(p, timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert (r.rc, r.out) == (0, "\n\n@: 250\n"), r


def test_output_file(tmp_path):
    out = tmp_path / "out.txt"
    r = pytrace("-o", out, "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
                '{ @ = count(); printf("hi\\n"); }', "-c", workload("getppid", 2))
    assert (r.rc, r.out) == (0, ""), r
    assert out.read_text() == "hi\nhi\n\n\n@: 2\n"
