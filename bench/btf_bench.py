"""How long BTF takes, cold (no index cache) and warm, each run in a fresh
interpreter so import time counts as it does for ``pytrace``.

    python3 bench/btf_bench.py [--btf /sys/kernel/btf/vmlinux] [--runs 7]

Phases, timed inside the child with perf_counter: ``import`` (btf and
btf_types modules), ``open`` (Btf.load: map, hash, index load or build),
``task_struct`` (find + convert with every member type one level deep),
``funcs`` (all function names). ``process`` is the child's whole wall time
seen from outside, interpreter start-up included. Children get a private
bytecode cache (PYTHONPYCACHEPREFIX) warmed first, like an installed
pytrace, and ``python -S`` is also shown to separate site-packages start-up
cost (``.pth`` files) from ours.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import time
t0 = time.perf_counter()
from pytrace.btf.reader import Btf, BtfKind
from pytrace.lang.btf_types import TypeConverter
t1 = time.perf_counter()
btf = Btf.load(PATH)
t2 = time.perf_counter()
task = TypeConverter(btf).convert(btf.find("task_struct", BtfKind.STRUCT))
assert len(task.fields) > 100
t3 = time.perf_counter()
names = btf.funcs()
t4 = time.perf_counter()
import json
print(json.dumps({"import": t1 - t0, "open": t2 - t1, "task_struct": t3 - t2,
                  "funcs": t4 - t3, "nfuncs": len(names), "ntypes": btf.end_id - 1}))
"""

PHASES = ("import", "open", "task_struct", "funcs", "process")


def run_child(python: list[str], path: str, env: dict) -> dict:
    start = time.perf_counter()
    out = subprocess.run(python + ["-c", CHILD.replace("PATH", repr(path))], env=env,
                         check=True, capture_output=True, text=True).stdout
    took = time.perf_counter() - start
    res = json.loads(out)
    res["process"] = took
    return res


def clear(cache: str) -> None:
    for name in os.listdir(cache):
        if name.startswith("btf-"):
            os.unlink(os.path.join(cache, name))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--btf", default="/sys/kernel/btf/vmlinux")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if not os.access(args.btf, os.R_OK):
        print(f"btf_bench: cannot read {args.btf}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        cache, pyc = os.path.join(tmp, "cache"), os.path.join(tmp, "pyc")
        os.makedirs(cache)
        env = dict(os.environ, PYTHONPATH=REPO, PYTRACE_CACHE_DIR=cache,
                   PYTHONPYCACHEPREFIX=pyc)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        rows = []
        for label, python in (("", [sys.executable]), (" -S", [sys.executable, "-S"])):
            run_child(python, args.btf, env)          # fill the bytecode cache
            for mode in ("cold", "warm"):
                runs = []
                for _ in range(args.runs):
                    if mode == "cold":
                        clear(cache)
                    runs.append(run_child(python, args.btf, env))
                rows.append((f"{mode}{label}", runs))
        nt, nf = rows[0][1][0]["ntypes"], rows[0][1][0]["nfuncs"]
        size = os.path.getsize(args.btf)
        print(f"{args.btf}: {size / 1e6:.1f} MB, {nt} types, {nf} functions; "
              f"median of {args.runs} fresh interpreters, milliseconds")
        print(f"{'':10}" + "".join(f"{p:>13}" for p in PHASES) + f"{'import+open+task':>18}")
        for name, runs in rows:
            med = {p: 1e3 * statistics.median(r[p] for r in runs) for p in PHASES}
            total = 1e3 * statistics.median(r["import"] + r["open"] + r["task_struct"]
                                            for r in runs)
            print(f"{name:10}" + "".join(f"{med[p]:13.1f}" for p in PHASES) + f"{total:18.1f}")
        for label, python in (("", [sys.executable]), (" -S", [sys.executable, "-S"])):
            walls = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run(python + ["-c", "pass"], env=env, check=True)
                walls.append(time.perf_counter() - start)
            print(f"baseline: `python{label} -c pass` takes "
                  f"{1e3 * statistics.median(walls):.1f} ms")
        idx = [n for n in os.listdir(cache) if n.startswith("btf-")]
        if idx:
            print(f"index cache file: {os.path.getsize(os.path.join(cache, idx[0])) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
