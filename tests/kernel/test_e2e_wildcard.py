"""A wildcard over hundreds of tracepoints (every syscall entry). Detaching
~360 tracepoints costs the kernel a grace period each (about half a minute
here, for bpftrace 0.17 too), so these runs start as soon as collection
ends and overlap the other tests (conftest: pytrace_background)."""
from __future__ import annotations

import os
import platform

import pytest

from conftest import TRACEFS, needs_root, workload

pytestmark = [pytest.mark.kernel, needs_root]

GETPPID_NR = {"x86_64": 110, "aarch64": 173, "riscv64": 173}.get(platform.machine())
CALLS = 1000


def sys_enter_tracepoints() -> int:
    return sum(1 for name in os.listdir(f"{TRACEFS}/events/syscalls")
               if name.startswith("sys_enter_"))


def check_attached(r) -> None:
    assert r.err == f"Attached {sys_enter_tracepoints()} probes\n", r


@pytest.mark.pytrace_background("-e", "tracepoint:syscalls:sys_enter_* /pid == cpid/ "
                                "{ @[probe] = count(); }", "-c", workload("getppid", CALLS))
def test_probe_names_over_every_syscall(pytrace_background):
    r = pytrace_background
    assert r.rc == 0, r
    check_attached(r)
    assert f"\n@[tracepoint:syscalls:sys_enter_getppid]: {CALLS}\n" in r.out, r


@pytest.mark.skipif(GETPPID_NR is None, reason="getppid's number is not known for this arch")
@pytest.mark.pytrace_background("-e", "tracepoint:syscalls:sys_enter_* /pid == cpid/ "
                                "{ @[args->__syscall_nr] = count(); @all = count(); }",
                                "-c", workload("getppid", CALLS))
def test_syscall_numbers_over_every_syscall(pytrace_background):
    r = pytrace_background
    assert r.rc == 0, r
    check_attached(r)
    assert f"\n@[{GETPPID_NR}]: {CALLS}\n" in r.out, r
    counts = {}
    for line in r.out.splitlines():
        if line.startswith("@["):
            key, value = line[2:].split("]: ")
            counts[int(key)] = int(value)
    total = int(r.out.split("\n@all: ")[1])
    assert total == sum(counts.values()) and total > CALLS, r
