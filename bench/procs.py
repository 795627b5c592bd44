"""Processes for bench/bench.py: starting and stopping them, timing them
with their peak RSS, and finding the BPF programs a tracer attached.

Standard library only; Linux; bpftool for the BPF program look-ups.
"""
from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass


class Children:
    """Every process the bench starts, so that all of them are stopped on
    every way out (tracers get SIGINT first so they detach cleanly)."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, argv, **kw) -> subprocess.Popen:
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def forget(self, p: subprocess.Popen) -> None:
        if p in self.procs:
            self.procs.remove(p)

    def stop(self, p: subprocess.Popen, grace: float = 30.0) -> int:
        """SIGINT, then SIGKILL after ``grace`` seconds; returns the exit status.
        (Detaching can take seconds while other tracers on the machine are
        attaching or detaching many tracepoints.)"""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGINT)
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.forget(p)
        return p.returncode

    def stop_all(self) -> None:
        for p in list(self.procs):
            self.stop(p, grace=2.0)


CHILDREN = Children()


@dataclass
class Run:
    wall: float          # seconds
    rss_kib: int         # peak resident set size
    rc: int
    err: str = ""


class Spawner:
    """Runs a command for its wall time and peak RSS. A child's ru_maxrss
    counts the address space it was forked from (the kernel records the old
    mm's peak at exec), so forked from this Python process every command
    would show at least our own RSS; commands are therefore started from a
    small launcher: bench/rusage_run.c when a C compiler is there, else
    /usr/bin/time, else directly (and the RSS column says so)."""

    def __init__(self, tmp: str, launcher: str | None):
        self.out = os.path.join(tmp, "rusage")
        self.launcher = launcher
        self.gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
        self.kind = ("bench/rusage_run.c" if launcher else
                     "/usr/bin/time" if self.gnu_time else "direct (includes the bench's RSS)")

    def wrap(self, argv: list[str]) -> list[str]:
        if os.path.exists(self.out):
            os.unlink(self.out)
        if self.launcher:
            return [self.launcher, self.out] + argv
        if self.gnu_time:
            return [self.gnu_time, "-f", "%M", "-o", self.out] + argv
        return argv

    def result(self, wall: float, status: int, usage) -> tuple[float, int, int]:
        """(wall seconds, peak RSS KiB, exit status) of the wrapped command."""
        rc = os.waitstatus_to_exitcode(status)
        if self.launcher and os.path.exists(self.out):
            with open(self.out) as f:
                ns, rss, rc = (int(x) for x in f.read().split())
            return ns / 1e9, rss, rc
        if self.gnu_time and os.path.exists(self.out):
            with open(self.out) as f:
                nums = [ln for ln in f.read().splitlines() if ln.strip().isdigit()]
            return wall, int(nums[-1]) if nums else usage.ru_maxrss, rc
        return wall, usage.ru_maxrss, rc

    def measure(self, argv: list[str], env: dict, cwd: str) -> Run:
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            p = CHILDREN.start(self.wrap(argv), env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(p.pid, 0)
            wall = time.perf_counter() - start
            p.returncode = os.waitstatus_to_exitcode(status)
            CHILDREN.forget(p)
            err.seek(0)
            wall, rss, rc = self.result(wall, status, usage)
            return Run(wall, rss, rc, err.read().decode(errors="replace"))

    def first_event(self, argv: list[str], env: dict, cwd: str, timeout: float = 30.0):
        """(start -> the line "hit" read on stdout, start -> exit, peak RSS KiB,
        exit status); both times seen from here, launcher included."""
        start = time.perf_counter()
        p = CHILDREN.start(self.wrap(argv), env=env, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        hit = None
        buf = b""
        fd = p.stdout.fileno()
        deadline = start + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                CHILDREN.stop(p)
                raise RuntimeError(f"no output from {argv[0]} within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            if hit is None and b"hit\n" in buf:
                hit = time.perf_counter() - start
        _, status, usage = os.wait4(p.pid, 0)
        total = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stdout.close()
        CHILDREN.forget(p)
        _, rss, rc = self.result(total, status, usage)
        return hit, total, rss, rc


# -- BPF programs of a process ---------------------------------------------------------
def attached_prog_ids(pid: int, bpftool: str | None) -> set[int]:
    """Programs that process ``pid`` has attached: BPF link fds (their
    fdinfo names the program) and perf events with a program (bpftool perf).
    Debian's bpftool has no ``pids`` in ``prog show``, so we look ourselves."""
    ids: set[int] = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(fdinfo)
    except OSError:
        return ids
    for name in names:
        try:
            with open(os.path.join(fdinfo, name)) as f:
                text = f.read()
        except OSError:
            continue
        if "link_type:" in text:
            m = re.search(r"^prog_id:\s*(\d+)", text, re.M)
            if m:
                ids.add(int(m.group(1)))
    if bpftool:
        out = subprocess.run([bpftool, "-j", "perf", "list"], capture_output=True,
                             text=True).stdout
        try:
            for rec in json.loads(out or "[]"):
                if rec.get("pid") == pid and "prog_id" in rec:
                    ids.add(rec["prog_id"])
        except ValueError:
            pass
    return ids


def wait_attached(p: subprocess.Popen, bpftool: str | None, want: int,
                  timeout: float = 20.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"tracer exited early (status {p.returncode})")
        ids = attached_prog_ids(p.pid, bpftool)
        if len(ids) >= want:
            time.sleep(0.2)   # let the last perf event be enabled
            return ids
        time.sleep(0.02)
    raise RuntimeError("tracer did not attach within %.0f s" % timeout)


def prog_info(bpftool: str, prog_id: int) -> dict:
    out = subprocess.run([bpftool, "-j", "prog", "show", "id", str(prog_id)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def on_syscall_path(tracepoint: str) -> bool:
    """Any syscall tracepoint in use sends every system call of every task
    through the slow path, so other people's syscall tracers skew both the
    untraced and the traced loops."""
    return tracepoint.startswith(("sys_enter", "sys_exit"))


def foreign_tracers(bpftool: str | None) -> list[str]:
    """Other processes with BPF programs on the workload's path (other
    people's tracers running on this machine would skew the numbers)."""
    if not bpftool:
        return []
    out = subprocess.run([bpftool, "-j", "perf", "list"], capture_output=True,
                         text=True).stdout
    try:
        recs = json.loads(out or "[]")
    except ValueError:
        return []
    return sorted({f"pid {r.get('pid')} on {r.get('tracepoint')}" for r in recs
                   if on_syscall_path(r.get("tracepoint") or "")})
