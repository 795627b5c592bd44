"""Signals act at once while packets bring more events than pytrace reads.

A C sender in one namespace floods a veth pair with UDP (sendmmsg, as fast
as the machine allows); an xdp probe on the other end prints ten lines per
packet, far more than the reader keeps up with. SIGINT, SIGTERM and SIGHUP
must each end pytrace within 2 s with its maps printed, its losses
reported (printed + lost == sent, exactly), exit status 0, no program left
in the kernel and nothing left on the interface, on the link path and the
netlink path (issue 14, acceptance 1, the xdp half; the tracepoint half is
test_e2e_flood.py)."""
from __future__ import annotations

import signal
import subprocess

import pytest

from conftest import needs_root
from cprogs import cprog  # noqa: F401  (fixture)
from test_e2e_cleanup import assert_gone
from test_e2e_flood import end_flooded_run
from test_net import ADDR_B, PATHS, veth  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kernel, needs_root]

LINES_PER_PACKET = 10
SCRIPT = (f"xdp:vb {{ @packets = count(); unroll({LINES_PER_PACKET}) {{ @lines = count(); "
          'printf("%d %d\\n", pkt.len, udp.dport); } }')


@pytest.fixture
def flood(veth, cprog):
    a, _ = veth
    sender = subprocess.Popen(a.argv(cprog("udpflood"), ADDR_B, 9999))
    try:
        yield sender
    finally:
        sender.kill()
        sender.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("path", PATHS)
def test_signal_ends_an_xdp_flood_within_2s(veth, flood, tmp_path, signum, path):
    _, b = veth
    out = tmp_path / "out"
    p = b.start(*path, "-o", str(out), "-e", SCRIPT)   # a file: the reader never blocks
    r, ids = end_flooded_run(p, flood, signum)
    text = out.read_text()
    cut = text.rindex("\n\n\n@lines: ")
    tail = text[cut:]
    lines_line, packets_line = tail.split("\n")[3:5]
    lines = int(lines_line.removeprefix("@lines: "))
    packets = int(packets_line.removeprefix("@packets: "))
    assert tail == f"\n\n\n@lines: {lines}\n@packets: {packets}\n", tail
    assert lines == LINES_PER_PACKET * packets, (lines, packets)
    printed = text[:cut].count("\n") + 1
    lost = sum(int(ln.split()[1]) for ln in r.err.splitlines() if ln.startswith("Lost "))
    assert lost > 0, f"the flood did not outpace the reader ({printed} printed): no test"
    assert printed + lost == lines, (printed, lost, lines)
    assert_gone(ids)
    b.assert_clean("vb")
