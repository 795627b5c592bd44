"""Helpers for the end-to-end kernel tests (tests/kernel/test_e2e_*.py).

They run the real CLI as a subprocess, ``python -m pytrace`` with the repo
on PYTHONPATH, against deterministic workloads in ``workloads/`` run by the
system interpreter (/usr/bin/python3, never a pyenv shim, so ``comm`` is
"python3" and startup does not fork).

Everything here is opt-in (fixtures and functions); the one hook,
``pytest_collection_modifyitems``, only touches items marked
``pytrace_background``: their pytrace run starts as soon as collection
ends and the item moves to the end, so a run that spends half a minute in
the kernel (detaching hundreds of tracepoints) overlaps the other tests.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = Path(__file__).resolve().parent / "workloads"
#: the real interpreter for workloads: comm "python3", no shim in between
PY = "/usr/bin/python3"
TRACEFS = "/sys/kernel/tracing"
IS_ROOT = os.geteuid() == 0

#: --no-feature combinations the fallback paths are tested with
FEATURE_SETS = [
    pytest.param([], id="default"),
    pytest.param(["--no-feature", "ringbuf"], id="no-ringbuf"),
    pytest.param(["--no-feature", "test_run"], id="no-test_run"),
    pytest.param(["--no-feature", "ringbuf", "--no-feature", "test_run"], id="no-both"),
]

#: os.open flags the opens.py workload uses, so a predicate picks out its opens
#: from the interpreter's own (which use O_RDONLY|O_CLOEXEC and friends)
OPEN_MARK_FLAGS = os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
#: the file offset pread.py passes, for the same reason (ld.so preads ELF headers)
PREAD_MARK_POS = 7777

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root to load BPF programs")


def workload(name: str, *args) -> str:
    """A -c command line for ``workloads/<name>.py ARGS`` (no quoting needed:
    bpftrace 0.17 splits -c on whitespace)."""
    return " ".join([PY, str(WORKLOADS / f"{name}.py"), *map(str, args)])


def env(extra: dict | None = None) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    for k in list(e):
        if k.startswith("PYTRACE_"):
            del e[k]
    e.update(extra or {})
    return e


@dataclass
class Result:
    argv: list
    rc: int
    out: str
    err: str

    def __repr__(self) -> str:        # shown by pytest when an assert fails
        return (f"argv: {self.argv}\nexit status: {self.rc}\n--- stdout ---\n{self.out}"
                f"--- stderr ---\n{self.err}")


def pytrace_argv(*args) -> list:
    return [sys.executable, "-m", "pytrace", *map(str, args)]


def run(argv: list, timeout: float = 60, extra_env: dict | None = None, **kw) -> Result:
    p = subprocess.run(argv, capture_output=True, text=True, errors="surrogateescape",
                       timeout=timeout, env=env(extra_env), stdin=subprocess.DEVNULL, **kw)
    return Result(argv, p.returncode, p.stdout, p.stderr)


def pytrace(*args, timeout: float = 60, extra_env: dict | None = None, **kw) -> Result:
    """Run ``python -m pytrace ARGS``; the result's str() shows everything."""
    return run(pytrace_argv(*args), timeout=timeout, extra_env=extra_env, **kw)


