"""Agent mode: ``pytrace --export prometheus A.pt B.pt`` runs both scripts
behind one /metrics; SIGHUP reloads the changed one and keeps the other's
counters; a reload that fails keeps the old script; SIGTERM leaves nothing
attached and the port closed. The log is one line per event."""
from __future__ import annotations

import signal
import subprocess
import time

import pytest

from conftest import PY, WORKLOADS, env, finish, needs_root, pytrace_argv
from prom import free_port, get, port_open

pytest.importorskip("prometheus_client", reason="--export needs prometheus_client "
                    "(pip install 'pytrace[export]')")
pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

KEEP = """\
// export: @calls labels=comm
tracepoint:syscalls:sys_enter_getppid /comm == "ptag_keep"/ { @calls[comm] = count(); }
"""
CHANGING = 'tracepoint:syscalls:sys_enter_getppid /comm == "ptag_new"/ { @%s = count(); }\n'


def calls(comm: str, n: int) -> None:
    subprocess.run([PY, str(WORKLOADS / "named_getppid.py"), comm, str(n)], check=True)


def read_log(p, until: str, timeout: float = 30) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if until in line:
            return lines
    raise AssertionError(f"no '{until}' in the log: {lines}")


def metrics(port: int) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in get(f"http://127.0.0.1:{port}/metrics").splitlines()
            if line.startswith("pytrace_")}


def test_two_scripts_sighup_reload_and_sigterm(tmp_path):
    keep, changing = tmp_path / "keep.pt", tmp_path / "changing.pt"
    keep.write_text(KEEP)
    changing.write_text(CHANGING % "old")
    port = free_port()
    p = subprocess.Popen(pytrace_argv("--export", f"prometheus=127.0.0.1:{port}", keep,
                                      changing),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, env=env())
    try:
        log = read_log(p, "serving")
        assert log == [f"pytrace: info loaded script={keep} probes=1\n",
                       f"pytrace: info loaded script={changing} probes=1\n",
                       f"pytrace: info serving http://127.0.0.1:{port}/metrics\n"]
        calls("ptag_keep", 100)
        calls("ptag_new", 7)
        m = metrics(port)
        assert m['pytrace_keep_calls_total{comm="ptag_keep"}'] == 100
        assert m["pytrace_changing_old_total"] == 7
        assert m[f'pytrace_probes_attached{{script="{changing}"}}'] == 1

        changing.write_text(CHANGING % "new")
        p.send_signal(signal.SIGHUP)
        assert read_log(p, "reloaded") == [
            f"pytrace: info reloaded script={changing} probes=1\n"]
        calls("ptag_keep", 50)
        calls("ptag_new", 3)
        m = metrics(port)
        assert m['pytrace_keep_calls_total{comm="ptag_keep"}'] == 150    # kept across
        assert m["pytrace_changing_new_total"] == 3
        assert "pytrace_changing_old_total" not in m

        changing.write_text("tracepoint:syscalls:sys_enter_getppid { @x = count( }\n")
        p.send_signal(signal.SIGHUP)
        (line,) = read_log(p, "reload-failed")
        assert line.startswith(f"pytrace: error reload-failed script={changing} {changing}:1:"
                               ), line
        calls("ptag_new", 2)
        assert metrics(port)["pytrace_changing_new_total"] == 5          # still the old one

        p.send_signal(signal.SIGTERM)
        r = finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert r.rc == 0, r
    assert r.err == "pytrace: info stopping signal=SIGTERM\npytrace: info stopped attached=0\n"
    assert not port_open(port)
