#!/usr/bin/env python3
"""The exporter's costs (issue 13), as root:

1. scrape latency of a 10,000-series map over HTTP (target < 100 ms), in
   the text format (curl) and as Prometheus 2.42 asks (its Accept header:
   OpenMetrics; and gzip, as it also asks);
2. how long a scrape keeps the event loop's thread from running: the
   longest gap of a 1 ms ticker in the main thread while another thread
   scrapes the same 10,000-series map in-process, rendering as the
   endpoint does (target: a few ms);
3. the agent's CPU use while idle, no scrapes and one scrape a second of
   the 10,000-series map (target < 1 % of one CPU), beside bpftrace
   running the same script (it exports nothing; its idle cost is the floor).

    sudo python3 bench/export_bench.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PY = "/usr/bin/python3"
SERIES = 10_000
SCRIPT = ("tracepoint:syscalls:sys_enter_getppid /comm == \"ptbench_fill\"/ "
          "{ @n = count(); @series[nsecs] = count(); }\n")
CALLS = f"import os\nopen('/proc/self/comm','w').write('ptbench_fill')\n" \
        f"for _ in range({SERIES}): os.getppid()\n"


def env() -> dict:
    e = dict(os.environ, PYTHONPATH=str(REPO), PYTRACE_MAX_MAP_KEYS=str(4 * SERIES))
    return e


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_agent(path: Path, port: int) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "pytrace", "--export",
                          f"prometheus=127.0.0.1:{port}", "--export-max-series",
                          str(2 * SERIES), str(path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=env())
    while True:
        line = p.stderr.readline()
        if not line or line.startswith("Attached"):
            break
    return p


#: what Prometheus 2.42 sends when it scrapes
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
FORMATS = (("text", {}),
           ("OpenMetrics", {"Accept": PROMETHEUS_ACCEPT}),
           ("OpenMetrics+gzip", {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}))


def scrape(port: int, headers: dict | None = None) -> tuple[float, bytes]:
    t = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as r:
        body = r.read()
    return time.perf_counter() - t, body


def http_latency(path: Path, port: int, rounds: int) -> None:
    p = start_agent(path, port)
    try:
        subprocess.run([PY, "-c", CALLS], check=True)
        _, body = scrape(port)
        n = sum(1 for line in body.splitlines() if line.startswith(b"pytrace_series_total{"))
        for name, headers in FORMATS:
            scrape(port, headers)
            times, size = [], 0
            for _ in range(rounds):
                t, body = scrape(port, headers)
                times.append(t * 1000)
                size = len(body)
            print(f"scrape of {n} series over HTTP, {name}: median "
                  f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms "
                  f"({rounds} scrapes, {size // 1024} KiB)")
    finally:
        p.terminate()
        p.wait(30)


def loop_gap(seconds: float) -> None:
    """In-process: one thread scrapes the 10,000-series map continuously
    through the collector; the main thread ticks every 1 ms."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder
    try:
        from pytrace.runtime.export.exposition import render
    except ImportError:                                # before the bulk writer
        def render(registry, encoder):
            return encoder(registry)

    from pytrace.runtime.export.collector import ExportedScript, MapCollector
    from pytrace.runtime.export.config import parse
    from pytrace.runtime.live import LiveSession
    from pytrace.runtime.options import Options, limits_from_env
    os.environ["PYTRACE_MAX_MAP_KEYS"] = str(4 * SERIES)
    session = LiveSession.printing(Options(SCRIPT, "bench.pt", quiet=True,
                                           limits=limits_from_env()), "text",
                                   open(os.devnull, "w"), sys.stderr)
    try:
        session.start()
        session.add(SCRIPT, "bench.pt")
        subprocess.run([PY, "-c", CALLS], check=True)
        config = parse(SCRIPT, "bench.pt", max_series=2 * SERIES)
        from pytrace.runtime.export.server import SWITCH_INTERVAL
        sys.setswitchinterval(SWITCH_INTERVAL)         # as MetricsServer sets it
        registry = CollectorRegistry(auto_describe=False)
        registry.register(MapCollector([ExportedScript("bench.pt", config, session.loader,
                                                       session.events)], {"v": "x"}))
        stop = threading.Event()
        scrapes = []

        def scraper(encoder):
            while not stop.is_set():
                t = time.perf_counter()
                render(registry, encoder)
                scrapes.append(time.perf_counter() - t)

        for name, accept in (("text", None), ("OpenMetrics", PROMETHEUS_ACCEPT)):
            stop.clear()
            scrapes.clear()
            baseline = ticks(seconds / 2)
            thread = threading.Thread(target=scraper, args=(choose_encoder(accept)[0],))
            thread.start()
            loaded = ticks(seconds)
            stop.set()
            thread.join()
            print(f"in-process scrape (collect + {name}): median "
                  f"{statistics.median(scrapes) * 1000:.1f} ms over {len(scrapes)} scrapes")
            print(f"main-thread 1 ms ticker, longest gap: idle {max(baseline) * 1000:.1f} ms, "
                  f"while scraping nonstop ({name}) {max(loaded) * 1000:.1f} ms "
                  f"(p99 {sorted(loaded)[int(len(loaded) * 0.99)] * 1000:.1f} ms; "
                  f"switch interval {sys.getswitchinterval() * 1000:.0f} ms)")
    finally:
        session.close()


def ticks(seconds: float) -> list[float]:
    gaps, end = [], time.perf_counter() + seconds
    last = time.perf_counter()
    while last < end:
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last - 0.001)
        last = now
    return gaps


def idle_cpu(path: Path, port: int, seconds: float) -> None:
    p = start_agent(path, port)
    try:
        subprocess.run([PY, "-c", CALLS], check=True)
        time.sleep(1)
        c0 = cpu_seconds(p.pid)
        time.sleep(seconds)
        idle = (cpu_seconds(p.pid) - c0) / seconds * 100
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        while time.monotonic() - t0 < seconds:
            scrape(port, FORMATS[2][1])                 # as Prometheus scrapes
            time.sleep(1)
        scraped = (cpu_seconds(p.pid) - c0) / (time.monotonic() - t0) * 100
        print(f"pytrace agent CPU: idle {idle:.2f} % of one CPU; scraped once a second "
              f"({SERIES} series, OpenMetrics+gzip) {scraped:.2f} %")
    finally:
        p.terminate()
        p.wait(30)
    bpftrace = shutil.which("bpftrace")
    if bpftrace:
        b = subprocess.Popen([bpftrace, "-e", SCRIPT], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            c0 = cpu_seconds(b.pid)
            time.sleep(seconds)
            print(f"bpftrace, same script, idle: "
                  f"{(cpu_seconds(b.pid) - c0) / seconds * 100:.2f} % of one CPU")
        finally:
            b.terminate()
            b.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pt"
        path.write_text(SCRIPT)
        http_latency(path, 19551, args.rounds)
        loop_gap(args.seconds / 2)
        idle_cpu(path, 19552, args.seconds)


if __name__ == "__main__":
    main()
