"""A real Prometheus server for the export tests: Debian's ``prometheus``
binary started on 127.0.0.1 with a temporary config (1 s scrape interval)
and data directory, stopped after; queried through its HTTP API."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Prometheus:
    def __init__(self, tmp: Path, targets: list[int]):
        self.port = free_port()
        self.tmp = tmp
        config = tmp / "prometheus.yml"
        listed = ", ".join(f"'127.0.0.1:{p}'" for p in targets)
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: pytrace\n    scrape_interval: 1s\n"
            f"    static_configs:\n      - targets: [{listed}]\n")
        self.log = open(tmp / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if "Ready" in get(self.url + "/-/ready", 1):
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise AssertionError("prometheus did not start:\n" + (tmp / "prometheus.log").read_text())

    def query(self, promql: str) -> list:
        """The instant vector ``promql`` returns: [(labels, float value)]."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        body = json.loads(get(url))
        assert body["status"] == "success", body
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def wait_value(self, promql: str, want: float, timeout: float = 30) -> list:
        """Query until the one result equals ``want`` (scrapes take a second
        or two to land); returns the last answer for the test to assert on."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.query(promql)
            if len(answer) == 1 and answer[0][1] == want or time.monotonic() > deadline:
                return answer
            time.sleep(0.5)

    def targets_up(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len([v for _, v in self.query("up == 1")]) >= n:
                return
            time.sleep(0.3)
        raise AssertionError(f"prometheus did not see {n} target(s) up: "
                             f"{get(self.url + '/api/v1/targets')}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