def start(*args, extra_env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(pytrace_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env(extra_env), **kw)


def finish(p: subprocess.Popen, timeout: float = 60) -> Result:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += f"\n[killed by the test after {timeout} s]"
    return Result(p.args, p.returncode, out, err)


def wait_attached(p: subprocess.Popen, timeout: float = 20) -> str:
    """Read stderr until pytrace says it attached; returns what was read."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        seen += line
        if line.startswith("Attached "):
            return seen
    raise AssertionError(f"pytrace did not attach; stderr so far:\n{seen}")


# -- bpftrace, the oracle -------------------------------------------------------

BPFTRACE = shutil.which("bpftrace")


def bpftrace(script: str, *args, timeout: float = 60) -> Result:
    return run([BPFTRACE, "-e", script, *map(str, args)], timeout=timeout)


_STATS_017 = re.compile(r"^(@.*?: )count (-?\d+), average (-?\d+), total (-?\d+)$")
_MAP_LINE = re.compile(r"^(@\w*)(\[.*\])?: (.*)$")


def normalise_map_text(text: str, bpftrace_017: bool = False) -> list:
    """Printed output as comparable lines: bpftrace 0.17's "Attaching N
    probes..." dropped, its stats rewritten as we print them, trailing
    spaces and blank lines dropped (0.17 adds one after every map), and
    entries of one map with equal values sorted (bpftrace leaves ties in
    hash order)."""
    lines = text.splitlines()
    if bpftrace_017 and lines and lines[0].startswith("Attaching "):
        lines = lines[1:]
    out = []
    for line in lines:
        line = line.rstrip()
        if not line:
            continue
        if bpftrace_017:
            line = _STATS_017.sub(r"\1{ .count = \2, .average = \3, .total = \4 }", line)
        out.append(line)
    # sort runs of entries that share map name and value
    result, run_ = [], []

    def flush():
        result.extend(sorted(run_))
        run_.clear()

    for line in out:
        m = _MAP_LINE.match(line)
        if m and m.group(2):
            group = (m.group(1), m.group(3))
            if run_ and _MAP_LINE.match(run_[0]).group(1, 3) != group:
                flush()
            run_.append(line)
        else:
            flush()
            result.append(line)
    flush()
    return result


# -- BPF programs left in the kernel ----------------------------------------------

_OUR_PROG = re.compile(r"^pt\d+_")


def our_programs() -> dict:
    """id -> name of every loaded program named like ours (pt<N>_...)."""
    p = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"bpftool prog show failed: {p.stderr}")
    return {prog["id"]: prog.get("name", "") for prog in json.loads(p.stdout or "[]")
            if _OUR_PROG.match(prog.get("name", ""))}


def owned_prog_ids(pids=None) -> dict:
    """prog id -> pid of a live process holding an fd of it (program or
    link fds show ``prog_id:`` in /proc/PID/fdinfo). ``pids``: only these."""
    owned = {}
    candidates = pids if pids is not None else [d for d in os.listdir("/proc") if d.isdigit()]
    for pid in candidates:
        base = f"/proc/{pid}/fdinfo"
        try:
            fds = os.listdir(base)
        except OSError:
            continue
        for fd in fds:
            try:
                with open(f"{base}/{fd}") as f:
                    text = f.read()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("prog_id:"):
                    owned[int(line.split()[1])] = int(pid)
    return owned


def leftover_programs(before: set, wait: float = 5.0) -> dict:
    """Programs named like ours that were not there before and that no live
    process holds (another run's programs are its own business). Freed
    programs disappear a grace period after their last fd closes, so look
    again for up to ``wait`` seconds before calling them leaked."""
    deadline = time.monotonic() + wait
    while True:
        new = {i: n for i, n in our_programs().items() if i not in before}
        if new:
            owned = owned_prog_ids()
            new = {i: n for i, n in new.items() if i not in owned}
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.1)


@pytest.fixture
def no_leaked_programs():
    """Fails the test if it leaves a pt<N>_ program that nobody holds."""
    if not shutil.which("bpftool"):
        pytest.skip("bpftool is not installed")
    before = set(our_programs())
    yield before
    left = leftover_programs(before)
    assert not left, f"BPF programs left behind: {left}"


@pytest.fixture(scope="session")
def tracefs():
    """bpftrace 0.17 needs tracefs mounted (pytrace mounts it itself)."""
    if not os.path.exists(f"{TRACEFS}/events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=False)
    if not os.path.exists(f"{TRACEFS}/events"):
        pytest.skip("tracefs is not available")
    return TRACEFS


@pytest.fixture
def oracle(tracefs):
    if BPFTRACE is None:
        pytest.skip("bpftrace is not installed")
    return bpftrace


# -- slow runs started early ---------------------------------------------------------

_BACKGROUND = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "pytrace_background(*args): start `pytrace ARGS` when collection ends and "
        "run this test last; it gets the result from the pytrace_background fixture")


@pytest.hookimpl(trylast=True)         # after -k/-m deselection: start only what runs
def pytest_collection_modifyitems(config, items):
    marked = [i for i in items if i.get_closest_marker("pytrace_background")]
    if not marked:
        return
    for item in marked:
        items.remove(item)
        items.append(item)
    if not IS_ROOT:
        return
    runs = {}
    for item in marked:
        mark = item.get_closest_marker("pytrace_background")
        runs[item.nodeid] = start(*mark.args, start_new_session=True)
    config.stash[_BACKGROUND] = runs


def pytest_unconfigure(config):
    for p in config.stash.get(_BACKGROUND, {}).values():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture
def pytrace_background(request):
    """The finished run that this test's pytrace_background mark started."""
    runs = request.config.stash.get(_BACKGROUND, {})
    p = runs.get(request.node.nodeid)
    if p is None:
        pytest.skip("no background run (not root?)")
    return finish(p, timeout=180)
