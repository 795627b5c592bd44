"""User-space probes: pytrace against bpftrace; prints Markdown.

    python3 bench/uprobe_bench.py [--runs N] [--calls N] [--bpftrace PATH] [--out FILE]

Run as root, with gcc. Three measurements:

- added cost per uprobe hit and per uretprobe hit: bench/timed_loop.c (-DCALL_TARGET_FN)
  calls target_fn() N times (default 200,000), pinned to one CPU, untraced
  and with each tracer counting the calls (``{ @ = count(); }``) or doing
  nothing (``{ }``); added = (traced - untraced CPU time) / N, each traced
  loop against the two untraced loops run right before and after it;
- symbolization of a 1,000-entry ``@[ustack]`` map: a generated C program
  whose 1,000 call paths a -> b -> c -> leaf end in a uprobe counting
  ``@[ustack]``; timed from the program's last instruction (it prints
  CLOCK_MONOTONIC) to pytrace's exit, once with frames printed raw and
  once symbolized: the difference is what symbolizing costs (reading the
  ELF files, resolving 4,000+ frames, formatting). The program has exited
  by then, so its mappings come from the perf mmap records pytrace kept
  (bpftrace 0.17 cannot symbolize those at all and prints addresses);
- ELF reading: time and peak RSS of resolving libc's getppid with
  pytrace.elf against pyelftools (the choice the design had to make).

Medians of --runs repetitions (default 5). Also written to
bench/results/uprobes.md.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from procs import CHILDREN, wait_attached  # noqa: E402

SCRIPTS = (("uprobe", "{ }"), ("uprobe", "{ @ = count(); }"), ("uretprobe", "{ }"),
           ("uretprobe", "{ @ = count(); }"))


def progress(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".0f"):
    return "—" if x is None else format(x, spec)


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}"


def cc(tmp: str, name: str, source: str, flags: list[str]) -> str:
    exe = os.path.join(tmp, name)
    subprocess.run(["gcc", *flags, "-o", exe, source], check=True, capture_output=True)
    return exe


# -- added cost per hit -------------------------------------------------------------------
def loop_ns(exe: str, calls: int, cpu: int) -> int:
    out = subprocess.run([exe, str(calls)], capture_output=True, text=True, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu})).stdout
    return int(out.split()[-1])


def traced_loop(argv: list[str], exe: str, calls: int, cpu: int, bpftool: str) -> int:
    with tempfile.TemporaryFile() as sink:
        p = CHILDREN.start(argv, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_attached(p, bpftool, want=1)
            took = loop_ns(exe, calls, cpu)
        finally:
            CHILDREN.stop(p)
    return took


def bench_hits(exe: str, calls: int, runs: int, tools: dict, bpftool: str) -> list[str]:
    progress("added cost per uprobe/uretprobe hit")
    cpu = sorted(os.sched_getaffinity(0))[-1]
    added: dict = {}
    bases = []
    for _ in range(runs):
        for kind, body in SCRIPTS:
            script = f"{kind}:{exe}:target_fn {body}"
            for tool, argv in tools.items():
                before = loop_ns(exe, calls, cpu)
                took = traced_loop(argv(script), exe, calls, cpu, bpftool)
                after = loop_ns(exe, calls, cpu)
                bases += [before, after]
                added.setdefault((kind, body, tool), []).append(
                    (took - (before + after) / 2) / calls)
    base = median(bases) / calls
    out = ["### Added cost per uprobe / uretprobe hit", "",
           f"bench/timed_loop.c (-DCALL_TARGET_FN) calls target_fn() {calls:,} times on CPU {cpu}; untraced, "
           f"one iteration takes {base:.1f} ns of CPU time. ns added per call (breakpoint trap, "
           "uprobe dispatch and the BPF program), medians of "
           f"{runs} traced loops each between two untraced ones.", "",
           "| probe | action | pytrace ns/hit | bpftrace ns/hit | pytrace / bpftrace |",
           "|---|---|--:|--:|--:|"]
    for kind, body in SCRIPTS:
        pt = median(added.get((kind, body, "pytrace"), []))
        bt = median(added.get((kind, body, "bpftrace"), []))
        out.append(f"| `{kind}:…:target_fn` | `{body}` | {fmt(pt)} | {fmt(bt)} | "
                   f"{ratio(pt, bt)} |")
    return out


# -- symbolization of 1,000 stacks ---------------------------------------------------------
def stacks_program(tmp: str) -> tuple[str, int]:
    """A program with 1,000 distinct call paths a<i> -> b<j> -> c<k> -> leaf
    (built -O0 so every function keeps a frame pointer), and the offset in
    leaf past its prologue, where the frame-pointer walk sees every caller."""
    lines = ["#include <stdio.h>", "#include <time.h>", "volatile long sink;",
             "__attribute__((noinline)) void leaf(void) { sink++; }"]
    for k in range(10):
        lines.append(f"__attribute__((noinline)) void c{k}(void) {{ leaf(); sink++; }}")
    lines.append("static void (*cs[10])(void) = {" + ", ".join(f"c{k}" for k in range(10)) + "};")
    for j in range(10):
        lines.append(f"__attribute__((noinline)) void b{j}(int k) {{ cs[k](); sink++; }}")
    lines.append("static void (*bs[10])(int) = {" + ", ".join(f"b{j}" for j in range(10)) + "};")
    for i in range(10):
        lines.append(f"__attribute__((noinline)) void a{i}(int j, int k) {{ bs[j](k); sink++; }}")
    lines.append("static void (*as[10])(int, int) = {" +
                 ", ".join(f"a{i}" for i in range(10)) + "};")
    lines.append("int main(void) { for (int i = 0; i < 10; i++) for (int j = 0; j < 10; j++) "
                 "for (int k = 0; k < 10; k++) as[i](j, k); struct timespec t; "
                 "clock_gettime(CLOCK_MONOTONIC, &t); fprintf(stderr, \"end %lld\\n\", "
                 "(long long)t.tv_sec * 1000000000LL + t.tv_nsec); return 0; }")
    src = os.path.join(tmp, "stacks.c")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    exe = cc(tmp, "stacks", src, ["-O0", "-fno-omit-frame-pointer"])
    sys.path.insert(0, REPO)
    from pytrace.elf.reader import ElfFile
    with ElfFile(exe) as elf:
        head = elf.read_vaddr(elf.symbol("leaf").value, 8)
    if head.startswith(b"\x55\x48\x89\xe5"):          # push %rbp; mov %rsp,%rbp
        return exe, 4
    if head.startswith(b"\xf3\x0f\x1e\xfa\x55\x48\x89\xe5"):
        return exe, 8
    return exe, 8                                     # arm64: stp x29, x30; mov x29, sp


def print_time(argv: list[str]) -> tuple[float, str]:
    """Seconds from the traced program's end to pytrace's exit, and stdout."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    done = time.monotonic_ns()
    m = re.search(r"^end (\d+)$", p.stderr, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"{argv[:3]} failed ({p.returncode}): {p.stderr[-500:]}")
    return (done - int(m.group(1))) / 1e9, p.stdout


