"""Probe resolution end to end: relative binary paths and quoted names,
and config missing_probes (current bpftrace's setting): a block
naming a function its binary lacks attaches the rest with one located
warning line and counts them exactly (warn), attaches nothing and fails
located by default (error), and says nothing under ignore. The workload
is tests/kernel/workloads/retval.c: answer() runs exactly N times."""
from __future__ import annotations

import pytest

from conftest import needs_root, pytrace
from cprogs import cprog  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]


def _script(prog: str, setting: str | None) -> str:
    config = f"config = {{ missing_probes = {setting} }} " if setting else ""
    return (f"{config}uprobe:{prog}:answer, uprobe:{prog}:not_in_prog "
            "/pid == cpid/ { @[probe] = count(); }")


def test_warn_attaches_the_rest_and_counts_exactly(cprog):
    prog = cprog("retval")
    r = pytrace("-e", _script(prog, "warn"), "-c", f"{prog} 37")
    assert (r.rc, r.out) == (0, f"\n\n@[uprobe:{prog}:answer]: 37\n"), r
    col = len(f"config = {{ missing_probes = warn }} uprobe:{prog}:answer, ") + 1
    assert r.err == (f"-e:1:{col}: warning: {prog} has no function 'not_in_prog'; "
                     "skipping this probe\nAttached 1 probe\n"), r


def test_ignore_says_nothing(cprog):
    prog = cprog("retval")
    r = pytrace("-e", _script(prog, "ignore"), "-c", f"{prog} 5")
    assert (r.rc, r.out, r.err) == (0, f"\n\n@[uprobe:{prog}:answer]: 5\n",
                                    "Attached 1 probe\n"), r


def test_error_by_default_located_and_nothing_attached(cprog):
    prog = cprog("retval")
    r = pytrace("-e", _script(prog, None), "-c", f"{prog} 5")
    col = len(f"uprobe:{prog}:answer, ") + 1
    assert r.rc == 2 and r.out == "", r
    assert r.err.splitlines()[0] == f"-e:1:{col}: error: {prog} has no function 'not_in_prog'", r
    assert r.err.rstrip().endswith("or attach the block's other probes with "
                                   "config = { missing_probes = warn }"), r
    assert "Attached" not in r.err, r


def test_relative_binary_and_quoted_name_count_exactly(cprog, tmp_path):
    """uprobe:./bin/PROG:f and uprobe:bin/PROG:"f" from the cwd; the names
    keep the relative spelling, as bpftrace 0.17 prints them."""
    import shutil
    (tmp_path / "bin").mkdir()
    shutil.copy(cprog("retval"), tmp_path / "bin" / "rv")
    r = pytrace("-e", 'uprobe:./bin/rv:answer, uprobe:bin/rv:"negative" /pid == cpid/ '
                "{ @[probe] = count(); }", "-c", "./bin/rv 9", cwd=tmp_path)
    assert (r.rc, r.out) == (0, "\n\n@[uprobe:./bin/rv:answer]: 9\n"
                                "@[uprobe:bin/rv:negative]: 9\n"), r


def test_listing_a_pattern_across_probe_types():
    r = pytrace("-l", "*sched_switch*")
    lines = r.out.splitlines()
    assert r.rc == 0 and "tracepoint:sched:sched_switch" in lines, r
    assert "rawtracepoint:sched_switch" in lines, r
    assert all("sched_switch" in line for line in lines), r
