"""profile/software/hardware probes and stacks end to end: a C program with
a known call tree sampled at 499 Hz shows its own functions in the top
frames after it has exited, kernel stacks of a syscall tracepoint are
kernel symbols, software counters count a workload's page faults and
context switches, and a machine without a PMU says so."""
from __future__ import annotations

import os
import re
import subprocess
import threading

import pytest

from conftest import PY, finish, needs_root, pytrace, start, wait_attached, workload
from cprogs import cprog  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

FRAME = re.compile(r"^    ([A-Za-z_][\w.@]*)\+(\d+)$")


def stacks(text: str) -> list[tuple[list[str], int]]:
    """``@[\\n    f+1\\n    g+2\\n]: 5`` entries as ([frame, …], count)."""
    out = []
    for block, count in re.findall(r"@\w*\[\n(.*?)\n\]: (\d+)", text, re.S):
        out.append((block.split("\n"), int(count)))
    return out


def test_profile_shows_the_call_tree_after_exit(cprog):
    prog = cprog("callchain")
    r = pytrace("-e", "profile:hz:499 /pid == cpid/ { @[ustack] = count(); }",
                "-c", f"{prog} 600", timeout=120)
    assert r.rc == 0, r
    found = stacks(r.out)
    assert found, r
    chain = ["inner_spin", "middle_fn", "outer_fn", "main"]
    hits = 0
    for frames, count in found:
        names = [FRAME.match(f).group(1) if FRAME.match(f) else f.strip() for f in frames]
        if names[:4] == chain:
            hits += count
    total = sum(c for _, c in found)
    # 600 ms of spinning at 499 Hz: ~300 samples, nearly all in inner_spin's loop
    assert total >= 100 and hits >= total * 0.6, r


def test_kernel_stack_of_a_syscall_tracepoint():
    r = pytrace("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
                "{ @[kstack] = count(); @p[kstack(perf, 2)] = count(); @r[kstack(raw, 1)] = "
                "count(); }", "-c", workload("getppid", 17))
    assert r.rc == 0, r
    (frames, count), *others = stacks(r.out)
    assert count == 17 and frames, r
    for f in frames:
        assert FRAME.match(f), f"not a kernel symbol+offset frame: {f!r}\n{r}"
    with open("/proc/kallsyms") as f:
        names = {line.split()[2] for line in f}
    assert all(FRAME.match(f).group(1) in names for f in frames), r
    perf = re.search(r"@p\[\n((?:\t[0-9a-f]+ \S+\n){1,2})\]: 17\n", r.out)
    assert perf, r
    assert re.search(r"@r\[\n[0-9a-f]{8,16}\n\]: 17\n", r.out), r


def test_profile_with_pid_follows_that_process(cprog):
    prog = cprog("callchain")
    traced = subprocess.Popen([prog, "1500"])
    reaper = threading.Thread(target=traced.wait)     # -p ends when the process is reaped
    reaper.start()
    try:
        p = start("-p", traced.pid, "-e", "profile:hz:199 { @[pid] = count(); }")
        wait_attached(p)
        r = finish(p, timeout=60)
    finally:
        traced.kill()
        reaper.join()
    assert r.rc == 0, r
    entries = re.findall(r"^@\[(\d+)\]: (\d+)$", r.out, re.M)
    assert [int(pid) for pid, _ in entries] == [traced.pid], r
    assert int(entries[0][1]) >= 50, r


def test_software_page_faults_and_context_switches():
    r = pytrace("-e", "software:page-faults:1 /pid == cpid/ { @faults = count(); } "
                "software:cs:1 /pid == cpid/ { @cs = count(); }",
                "-c", f"{PY} -c 'import time\nb = bytearray(64 << 20)\n"
                "for _ in range(40): time.sleep(0.001)'")
    assert r.rc == 0, r
    got = dict(re.findall(r"^@(\w+): (\d+)$", r.out, re.M))
    # 64 MiB touched by bytearray(): thousands of faults; 40 sleeps: 40+ switches
    assert int(got["faults"]) > 1000 and int(got["cs"]) >= 40, r


def _has_hardware_counters() -> bool:
    devices = "/sys/bus/event_source/devices"
    return any(os.path.exists(f"{devices}/{d}/events/cpu-cycles") or d == "cpu"
               for d in os.listdir(devices))


def test_hardware_counter_without_a_pmu():
    if _has_hardware_counters():
        pytest.skip("this machine has hardware counters")
    r = pytrace("-e", "hardware:cycles:100000 { @ = count(); }")
    assert r.rc == 1, r
    assert r.err == (
        "error: cannot attach hardware:cycles:100000: this machine has no hardware "
        "performance counter for that event (perf_event_open: ENOENT)\n"
        "hint: virtual machines often have no PMU (with QEMU/KVM: -cpu host, or enable the "
        "vPMU); software:cpu-clock:N or profile:hz:N sample without one\n"), r


def test_listing_perf_events():
    r = pytrace("-l", "software:*")
    assert r.rc == 0 and "software:page-faults:\n" in r.out and "software:cs:" not in r.out, r
    r = pytrace("-l", "hardware:*")
    assert "hardware:cpu-cycles:\n" in r.out, r
    r = pytrace("-l", "profile:*")
    assert r.out == "profile:hz:N\nprofile:s:N\nprofile:ms:N\nprofile:us:N\n", r


def test_pid_of_an_exited_unreaped_process_ends_tracing():
    traced = subprocess.Popen([PY, "-c", "import time; time.sleep(0.5)"])
    try:
        p = start("-p", traced.pid, "-e", "profile:hz:99 { @ = count(); }")
        wait_attached(p)
        r = finish(p, timeout=10)
    finally:
        traced.wait()
    assert r.rc == 0, r
