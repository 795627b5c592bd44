"""Nothing of ours stays in the kernel, whatever way a run ends: a normal
exit, SIGINT, SIGTERM, an attach failing midway, a closed stdout. The
programs a run holds are read from /proc/PID/fdinfo while it runs and must
be gone once it has exited; the no_leaked_programs fixture also compares
`bpftool prog show` before and after."""
from __future__ import annotations

import os
import resource
import signal
import time
import uuid

import pytest

from conftest import (PY, finish, leftover_programs, needs_root, our_programs, owned_prog_ids,
                      pytrace, start, wait_attached, workload)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]


def programs_of(pid: int) -> set:
    ids = set(owned_prog_ids([str(pid)]))
    assert ids, f"pytrace (pid {pid}) holds no BPF program while attached"
    return ids


def assert_gone(ids: set, wait: float = 5.0) -> None:
    """Freed programs vanish a grace period after their last fd closes."""
    deadline = time.monotonic() + wait
    while (left := ids & set(our_programs())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"programs {sorted(left)} outlived pytrace"


def processes_with(marker: str) -> list:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_normal_exit_releases_programs():
    p = start("-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); } "
              "interval:ms:100 { @ticks = count(); }",
              "-c", f"{PY} -c 'import os, time; os.getppid(); time.sleep(0.3); os.getppid()'")
    wait_attached(p)
    ids = programs_of(p.pid)
    assert len(ids) == 2
    r = finish(p)
    assert r.rc == 0 and r.out.startswith("\n\n@: 2\n@ticks: "), r
    assert_gone(ids)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("features", [[], ["--no-feature", "ringbuf", "--no-feature", "link"]],
                         ids=["default", "perfbuf-nolink"])
def test_signal_prints_maps_and_releases_programs(signum, features):
    p = start(*features, "-e", 'interval:ms:5 { @n = count(); @h = hist(2); } '
              'END { printf("end\\n"); }')
    wait_attached(p)
    ids = programs_of(p.pid)
    time.sleep(0.05)
    p.send_signal(signum)
    r = finish(p, timeout=20)
    assert r.rc == 0, r
    assert r.out.startswith("end\n\n\n@h:\n[2, 4)"), r
    assert "\n\n@n: " in r.out and r.out.endswith("\n"), r
    assert "Traceback" not in r.err, r
    assert_gone(ids)


def test_signal_stops_the_traced_command():
    marker = f"pt-e2e-{uuid.uuid4().hex}"
    p = start("-e", 'BEGIN { printf("%d\\n", cpid); } tracepoint:syscalls:sys_enter_getppid '
              "/pid == cpid/ { @ = count(); }",
              "-c", f"{PY} -c 'import os, sys, time; os.getppid(); time.sleep(60)' {marker}")
    wait_attached(p)
    ids = programs_of(p.pid)
    deadline = time.monotonic() + 10
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)                     # let it make its getppid() call
    p.send_signal(signal.SIGINT)
    r = finish(p, timeout=20)
    assert r.rc == 0, r
    cpid = int(r.out.split("\n")[0])
    assert r.out == f"{cpid}\n\n\n@: 1\n", r
    assert not processes_with(marker), "the -c command outlived pytrace"
    assert_gone(ids)


def test_compile_error_cancels_the_held_command():
    marker = f"pt-e2e-{uuid.uuid4().hex}"
    r = pytrace("-e", "tracepoint:syscalls:sys_enter_getppid { @ = nosuchfunction(); }",
                "-c", workload("getppid", 1, marker))
    assert r.rc == 2 and "error: unknown function nosuchfunction()" in r.err, r
    time.sleep(0.1)
    assert not processes_with(marker), "the held -c command survived a compile error"


FD_LIMIT = 20
_midway: dict = {}


def _low_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def midway_failure(features: list):
    """A wildcard over ~360 tracepoints with too few fds to attach them all
    (one perf event + one link each): the attach fails after a few
    succeeded. Run once per feature set, shared by the tests below."""
    key = tuple(features)
    if key not in _midway:
        _midway[key] = pytrace(*features, "-e",
                               "tracepoint:syscalls:sys_enter_* /pid == cpid/ { @ = count(); }",
                               "-c", workload("getppid", 10), preexec_fn=_low_fd_limit)
    return _midway[key]


@pytest.mark.parametrize("features", [[], ["--no-feature", "link"]], ids=["link", "perf-ioctl"])
def test_attach_failing_midway_releases_everything(features, no_leaked_programs):
    # the same fd budget is enough to load and attach one tracepoint ...
    one = pytrace(*features, "-q", "-e",
                  "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }",
                  "-c", workload("getppid", 10), preexec_fn=_low_fd_limit)
    assert (one.rc, one.out) == (0, "\n\n@: 10\n"), one
    # ... so with hundreds, attaching fails after some succeeded
    r = midway_failure(features)
    assert r.rc == 1, r
    assert r.out == "", r
    first, *rest = r.err.splitlines()
    assert first.startswith("error: cannot attach ") and "Too many open files" in first, r
    assert all(line.startswith("hint: ") for line in rest) and "Traceback" not in r.err, r
    assert not leftover_programs(no_leaked_programs)


@pytest.mark.parametrize("features", [[], ["--no-feature", "link"]], ids=["link", "perf-ioctl"])
def test_attach_failure_names_the_probe(features):
    r = midway_failure(features)
    assert r.rc == 1 and "cannot attach tracepoint:syscalls:sys_enter_" in r.err, r


@pytest.mark.parametrize("features", [[], ["--no-feature", "ringbuf"]], ids=["ringbuf", "perfbuf"])
def test_closed_stdout_ends_quietly(features):
    p = start(*features, "-e", 'interval:ms:10 { printf("x\\n"); }')
    assert p.stdout.readline() == "x\n"
    p.stdout.close()                    # like `| head -1`
    try:
        rc = p.wait(timeout=10)
    except Exception:
        p.kill()
        raise
    err = p.stderr.read()
    assert rc in (0, -signal.SIGPIPE, 128 + signal.SIGPIPE), (rc, err)
    assert "Traceback" not in err and "Exception" not in err, err
    assert err in ("", "Attached 1 probe\n"), err