def bench_symbolize(tmp: str, runs: int, pytrace: list[str]) -> list[str]:
    progress("symbolization of a 1,000-entry @[ustack] map")
    exe, off = stacks_program(tmp)
    res = {}
    for mode in ("raw", "bpftrace", "perf"):
        script = f"uprobe:{exe}:leaf+{off} {{ @[ustack({mode})] = count(); }}"
        times = []
        for _ in range(runs):
            took, out = print_time(pytrace + ["-q", "-e", script, "-c", exe])
            entries = out.count("]: 1\n")
            if entries != 1000:
                raise RuntimeError(f"expected 1,000 stacks, got {entries}")
            times.append(took)
        res[mode] = median(times)
    raw = res["raw"]
    return ["### Symbolizing a 1,000-entry `@[ustack]` map", "",
            "A generated program (1,000 call paths a<i> → b<j> → c<k> → leaf) exits, then "
            "pytrace detaches, reads the map and prints it; seconds from the program's last "
            "instruction to pytrace's exit. Raw frames need no symbols: the difference is "
            "the cost of symbolizing 6,000 frames from two ELF files (the program and "
            "libc) of a process that no longer exists.", "",
            "| `ustack` mode | end → exit, ms | symbolization, ms |", "|---|--:|--:|",
            f"| raw | {raw * 1e3:.0f} | — |",
            f"| bpftrace | {res['bpftrace'] * 1e3:.0f} | {(res['bpftrace'] - raw) * 1e3:.0f} |",
            f"| perf | {res['perf'] * 1e3:.0f} | {(res['perf'] - raw) * 1e3:.0f} |"]


