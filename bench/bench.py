"""pytrace against bpftrace, side by side in one run; prints Markdown.

    python3 bench/bench.py [--quick] [--runs N] [--events N] [--bpftrace PATH]
                           [--no-btf] [--no-streams] [--no-teardown] [--no-maps]
                           [--out FILE]

Run as root. Medians over --runs repetitions (default 7; --quick: 3) of:

- start-up: wall time and peak RSS of ``-e 'BEGIN { exit(); }'`` for the
  installed ``pytrace`` console script, ``python -m pytrace`` and bpftrace,
  next to bare interpreter baselines (what the Python runtime costs here);
- time to first event: from spawning the tracer to reading the line a
  probe printed, for a ``-c`` child that makes one getppid() call;
- program size: instructions of standard scripts as the kernel holds them
  (bpftool's ``bytes_xlated`` / 8 for both tools; pytrace's own count too);
- added cost per traced event: a C loop of getppid() system calls, pinned
  to the first and to the last CPU in turn, timed (its CPU time) untraced and
  with each tracer attached to ``sys_enter_getppid``;
- BTF: the output of bench/btf_bench.py;
- event streams: bench/stream_bench.py (paced printf streams of 20k to 500k
  events a second for 2 s, a 100,000-event burst, sustained throughput);
- tear-down of wide wildcards: bench/teardown_bench.py (one run each: 360
  syscall tracepoints, 3,000 uprobes, tracepoint:*:* ended by Ctrl-C);
- printing big maps: bench/maps_bench.py (10k to 1M keys).

bpftrace columns are left out when bpftrace is not installed. Results also
go to bench/results/latest.md. Background tracers are stopped on every way
out, Ctrl-C included. Helpers: procs.py (processes, peak RSS, BPF program
look-ups), rusage_run.c and timed_loop.c (compiled with gcc when there is
one; Python stand-ins otherwise).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field

from procs import CHILDREN, Run, Spawner, foreign_tracers, prog_info, wait_attached

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TRACEFS = "/sys/kernel/tracing"

BEGIN_EXIT = "BEGIN { exit(); }"
FIRST_EVENT = 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("hit\\n"); exit(); }'
SIZE_SCRIPTS = (
    ("count by comm", "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"),
    ("hist of a field", "tracepoint:syscalls:sys_enter_read { @ = hist(args->count); }"),
    ("printf of a string",
     'tracepoint:syscalls:sys_enter_openat { printf("%s\\n", str(args->filename)); }'),
)
EVENT_SCRIPTS = (
    ("{ } (attach floor: an empty action)", "tracepoint:syscalls:sys_enter_getppid { }"),
    ("@ = count()", "tracepoint:syscalls:sys_enter_getppid { @ = count(); }"),
    ("@[comm] = count()", "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }"),
)


# -- the bench ------------------------------------------------------------------------
@dataclass
class Setup:
    runs: int
    events: int
    pytrace: str               # the console script
    python: str                # the interpreter it runs with
    path_pytrace: str | None   # `pytrace` found on PATH, when it is another file
    bpftrace: str | None
    bpftool: str | None
    workload: list[str]        # argv prefix; append the loop count
    workload_kind: str
    spawner: Spawner
    env: dict
    cwd: str
    notes: list[str] = field(default_factory=list)
    #: seconds the per-event measurement may still spend waiting for other
    #: people's syscall tracers to go away
    quiet_budget: float = 300.0
    skewed: set[str] = field(default_factory=set)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".1f", none="—"):
    return none if x is None else format(x, spec)


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def table(cols: list[tuple[str, bool]], rows: list[list[str]], with_bt: bool) -> list[str]:
    """A Markdown table; columns flagged True are bpftrace's, left out
    without bpftrace. The first column is left-aligned, the rest right."""
    keep = [i for i, (_, is_bt) in enumerate(cols) if with_bt or not is_bt]
    return (["| " + " | ".join(cols[i][0] for i in keep) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in keep) + "|"] +
            ["| " + " | ".join(r[i] for i in keep) + " |" for r in rows])


def progress(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def bench_startup(s: Setup) -> list[str]:
    progress("start-up")
    rows = [("`pytrace` (console script)", [s.pytrace, "-e", BEGIN_EXIT])]
    if s.path_pytrace:
        rows.append(("`pytrace` found on PATH (" + _describe(s.path_pytrace) + ")",
                     [s.path_pytrace, "-e", BEGIN_EXIT]))
    rows.append(("`python -m pytrace`", [s.python, "-m", "pytrace", "-e", BEGIN_EXIT]))
    if s.bpftrace:
        rows.append(("bpftrace", [s.bpftrace, "-e", BEGIN_EXIT]))
    rows += [("baseline: `python3 -c pass` (pytrace's interpreter)", [s.python, "-c", "pass"]),
             ("baseline: `python3 -S -c pass` (same, no site-packages)",
              [s.python, "-S", "-c", "pass"])]
    if os.path.exists("/usr/bin/python3"):
        rows.append(("baseline: `/usr/bin/python3 -S -c pass`",
                     ["/usr/bin/python3", "-S", "-c", "pass"]))
    for _, argv in rows:          # warm-up: fills the bytecode cache
        s.spawner.measure(argv, s.env, s.cwd)
    runs: dict[str, list[Run]] = {label: [] for label, _ in rows}
    for _ in range(s.runs):       # interleaved, so drift hits every row alike
        for label, argv in rows:
            r = s.spawner.measure(argv, s.env, s.cwd)
            if r.rc != 0:
                raise RuntimeError(f"{shlex.join(argv)} exited {r.rc}: {r.err.strip()}")
            runs[label].append(r)
    med = {label: (1e3 * median(r.wall for r in rs), median(r.rss_kib for r in rs) / 1024)
           for label, rs in runs.items()}
    bt = med.get("bpftrace")
    rows = []
    for label, (wall, rss) in med.items():
        is_bt = label == "bpftrace"
        rows.append([label, f"{wall:.1f}", f"{rss:.1f}",
                     "" if is_bt else ratio(wall, bt and bt[0]),
                     "" if is_bt else ratio(rss, bt and bt[1])])
    cols = [("command", False), ("wall ms", False), ("peak RSS MiB", False),
            ("wall / bpftrace", True), ("RSS / bpftrace", True)]
    return ([f"### Start-up: `{BEGIN_EXIT}`", ""] + table(cols, rows, bool(bt)) +
            _startup_target(med, bt))


#: issue 11's start-up target for the console script on its own interpreter
START_MS, START_MIB, START_VS_BPFTRACE = 45.0, 16.0, 0.2


def _startup_target(med: dict, bt) -> list[str]:
    """pytrace's own part (the console script minus the bare interpreter
    it runs on) and whether the start-up target is met."""
    wall, rss = med["`pytrace` (console script)"]
    base_wall, base_rss = med["baseline: `python3 -c pass` (pytrace's interpreter)"]
    checks = [f"wall {wall:.1f} ms ≤ {START_MS:.0f}: {'yes' if wall <= START_MS else 'NO'}",
              f"peak RSS {rss:.1f} MiB ≤ {START_MIB:.0f}: {'yes' if rss <= START_MIB else 'NO'}"]
    if bt:
        r = wall / bt[0]
        checks.append(f"{r:.2f}× bpftrace ≤ {START_VS_BPFTRACE}: "
                      f"{'yes' if r <= START_VS_BPFTRACE else 'NO'}")
    return ["", f"pytrace's own part (console script − `python3 -c pass`): "
                f"{wall - base_wall:.1f} ms, {rss - base_rss:.1f} MiB. "
                f"Target: {'; '.join(checks)}."]


def _describe(path: str) -> str:
    with open(path, "rb") as f:
        head = f.readline()
    return "pyenv shim" if b"bash" in head and "shims" in path else path


def bench_first_event(s: Setup) -> list[str]:
    progress("time to first event")
    child = shlex.join(s.workload + ["1"])
    shown = shlex.join([os.path.basename(s.workload[0])] + s.workload[1:] + ["1"])
    tools = [("pytrace", [s.pytrace, "-e", FIRST_EVENT, "-c", child])]
    if s.bpftrace:
        tools.append(("bpftrace", [s.bpftrace, "-e", FIRST_EVENT, "-c", child]))
    for _, argv in tools:
        s.spawner.first_event(argv, s.env, s.cwd)
    res: dict[str, list] = {name: [] for name, _ in tools}
    for _ in range(s.runs):
        for name, argv in tools:
            hit, total, rss, rc = s.spawner.first_event(argv, s.env, s.cwd)
            if hit is None or rc != 0:
                raise RuntimeError(f"{name}: no 'hit' line (exit status {rc})")
            res[name].append((hit, total, rss))
    med = {n: tuple(median(r[i] for r in rs) for i in range(3)) for n, rs in res.items()}
    bt = med.get("bpftrace")
    out = ["### Time to first event", "",
           f"`{FIRST_EVENT}` with `-c '{shown}'`: from spawning the tracer to reading "
           "`hit` on its stdout, and to its exit.", ""]
    rows = [[n, f"{1e3 * hit:.1f}", f"{1e3 * total:.1f}", f"{rss / 1024:.1f}"]
            for n, (hit, total, rss) in med.items()]
    if bt:
        pt = med["pytrace"]
        rows.append(["pytrace / bpftrace", ratio(pt[0], bt[0]), ratio(pt[1], bt[1]),
                     ratio(pt[2], bt[2])])
    cols = [("tool", False), ("start → first event ms", False), ("start → exit ms", False),
            ("peak RSS MiB", False)]
    return out + table(cols, rows, True)


def _pytrace_emitted(s: Setup, script: str) -> int | None:
    res = subprocess.run([s.pytrace, "--dry-run", "-q", "-d", "asm", "-e", script],
                         capture_output=True, text=True, env=s.env, cwd=s.cwd)
    counts = [int(n) for n in re.findall(r"\[(\d+) instructions", res.stdout)]
    return sum(counts) if counts else None


def _xlated(s: Setup, argv: list[str]) -> tuple[int, int]:
    """(xlated instructions, jited bytes) summed over the programs the tracer
    attached, read while it runs."""
    with tempfile.TemporaryFile() as sink:
        p = CHILDREN.start(argv, env=s.env, cwd=s.cwd, stdout=sink, stderr=sink)
        try:
            ids = wait_attached(p, s.bpftool, want=1)
            infos = [prog_info(s.bpftool, i) for i in sorted(ids)]
        finally:
            CHILDREN.stop(p)
    return (sum(i.get("bytes_xlated", 0) for i in infos) // 8,
            sum(i.get("bytes_jited", 0) for i in infos))


def bench_sizes(s: Setup) -> list[str]:
    progress("program sizes")
    out = ["### Program size", "",
           "Instructions as the kernel holds them after verification "
           "(bpftool `bytes_xlated` / 8, both tools alike); *emitted* is pytrace's own "
           "count (`--dry-run -d asm`). The size does not change between runs.", ""]
    rows = []
    for label, script in SIZE_SCRIPTS:
        emitted = _pytrace_emitted(s, script)
        pt = _xlated(s, [s.pytrace, "-q", "-e", script]) if s.bpftool else (None, None)
        bt = (_xlated(s, [s.bpftrace, "-e", script]) if s.bpftool and s.bpftrace
              else (None, None))
        rows.append([f"{label}: `{script}`", fmt(emitted, "d"), fmt(pt[0], "d"),
                     fmt(pt[1], "d"), fmt(bt[0], "d"), fmt(bt[1], "d"), ratio(pt[0], bt[0])])
    cols = [("script", False), ("pytrace emitted", False), ("pytrace xlated", False),
            ("pytrace JIT bytes", False), ("bpftrace xlated", True),
            ("bpftrace JIT bytes", True), ("xlated pytrace / bpftrace", True)]
    out += table(cols, rows, bool(s.bpftrace))
    if not s.bpftool:
        out.append("\n(bpftool is not installed: xlated sizes left out)")
    return out


def _workload(s: Setup, cpu: int | None = None) -> int:
    """CPU time of one loop, ns (the workload prints wall and CPU time), run
    on ``cpu`` when given."""
    pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
    res = subprocess.run(s.workload + [str(s.events)], capture_output=True, text=True,
                         check=True, env=s.env, cwd=s.cwd, preexec_fn=pin)
    return int(res.stdout.split()[-1])


def _traced_loop(s: Setup, argv: list[str], cpu: int) -> tuple[int, str | None]:
    """One workload loop with the tracer attached: (CPU ns, tracer output or
    None when the tracer did not end well)."""
    with tempfile.TemporaryFile() as sink:
        p = CHILDREN.start(argv, env=s.env, cwd=s.cwd, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_attached(p, s.bpftool, want=1)
            took = _workload(s, cpu)
        finally:
            rc = CHILDREN.stop(p)
        sink.seek(0)
        text = sink.read().decode(errors="replace")
    if rc != 0:
        tool = os.path.basename(argv[0])
        if rc == -signal.SIGKILL:
            s.notes.append(f"{tool} `{argv[-1]}` did not exit within 30 s of SIGINT and was "
                           "killed (its loop is still counted)")
        else:
            last = text.strip().splitlines()[-1:] or [""]
            s.notes.append(f"{tool} `{argv[-1]}` exited {rc} after SIGINT: {last[0]}")
        return took, None
    return took, text


def _counted(text: str) -> int:
    return sum(int(n) for n in re.findall(r"^@[^:\n]*:\s*(\d+)\s*$", text, re.M))


def wait_quiet(s: Setup, timeout: float = 60.0) -> None:
    """Wait (within the run's budget) until no one else traces system calls."""
    others = foreign_tracers(s.bpftool)
    if not others or s.quiet_budget <= 0:
        return
    timeout = min(timeout, s.quiet_budget)
    progress(f"waiting up to {timeout:.0f} s for other syscall tracers to go: "
             f"{', '.join(others[:3])}")
    start = time.monotonic()
    while others and time.monotonic() - start < timeout:
        time.sleep(0.5)
        others = foreign_tracers(s.bpftool)
    s.quiet_budget -= time.monotonic() - start


#: tries for one undisturbed (untraced, traced, untraced) triple
MAX_TRIES = 10


def _triple(s: Setup, argv: list[str], cpu: int):
    """A traced loop between two untraced ones, adjacent in time, so that
    drift on a shared machine cancels out: (traced, output, before, after)."""
    wait_quiet(s)
    before = _workload(s, cpu)
    took, text = _traced_loop(s, argv, cpu)
    after = _workload(s, cpu)
    return took, text, before, after


def _clean(s: Setup, ref: int, before: int, after: int) -> bool:
    """Whether nobody else slowed the system calls down meanwhile: any syscall
    tracepoint in use (someone else's tracer, even one that came and went)
    puts every system call on the slow path, which shows as untraced loops
    slower than the quietest one seen."""
    if max(before, after) > 1.15 * ref:
        return False
    others = foreign_tracers(s.bpftool)
    if others and s.quiet_budget <= 0:
        s.skewed.update(others)      # they do not go away: live with them
        return True
    return not others


def bench_per_event(s: Setup) -> list[str]:
    progress("added cost per event")
    n = s.events
    tools = [("pytrace", lambda script: [s.pytrace, "-q", "-e", script])]
    if s.bpftrace:
        tools.append(("bpftrace", lambda script: [s.bpftrace, "-e", script]))
    # The workload is pinned, in turn, to the first and the last CPU: a
    # tracer's cost can depend on the CPU (bpftrace 0.17's programs return 1,
    # so the kernel also writes a perf sample on the one CPU its perf event
    # was opened for), and an unpinned loop would mix the two.
    allowed = sorted(os.sched_getaffinity(0))
    cpus = sorted({allowed[0], allowed[-1]})
    added: dict[tuple[str, str, int], list[float]] = {}
    bases: list[int] = []
    wait_quiet(s)
    ref = {cpu: min(_workload(s, cpu) for _ in range(5)) for cpu in cpus}
    retried = 0
    for _ in range(s.runs):
        for label, script in EVENT_SCRIPTS:
            for tool, argv in tools:
                for cpu in cpus:
                    for attempt in range(MAX_TRIES):
                        took, text, before, after = _triple(s, argv(script), cpu)
                        if _clean(s, ref[cpu], before, after):
                            break
                        retried += 1
                    else:
                        s.notes.append(f"{tool} `{script}` on CPU {cpu}: no undisturbed loop "
                                       f"in {MAX_TRIES} tries; the last one is counted")
                    bases += [before, after]
                    if text is not None and "count" in script and _counted(text) < n:
                        s.notes.append(f"{tool} `{script}` counted {_counted(text):,} events "
                                       f"of a loop of {n:,}")
                    added.setdefault((label, tool, cpu), []).append(
                        (took - (before + after) / 2) / n)
    if s.skewed:
        s.notes.append("other processes kept BPF programs on syscall tracepoints during "
                       f"the per-event measurement ({', '.join(sorted(s.skewed)[:3])}): "
                       "those numbers are skewed")
    if retried:
        s.notes.append(f"{retried} traced loop(s) were run again: another tracer came or an "
                       "untraced loop was more than 15% slower than the quietest one")
    b = median(bases) / n
    out = ["### Added cost per traced event", "",
           f"The workload ({s.workload_kind}) makes {n:,} getppid() system calls in a loop, "
           f"pinned to one CPU; untraced, one takes {b:.1f} ns. Added = (traced − untraced) "
           f"/ {n:,} in the loop's CPU time (other load on the machine inflates wall time), "
           "each traced loop against the mean of two untraced loops run right before and "
           f"after it; medians of {s.runs} such triples per CPU.", ""]
    rows = []
    for label, _ in EVENT_SCRIPTS:
        row = [_code(label)]
        for tool in ("pytrace", "bpftrace"):
            row += [fmt(median(added.get((label, tool, cpu), []))) for cpu in cpus]
        row.append(" / ".join(ratio(median(added[(label, "pytrace", cpu)]),
                                    median(added.get((label, "bpftrace", cpu), [])))
                              for cpu in cpus))
        rows.append(row)
    cols = ([("tracer script on `tracepoint:syscalls:sys_enter_getppid`", False)] +
            [(f"pytrace ns/event, CPU {cpu}", False) for cpu in cpus] +
            [(f"bpftrace ns/event, CPU {cpu}", True) for cpu in cpus] +
            [("pytrace / bpftrace, " + " / ".join(f"CPU {c}" for c in cpus), True)])
    return out + table(cols, rows, bool(s.bpftrace))


def _code(label: str) -> str:
    code, sep, rest = label.partition(" (")
    return f"`{code}`" + (f" ({rest}" if sep else "")


def sub_bench(s: Setup, title: str, script: str, *args: str, code: bool = False) -> list[str]:
    """A section from another bench script of this folder, run in this
    session (its Markdown as it prints it; ``code``: in a code block)."""
    progress(f"{title} (bench/{script})")
    res = subprocess.run([s.python, os.path.join(HERE, script), *args],
                         capture_output=True, text=True, env=s.env)
    body = res.stdout.rstrip() if res.returncode == 0 else \
        f"{script} failed ({res.returncode}): {res.stderr.strip()[-400:]}"
    return [f"### {title} (bench/{script})", ""] + (["```", body, "```"] if code else [body])


def bench_btf(s: Setup) -> list[str]:
    return sub_bench(s, "BTF", "btf_bench.py", "--runs", str(s.runs), code=True)


def bench_streams(s: Setup) -> list[str]:
    runs = str(min(s.runs, 3))
    bt = ["--bpftrace", s.bpftrace] if s.bpftrace else ["--bpftrace", "/nonexistent"]
    return sub_bench(s, "Event streams", "stream_bench.py", "--runs", runs, "--seconds", "2",
                     "--python", s.python, *bt)


def bench_teardown(s: Setup) -> list[str]:
    extra = [] if s.bpftrace else ["--no-bpftrace"]
    return sub_bench(s, "Tear-down of wide wildcards", "teardown_bench.py", "--runs", "1",
                     *extra)


def bench_maps(s: Setup) -> list[str]:
    bt = ["--bpftrace", s.bpftrace] if s.bpftrace else ["--bpftrace", ""]
    return sub_bench(s, "Printing big maps", "maps_bench.py", "--runs", str(min(s.runs, 3)),
                     "--python", s.python, *bt)


# -- set-up -------------------------------------------------------------------------
def ensure_tracefs() -> None:
    if os.path.isdir(os.path.join(TRACEFS, "events")):
        return
    progress(f"mounting tracefs on {TRACEFS}")
    subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=True)


