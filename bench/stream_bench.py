"""Event streams: how many printf events a tracer delivers, pytrace against
bpftrace in one run; prints Markdown.

    python3 bench/stream_bench.py [--runs N] [--seconds S] [--bpftrace PATH]
                                  [--python PYTHON]

Run as root. One ``printf("%d %d\\n", pid, nsecs)`` per getpid() of
bench/paced_loop.c, filtered by ``pid == cpid``, output to a file (``-o``):

- paced streams at 20k, 100k, 300k and 500k events a second for S seconds
  (default 2): the share delivered (lines in the file / calls made), the
  events lost, and how long the paced loop took against the S seconds asked
  (a tracer that slows its producer down shows here);
- a burst: 100,000 calls from a tight loop, default buffer sizes;
- sustained consumer throughput: a 1,000,000-call burst into buffers big
  enough to hold it (pytrace ``PYTRACE_RINGBUF_SIZE``, bpftrace
  ``BPFTRACE_PERF_RB_PAGES``), the tracer's CPU time (its own: less the -c
  loop's, which its rusage includes and which pays the in-kernel part)
  less that of a run with no events, per event.

Medians of --runs repetitions (default 3), pytrace and bpftrace interleaved.
pytrace is ``PYTHON -m pytrace`` from this checkout.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = 'tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { printf("%d %d\\n", pid, nsecs); }'
RATES = (20_000, 100_000, 300_000, 500_000)
BURST = 100_000
SUSTAINED = 1_000_000
EVENT_LINE = re.compile(rb"^\d+ -?\d+$", re.M)
LOST = re.compile(r"Lost (\d+) events")


class Tracer:
    """How to run one tracer on a -c command, with its own big-buffer setting."""

    def __init__(self, name: str, argv: list[str], env: dict, big: dict):
        self.name, self.argv, self.env, self.big = name, argv, env, big

    def run(self, command: str, out: str, big: bool = False) -> dict:
        """Run the tracer on ``command``; the events it wrote, the events it
        reported lost, the loop's own report and the tracer's CPU seconds."""
        env = dict(self.env, **self.big) if big else self.env
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        p = subprocess.Popen([*self.argv, "-o", out, "-e", SCRIPT, "-c", command], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        stdout, stderr = p.communicate(timeout=600)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        with open(out, "rb") as f:
            data = f.read()
        loop = [ln.split() for ln in stdout.decode().splitlines() if ln.count(" ") == 2]
        calls, loop_ns, loop_cpu = (int(loop[-1][0]), int(loop[-1][1]), int(loop[-1][2])) \
            if loop else (0, 0, 0)
        text = stderr.decode(errors="replace") + data.decode(errors="replace")
        return {"events": len(EVENT_LINE.findall(data)),
                "lost": sum(int(n) for n in LOST.findall(text)),
                "calls": calls, "loop_s": loop_ns / 1e9, "wall": wall, "rc": p.returncode,
                "cpu": cpu - loop_cpu / 1e9, "err": stderr.decode(errors="replace")}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def build_loop(tmp: str) -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise SystemExit("stream_bench: needs a C compiler for bench/paced_loop.c")
    exe = os.path.join(tmp, "paced_loop")
    subprocess.run([cc, "-O2", "-o", exe, os.path.join(HERE, "paced_loop.c")], check=True)
    return exe


def bench(tracers: list[Tracer], loop: str, tmp: str, runs: int, seconds: float) -> list[str]:
    out = os.path.join(tmp, "events.out")
    rows = []
    jobs = [(f"{rate:,}/s for {seconds:g} s", f"{loop} {rate} {seconds}", rate * seconds)
            for rate in RATES]
    jobs.append((f"burst of {BURST:,} (tight loop)", f"{loop} 0 {BURST}", BURST))
    for label, command, sent in jobs:
        got = {t.name: [] for t in tracers}
        for _ in range(runs):
            for t in tracers:
                got[t.name].append(t.run(command, out))
        cells = [label]
        for t in tracers:
            rs = got[t.name]
            bad = [r for r in rs if r["rc"] != 0 or r["calls"] != sent]
            if bad:
                cells += ["failed: " + bad[0]["err"].strip()[-120:]] + [""] * 2
                continue
            share = median(100.0 * r["events"] / sent for r in rs)
            lost = median(r["lost"] for r in rs)
            slow = median(r["loop_s"] for r in rs)
            cells += [f"{share:.1f} %", f"{lost:,.0f}",
                      f"{slow:.2f} s" if "burst" not in label else f"{slow * 1e3:.0f} ms"]
        rows.append(cells)
    cols = ["stream"] + [f"{t.name} {c}" for t in tracers
                         for c in ("delivered", "lost", "loop took")]
    lines = ["### Event streams: one printf per getpid()", "",
             "| " + " | ".join(cols) + " |", "|---" + "|--:" * (len(cols) - 1) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", sustained(tracers, loop, out, runs)]
    return lines


def sustained(tracers: list[Tracer], loop: str, out: str, runs: int) -> str:
    rates = {}
    for t in tracers:
        idle, busy, events = [], [], []
        for _ in range(runs):
            idle.append(t.run(f"{loop} 0 0", out, big=True)["cpu"])
            r = t.run(f"{loop} 0 {SUSTAINED}", out, big=True)
            busy.append(r["cpu"])
            events.append(r["events"])
        per_event = (median(busy) - median(idle)) / max(1, median(events))
        rates[t.name] = (1 / per_event if per_event > 0 else None, median(events))
    parts = [f"{name} {rate:,.0f} events/s ({events:,.0f} of {SUSTAINED:,} delivered)"
             if rate else f"{name}: not measurable" for name, (rate, events) in rates.items()]
    text = "Sustained consumer throughput (the tracer's own CPU time per event of a " \
           "1,000,000-event burst into big buffers, the traced loop's CPU left out): " + "; ".join(parts)
    if len(rates) == 2 and all(r for r, _ in rates.values()):
        (a, _), (b, _) = rates.values()
        text += f"; ratio {a / b:.1f}x"
    return text + "."


def make_tracers(python: str, bpftrace: str | None) -> list[Tracer]:
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    tracers = [Tracer("pytrace", [python, "-m", "pytrace"], env,
                      {"PYTRACE_RINGBUF_SIZE": str(64 << 20)})]
    if bpftrace:
        tracers.append(Tracer("bpftrace", [bpftrace], dict(os.environ),
                              {"BPFTRACE_PERF_RB_PAGES": "8192"}))
    return tracers


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--bpftrace", default="/usr/bin/bpftrace")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("stream_bench: run as root", file=sys.stderr)
        return 3
    bpftrace = args.bpftrace if os.access(args.bpftrace, os.X_OK) else None
    with tempfile.TemporaryDirectory(prefix="pytrace-stream-") as tmp:
        loop = build_loop(tmp)
        lines = bench(make_tracers(args.python, bpftrace), loop, tmp, args.runs, args.seconds)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