# -- ELF: our reader against pyelftools -------------------------------------------------------
#: peak RSS of this process's own address space (ru_maxrss would count the
#: bench's, which the child was forked from)
HWM = """
def hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
"""
ELF_OURS = HWM + """
import sys, time
t = time.perf_counter()
sys.path.insert(0, {repo!r})
from pytrace.elf.reader import ElfFile
with ElfFile({lib!r}) as e:
    off = e.vaddr_to_offset(e.symbol("getppid").value)
print((time.perf_counter() - t) * 1e3, hwm(), off)
"""
ELF_PYELFTOOLS = HWM + """
import time
t = time.perf_counter()
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
with open({lib!r}, "rb") as f:
    e = ELFFile(f)
    sym = next(s.get_symbol_by_name("getppid")[0] for s in e.iter_sections()
               if isinstance(s, SymbolTableSection) and s.get_symbol_by_name("getppid"))
    v = sym["st_value"]
    off = next(v - g["p_vaddr"] + g["p_offset"] for g in e.iter_segments()
               if g["p_type"] == "PT_LOAD" and g["p_vaddr"] <= v < g["p_vaddr"] + g["p_filesz"])
print((time.perf_counter() - t) * 1e3, hwm(), off)
"""
ELF_BARE = HWM + """
print(0, hwm(), 0)
"""


def bench_elf(runs: int, python: str) -> list[str]:
    progress("ELF reading: pytrace.elf vs pyelftools")
    lib = None
    for cand in ("/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6",
                 "/lib64/libc.so.6", "/usr/lib/libc.so.6"):
        if os.path.exists(cand):
            lib = cand
            break
    if lib is None:
        return ["### ELF reading", "", "(no libc found)"]
    rows = []
    for label, code in (("interpreter alone", ELF_BARE), ("pytrace.elf", ELF_OURS),
                        ("pyelftools", ELF_PYELFTOOLS)):
        ms, rss = [], []
        for _ in range(runs):
            p = subprocess.run([python, "-c", code.format(repo=REPO, lib=lib)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                rows.append((label, None, None, p.stderr.strip().splitlines()[-1]))
                break
            t, r, _ = p.stdout.split()
            ms.append(float(t))
            rss.append(int(r))
        else:
            rows.append((label, median(ms), median(rss) / 1024, ""))
    out = ["### ELF reading: resolving libc's getppid to a file offset", "",
           f"`{lib}`, in a fresh interpreter: import + open + symbol lookup + segment "
           "arithmetic; peak RSS of that interpreter.", "",
           "| reader | ms | peak RSS MiB | note |", "|---|--:|--:|---|"]
    for label, ms, rss, note in rows:
        out.append(f"| {label} | {fmt(ms, '.1f')} | {fmt(rss, '.1f')} | {note} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--bpftrace", default="/usr/bin/bpftrace")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "uprobes.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench: run as root", file=sys.stderr)
        return 3
    if shutil.which("gcc") is None:
        print("bench: needs gcc", file=sys.stderr)
        return 1
    bpftool = shutil.which("bpftool")
    python = sys.executable
    env_pytrace = [python, "-m", "pytrace"]
    os.environ["PYTHONPATH"] = REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    tools = {"pytrace": lambda s: env_pytrace + ["-q", "-e", s]}
    if os.access(args.bpftrace, os.X_OK):
        tools["bpftrace"] = lambda s: [args.bpftrace, "-e", s]
    try:
        with tempfile.TemporaryDirectory(prefix="pytrace-ubench-") as tmp:
            os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pyc")
            loop = cc(tmp, "uprobe_loop", os.path.join(HERE, "timed_loop.c"),
                      ["-O2", "-DCALL_TARGET_FN"])
            sections = [bench_hits(loop, args.calls, args.runs, tools, bpftool),
                        bench_symbolize(tmp, args.runs, env_pytrace),
                        bench_elf(args.runs, python)]
    except KeyboardInterrupt:
        return 130
    finally:
        CHILDREN.stop_all()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = ["## User-space probes: pytrace vs bpftrace", "",
             f"{now}; Linux {os.uname().release} {os.uname().machine}, {os.cpu_count()} CPUs; "
             f"medians of {args.runs} runs", ""]
    for sec in sections:
        lines += sec + [""]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