def find_pytrace() -> tuple[str, str, str | None]:
    """(console script, its interpreter, another `pytrace` on PATH or None)."""
    script = os.path.join(sysconfig.get_path("scripts"), "pytrace")
    on_path = shutil.which("pytrace")
    if not os.path.exists(script):
        if on_path is None:
            raise SystemExit("bench: no pytrace console script: pip install . first")
        script = on_path
    with open(script, "rb") as f:
        head = f.readline().decode(errors="replace").strip()
    python = head[2:].split()[0] if head.startswith("#!") and "python" in head \
        else sys.executable
    other = on_path if on_path and os.path.realpath(on_path) != os.path.realpath(script) \
        else None
    return script, python, other


def compile_helper(tmp: str, name: str, source: str | None = None,
                   flags: tuple[str, ...] = ()) -> str | None:
    """bench/SOURCE.c (default NAME.c) built into tmp as NAME; None without a
    working C compiler."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    exe = os.path.join(tmp, name)
    res = subprocess.run([cc, "-O2", *flags, "-o", exe,
                          os.path.join(HERE, (source or name) + ".c")],
                         capture_output=True, text=True)
    if res.returncode != 0:
        progress(f"cannot compile bench/{name}.c: {res.stderr.strip()}")
        return None
    return exe


def build_workload(tmp: str) -> tuple[list[str], str]:
    exe = compile_helper(tmp, "getppid_loop", "timed_loop")
    if exe:
        return [exe], "bench/timed_loop.c"
    # a file rather than -c: bpftrace 0.17 splits -c COMMAND at every space
    script = os.path.join(tmp, "getppid_loop.py")
    with open(script, "w") as f:
        f.write("import os, sys, time\nn = int(sys.argv[1])\ng = os.getppid\n"
                "w, c = time.monotonic_ns(), time.thread_time_ns()\nfor _ in range(n):\n"
                "    g()\nprint(time.monotonic_ns() - w, time.thread_time_ns() - c)\n")
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    return [py, "-S", script], "a Python loop, for want of a C compiler"


def machine_line(s: Setup) -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pyver = subprocess.run([s.python, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True, env=s.env).stdout.strip()
    btver = "not installed"
    if s.bpftrace:
        btver = subprocess.run([s.bpftrace, "--version"], capture_output=True,
                               text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{now}; Linux {platform.release()} {platform.machine()}, {cpu}, "
            f"{os.cpu_count()} CPUs, load average {load} at the start; pytrace's Python "
            f"{pyver} ({s.python}); {btver}; medians of {s.runs} runs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="repetitions (default 7)")
    ap.add_argument("--quick", action="store_true", help="3 repetitions")
    ap.add_argument("--events", type=int, default=1_000_000,
                    help="getppid() calls per loop (default 1,000,000)")
    ap.add_argument("--bpftrace", default="/usr/bin/bpftrace")
    ap.add_argument("--no-btf", action="store_true", help="skip bench/btf_bench.py")
    ap.add_argument("--no-streams", action="store_true", help="skip bench/stream_bench.py")
    ap.add_argument("--no-teardown", action="store_true",
                    help="skip bench/teardown_bench.py (bpftrace's 3,000-uprobe exit takes minutes)")
    ap.add_argument("--no-maps", action="store_true", help="skip bench/maps_bench.py")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench: run as root (tracers need CAP_BPF and CAP_PERFMON)", file=sys.stderr)
        return 3
    runs = args.runs or (3 if args.quick else 7)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        with tempfile.TemporaryDirectory(prefix="pytrace-bench-") as tmp:
            return _bench(args, runs, tmp)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 1
    finally:
        CHILDREN.stop_all()


def _bench(args, runs: int, tmp: str) -> int:
    ensure_tracefs()
    pytrace, python, path_pytrace = find_pytrace()
    bpftrace = args.bpftrace if os.access(args.bpftrace, os.X_OK) else None
    workload, kind = build_workload(tmp)
    # Children get a private bytecode cache, warmed by the first run, like an
    # installed package (PYTHONDONTWRITEBYTECODE would make every start compile).
    env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(tmp, "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    spawner = Spawner(tmp, compile_helper(tmp, "rusage_run"))
    s = Setup(runs, args.events, pytrace, python, path_pytrace, bpftrace,
              shutil.which("bpftool"), workload, kind, spawner, env, cwd=tmp)
    if not bpftrace:
        s.notes.append(f"bpftrace not found at {args.bpftrace}: its columns are empty")
    header = machine_line(s)
    sections = [bench_startup(s), bench_first_event(s), bench_sizes(s), bench_per_event(s)]
    if not args.no_btf:
        sections.append(bench_btf(s))
    if not args.no_streams:
        sections.append(bench_streams(s))
    if not args.no_teardown:
        sections.append(bench_teardown(s))
    if not args.no_maps:
        sections.append(bench_maps(s))
    lines = ["## pytrace vs bpftrace", "", header, ""]
    if spawner.kind != "bench/rusage_run.c":
        s.notes.append(f"wall time and peak RSS measured through {spawner.kind}")
    for sec in sections:
        lines += sec + [""]
    if s.notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in s.notes] + [""]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    progress(f"written to {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
