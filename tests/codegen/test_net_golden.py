"""Golden listings of network probes (xdp/tc), compiled against the fake
machine with interfaces (tests/netfakes.py); same format and
``--update-golden`` as test_golden.py, kept in golden_net/."""
from __future__ import annotations

import os

import pytest

from tests.codegen.test_golden import Case, listing
from tests.netfakes import compile_net

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden_net")

CASES = [
    Case("xdp_udp_drop", "xdp:lo /udp.dport == 9999/ { @[udp.dport] = count(); drop; }"),
    Case("tc_ip_proto", "tc:lo:egress { @[ip.proto] = count(); }"),
    Case("xdp_eth", "xdp:eth0 { @[macaddr(eth.src), eth.proto] = count(); }"),
    Case("xdp_ipv6", "xdp:lo /ip6/ { @[ntop(ip6.saddr), ip6.nexthdr] = count(); }"),
    Case("xdp_lpm_rules",
         'BEGIN { @rules[lpm(22, "10.0.0.0/8")] = 1; }\n'
         "xdp:eth0 /tcp/ { if (@rules[lpm(tcp.dport, ip.saddr)] == 1) { drop; } }"),
    Case("tc_redirect", 'tc:veth0:ingress /icmp.type == 8/ { redirect("eth0"); }'),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_net_golden_listing(case, golden):
    text = listing(case, compile_net(case.script))
    golden(os.path.join(GOLDEN_DIR, case.name + ".txt"), text)


def test_every_net_golden_file_has_a_case():
    assert sorted(os.listdir(GOLDEN_DIR)) == sorted(c.name + ".txt" for c in CASES)
