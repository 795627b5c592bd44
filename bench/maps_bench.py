"""Printing big maps, pytrace beside bpftrace 0.17 in the same run (issue 11
item 5).

A C loop (bench/map_fill.c) calls getpgid(i) (i % 5) + 1 times for each i
below N, so a tracepoint on sys_enter_getpgid fills a map of N keys with
counts 1..5; the loop prints the wall-clock time at its end on stderr.
Measured, medians of --runs: seconds from the loop's end to the tracer's
exit (the map read, sorted, printed to a file, then tear-down), and the
tracer's peak RSS (wait4's ru_maxrss). Output lines are counted to check
the whole map came out. Prints a markdown table.

    sudo python3 bench/maps_bench.py [--runs 3] [--sizes 10000,100000,1000000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(REPO, "bench")

#: (label, script)
CASES = (
    ("count, int key", "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ "
     "{ @[args->pid] = count(); }"),
    ("sum, (int, int) key", "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ "
     "{ @[args->pid, args->pid % 7] = sum(args->pid); }"),
)


def env(keys: int) -> dict:
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["PYTHONPATH"] = REPO
    e["PYTRACE_MAX_MAP_KEYS"] = e["BPFTRACE_MAP_KEYS_MAX"] = str(keys)
    return e


def run_once(argv: list, n: int, tmp: str) -> tuple[float | None, float, int]:
    """(seconds from the loop's end to exit, peak RSS MiB, map lines)."""
    out = os.path.join(tmp, "out.txt")
    err = os.path.join(tmp, "err.txt")
    with open(out, "w") as fo, open(err, "w") as fe:
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, env=env(n + n // 4 + 1024))
        _, status, ru = os.wait4(p.pid, 0)
        done = time.time_ns()
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(err) as f:
        stamps = [int(x) for x in f.read().split() if x.isdigit() and len(x) >= 18]
    with open(out) as f:
        lines = sum(1 for line in f if line.startswith("@"))
    secs = (done - stamps[-1]) / 1e9 if stamps and p.returncode == 0 else None
    return secs, ru.ru_maxrss / 1024, lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--bpftrace", default=shutil.which("bpftrace") or "")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--no-feature", action="append", default=[],
                    help="passed to pytrace (e.g. map_batch)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        fill = os.path.join(tmp, "map_fill")
        subprocess.run(["gcc", "-O2", "-o", fill, os.path.join(HERE, "map_fill.c")], check=True)
        nf = [a for f in args.no_feature for a in ("--no-feature", f)]
        rows = ["| map | keys | pytrace s | bpftrace s | speed-up | pytrace RSS MiB "
                "| bpftrace RSS MiB | lines ok |", "|---|--:|--:|--:|--:|--:|--:|---|"]
        for label, script in CASES:
            path = os.path.join(tmp, "s.bt")
            with open(path, "w") as f:
                f.write(script + "\n")
            for n in sizes:
                cmd = f"{fill} {n}"
                tools = {"pytrace": [args.python, "-m", "pytrace", "-q", *nf, path, "-c", cmd]}
                if args.bpftrace:
                    tools["bpftrace"] = [args.bpftrace, path, "-c", cmd]
                got = {t: [] for t in tools}
                for _ in range(args.runs):
                    for t, argv in tools.items():       # interleaved: same load for both
                        got[t].append(run_once(argv, n, tmp))
                rows.append(_row(label, n, got))
                print(f"{label} {n}: done", file=sys.stderr, flush=True)
    print("\n".join(rows))
    return 0


def _row(label: str, n: int, got: dict) -> str:
    def med(t, i):
        xs = [r[i] for r in got.get(t, []) if r[i] is not None]
        return statistics.median(xs) if xs else None
    pt, bt = med("pytrace", 0), med("bpftrace", 0)
    ok = all(r[2] == n for rs in got.values() for r in rs)
    f = (lambda x, spec: "—" if x is None else format(x, spec))
    speed = f"{bt / pt:.1f}×" if pt and bt else "—"
    return (f"| {label} | {n:,} | {f(pt, '.2f')} | {f(bt, '.2f')} | {speed} | "
            f"{f(med('pytrace', 1), '.0f')} | {f(med('bpftrace', 1), '.0f')} | "
            f"{'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    sys.exit(main())
