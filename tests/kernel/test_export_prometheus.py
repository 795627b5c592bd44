"""``pytrace --export prometheus`` scraped by a real Prometheus server
(Debian's ``prometheus``), on 127.0.0.1 only: exact counts through PromQL,
histogram_quantile over a hist() map, two agents summed by one server,
the cardinality cap, and SIGTERM leaving nothing attached and the port
closed."""
from __future__ import annotations

import math
import signal
import urllib.request

import pytest

from conftest import PY, WORKLOADS, finish, needs_root, start, wait_attached
from prom import PROMETHEUS, Prometheus, free_port, get, port_open

prometheus_client = pytest.importorskip(
    "prometheus_client", reason="--export needs prometheus_client (pip install "
    "'pytrace[export]')")
pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="the prometheus server is not installed "
    "(apt-get install prometheus)")

COUNT_BY_COMM = """\
// export: @calls labels=comm
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls[comm] = count(); }
"""

WRITE_SIZES = """\
tracepoint:syscalls:sys_enter_write /pid == cpid && args.count >= 64/ { @size = hist(args.count); }
"""


def workload(tmp_path, comm: str, calls: int, sizes: str | None = None) -> str:
    flag = tmp_path / f"{comm}.go"
    args = [PY, str(WORKLOADS / "getppid_then_wait.py"), comm, str(calls), str(flag)]
    return " ".join(args + ([sizes] if sizes else []))


def agent(tmp_path, script: str, port: int, command: str, *extra):
    path = tmp_path / f"agent{port}.pt"
    path.write_text(script)
    p = start("--export", f"prometheus=127.0.0.1:{port}", *extra, "-c", command, str(path))
    seen = wait_attached(p)
    assert f"pytrace: info serving http://127.0.0.1:{port}/metrics\n" in seen, seen
    return p


def release(tmp_path, *comms) -> None:
    for comm in comms:
        (tmp_path / f"{comm}.go").write_text("")


@pytest.fixture
def prometheus_for(tmp_path):
    servers = []

    def make(*ports):
        server = Prometheus(tmp_path, list(ports))
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


@needs_prometheus
def test_promql_returns_the_exact_count_and_a_consistent_median(tmp_path, prometheus_for):
    port = free_port()
    server = prometheus_for(port)
    p = agent(tmp_path, COUNT_BY_COMM + WRITE_SIZES, port,
              workload(tmp_path, "ptexp_one", 1234, "100x10,1000x30"))
    try:
        server.targets_up(1)
        answer = server.wait_value('pytrace_calls_total{comm="ptexp_one"}', 1234)
        assert [v for _, v in answer] == [1234.0], answer
        # 10 writes of 100 bytes ([64, 128): le=127), 30 of 1000 ([512, 1K): le=1023):
        # the median (rank 20 of 40) interpolates inside the (511, 1023] bucket
        assert [v for _, v in server.wait_value("pytrace_size_count", 40)] == [40.0]
        (labels, q), = server.query("histogram_quantile(0.5, pytrace_size_bucket)")
        assert math.isclose(q, 511 + (1023 - 511) * (20 - 10) / 30), q
        (_, q9), = server.query("histogram_quantile(0.1, pytrace_size_bucket)")
        assert 63 < q9 <= 127, q9
        (_, lost), = server.query("pytrace_lost_events_total")
        assert lost == 0
        (_, attached), = server.query("pytrace_probes_attached")
        assert attached == 2
        (labels, one), = server.query("pytrace_build_info")
        assert one == 1 and labels["version"] == "0.1.0", labels
    finally:
        release(tmp_path, "ptexp_one")
        r = finish(p)
    assert r.rc == 0, r
    assert "@calls[ptexp_one]: 1234\n" in r.out, r


@needs_prometheus
def test_two_agents_summed_by_one_prometheus(tmp_path, prometheus_for):
    a_port, b_port = free_port(), free_port()
    server = prometheus_for(a_port, b_port)
    a = agent(tmp_path, COUNT_BY_COMM, a_port, workload(tmp_path, "ptexp_node", 300))
    try:
        b = agent(tmp_path, COUNT_BY_COMM, b_port, workload(tmp_path, "ptexp_node", 500))
    except BaseException:
        release(tmp_path, "ptexp_node")
        finish(a)
        raise
    try:
        server.targets_up(2)
        answer = server.wait_value('sum by (comm) (pytrace_calls_total{comm="ptexp_node"})',
                                   800)
        assert answer == [({"comm": "ptexp_node"}, 800.0)], answer
        per_node = sorted(v for _, v in server.query('pytrace_calls_total{comm="ptexp_node"}'))
        assert per_node == [300.0, 500.0]
    finally:
        release(tmp_path, "ptexp_node")
        ra, rb = finish(a), finish(b)
    assert ra.rc == 0 and rb.rc == 0, (ra, rb)


def test_cardinality_cap_drops_and_counts_series_and_sigterm_closes_the_port(tmp_path):
    port = free_port()
    script = ("// export: @at max_series=10\n"
              "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @at[nsecs] = count(); "
              "@n = count(); }\n")
    p = agent(tmp_path, script, port, workload(tmp_path, "ptexp_cap", 50))
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(100):
            text = get(url)
            if "pytrace_n_total 50.0" in text:
                break
        text = get(url)
        series = [line for line in text.splitlines() if line.startswith("pytrace_at_total{")]
        assert len(series) == 10, text
        dropped = [line for line in text.splitlines()
                   if line.startswith("pytrace_dropped_series_total{")]
        assert len(dropped) == 1 and dropped[0].startswith(
            'pytrace_dropped_series_total{map="@at",script="'), dropped
        # each scrape of the 50 keys leaves out 40; this was at least the second scrape
        assert float(dropped[0].split()[-1]) % 40 == 0 and float(dropped[0].split()[-1]) >= 80
        p.send_signal(signal.SIGTERM)
        r = finish(p)
    finally:
        release(tmp_path, "ptexp_cap")
        if p.poll() is None:
            p.kill()
    assert r.rc == 0, r
    assert "@n: 50\n" in r.out, r
    assert not port_open(port)
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_labels_not_matching_the_keys_are_a_located_error(tmp_path):
    from conftest import pytrace
    path = tmp_path / "bad.pt"
    path.write_text("// export: @a labels=comm,pid\n"
                    "tracepoint:syscalls:sys_enter_getppid { @a[comm] = count(); }\n")
    r = pytrace("--export", f"prometheus=127.0.0.1:{free_port()}", path)
    assert r.rc == 2, r
    assert r.err == (f"{path}:1:12: error: export: @a has 1 key, but 2 labels are given\n"
                     "// export: @a labels=comm,pid\n"
                     "           ~~\n"
                     "hint: give one label name per key, in order\n"), r
