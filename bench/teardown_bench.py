"""Tear-down of wide wildcards, pytrace beside bpftrace 0.17 in the same run.

Three cases (issue 11 item 6, issue 14 item 5), medians of --runs:
  * 360 syscall tracepoints for a 1 s command: seconds from the last line of
    the maps to the process's exit;
  * 3,000 uprobes on a generated C binary (gcc): seconds from the -c
    command's end (maps printed) to exit, and start to exit;
  * tracepoint:*:* ended by SIGINT: seconds from the signal to exit.
Before each run, any pytrace-closer left by the previous one is waited for,
so one run's background closes do not slow the next (the kernel serialises
them). Prints a markdown table.

    sudo python3 bench/teardown_bench.py [--runs 3] [--no-bpftrace]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"


def pytrace_cmd(*args) -> list:
    return [sys.executable, "-m", "pytrace", *args]


def bpftrace_cmd(*args) -> list:
    return ["bpftrace", *args]


def env() -> dict:
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["PYTHONPATH"] = REPO
    e["BPFTRACE_MAX_PROBES"] = e["BPFTRACE_MAX_BPF_PROGS"] = "5000"
    return e


def wait_closers(timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    busy = busy or f.read().strip() == "pytrace-closer"
            except OSError:
                pass
        if not busy:
            return
        time.sleep(0.2)


#: a run still going after this long is killed and reported as "> TIMEOUT s"
TIMEOUT = 600.0


class TimedOut(Exception):
    pass


def timed(argv: list, sigint_after: str | None = None, timeout: float = TIMEOUT):
    """(time of the last stdout line, exit time, signal time) from start;
    TimedOut when it had to be killed."""
    wait_closers()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env(), stdin=subprocess.DEVNULL)
    last = [0.0]
    sig = [None]

    def out():
        for _ in p.stdout:
            last[0] = time.monotonic() - t0

    def err():
        for line in p.stderr:
            if sigint_after and sigint_after in line and sig[0] is None:
                time.sleep(1.0)
                sig[0] = time.monotonic() - t0
                p.send_signal(signal.SIGINT)
    ts = [threading.Thread(target=out), threading.Thread(target=err)]
    for t in ts:
        t.start()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        for t in ts:
            t.join()
        raise TimedOut from None
    end = time.monotonic() - t0
    for t in ts:
        t.join()
    return last[0], end, sig[0]


def build_many(tmp: str, n: int = 3000) -> str:
    src = os.path.join(tmp, "many.c")
    with open(src, "w") as f:
        f.write("#include <stdlib.h>\nvolatile int sink;\n")
        for i in range(n):
            f.write(f"__attribute__((noinline)) void fn_{i}(int x) {{ sink += x + {i}; }}\n")
        f.write("int main(int c, char **v) { int r = c > 1 ? atoi(v[1]) : 1;\n"
                " for (int k = 0; k < r; k++) {\n")
        f.write("".join(f"  fn_{i}(k);\n" for i in range(n)))
        f.write(" }\n return 0; }\n")
    exe = os.path.join(tmp, "many")
    subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
    return exe


def med(xs):
    xs = [x for x in xs if x is not None]
    return f"{statistics.median(xs):.2f}" if xs else "—"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-bpftrace", action="store_true")
    a = ap.parse_args()
    tools = [("pytrace", pytrace_cmd)]
    if not a.no_bpftrace and shutil.which("bpftrace"):
        tools.append(("bpftrace 0.17", bpftrace_cmd))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_many(tmp)
        cases = [
            ("360 syscall tracepoints, exit after maps (s)",
             ["-e", "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }",
              "-c", "/usr/bin/sleep 1"], None, "maps"),
            ("3,000 uprobes, exit after maps (s)",
             ["-e", f"uprobe:{exe}:fn_* {{ @ = count(); }}", "-c", f"{exe} 2"], None, "maps"),
            ("3,000 uprobes, start to exit (s)",
             ["-e", f"uprobe:{exe}:fn_* {{ @ = count(); }}", "-c", f"{exe} 2"], None, "total"),
            ("tracepoint:*:*, Ctrl-C to exit (s)",
             ["-e", "tracepoint:*:* { @[probe] = count(); }"], "ttach", "sigint"),
        ]
        extra = [("pytrace --no-feature uprobe_multi",
                  lambda *args: pytrace_cmd("--no-feature", "uprobe_multi", *args))]
        for title, args, sig, what in cases:
            row = [title]
            for name, cmd in tools + (extra if "uprobes" in title else []):
                vals = []
                for _ in range(a.runs):
                    try:
                        last, end, at = timed(cmd(*args), sigint_after=sig)
                    except TimedOut:
                        vals = None
                        break
                    vals.append(end - last if what == "maps" else end if what == "total"
                                else (end - at if at is not None else None))
                if vals is None:
                    row.append(f"{name}: > {TIMEOUT:.0f} (killed)")
                    print(f"  {title} / {name}: killed after {TIMEOUT:.0f} s", file=sys.stderr)
                    continue
                row.append(f"{name}: {med(vals)}")
                print(f"  {title} / {name}: {[round(v, 2) for v in vals if v is not None]}",
                      file=sys.stderr)
            rows.append(row)
    print("| case | medians |\n|---|---|")
    for row in rows:
        print(f"| {row[0]} | {'; '.join(row[1:])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
