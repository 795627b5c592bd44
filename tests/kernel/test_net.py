"""xdp and tc probes on the real kernel, in private network namespaces the
tests create and delete: loopback in a fresh namespace (generic XDP, tc on
lo) and a veth pair between two namespaces (native XDP). Traffic flows only
inside or between those namespaces.

Counts are exact: a known number of datagrams and connections, compared with
what the receiving sockets got and with the namespace's own SNMP counters.
Every way out (exit(), Ctrl-C, SIGTERM, kill -9) is checked to leave no XDP
program and no tc filter of ours: BPF links die with pytrace; netlink
attachments (--no-feature link) are removed at exit, and after a kill -9 by
the next run's sweep.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from conftest import PY, REPO, WORKLOADS, env, finish, needs_root, wait_attached

pytestmark = [
    pytest.mark.kernel, needs_root,
    pytest.mark.skipif(not (shutil.which("ip") and shutil.which("tc")),
                       reason="needs iproute2 (ip, tc)"),
]

NETLOAD = str(WORKLOADS / "netload.py")
FIREWALL = str(REPO / "examples" / "firewall.pt")
FIREWALL_RULES = str(REPO / "examples" / "firewall.rules")
PATHS = [pytest.param([], id="link"), pytest.param(["--no-feature", "link"], id="netlink")]
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
ADDR_A, ADDR_B = "10.203.0.1", "10.203.0.2"


def sh(*argv, check: bool = True, environ: dict | None = None) -> str:
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30,
                       env=environ)
    if check and p.returncode != 0:
        raise AssertionError(f"{argv} failed: {p.stderr}")
    return p.stdout


class Netns:
    """A network namespace of this test run."""

    def __init__(self, name: str):
        self.name = name

    def argv(self, *args) -> list:
        return ["ip", "netns", "exec", self.name, *map(str, args)]

    def run(self, *args, check: bool = True, environ: dict | None = None) -> str:
        return sh(*self.argv(*args), check=check, environ=environ)

    def netload(self, *args) -> str:
        return self.run(PY, NETLOAD, *args)

    def start(self, *args) -> subprocess.Popen:
        """pytrace ARGS in this namespace (`ip netns exec` execs: the pid is pytrace's)."""
        return subprocess.Popen(self.argv(sys.executable, "-m", "pytrace", *args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, env=env())

    def pytrace(self, *args, timeout: float = 60):
        return finish(self.start(*args), timeout)

    def sink(self, addr: str, udp_ports: str, tcp: int | None = None) -> "Sink":
        return Sink(self, addr, udp_ports, tcp)

    def snmp(self) -> dict:
        return json.loads(self.netload("snmp"))

    # -- what is attached --------------------------------------------------------
    def xdp(self, dev: str) -> str:
        """The XDP part of `ip link show`: "" when nothing is attached."""
        text = self.run("ip", "-d", "link", "show", "dev", dev)
        return " ".join(w for w in text.split() if w.startswith(("xdp", "prog/xdp")))

    def tc_filters(self, dev: str) -> str:
        return "".join(self.run("tc", "filter", "show", "dev", dev, side, check=False)
                       for side in ("ingress", "egress"))

    def has_clsact(self, dev: str) -> bool:
        return "clsact" in self.run("tc", "qdisc", "show", "dev", dev)

    def assert_clean(self, dev: str) -> None:
        assert self.xdp(dev) == "", f"XDP left on {dev}: {self.xdp(dev)}"
        assert "pytrace" not in self.tc_filters(dev), self.tc_filters(dev)
        assert self.tc_filters(dev) == "", self.tc_filters(dev)


class Sink:
    """netload sink: counts datagrams (and connections) until finished."""

    def __init__(self, ns: Netns, addr: str, udp_ports: str, tcp: int | None):
        extra = ["--tcp", str(tcp)] if tcp else []
        self.p = subprocess.Popen(ns.argv(PY, NETLOAD, "sink", addr, udp_ports, *extra),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stderr.readline()
        assert line.strip() == "ready", line + self.p.stderr.read()

    def counts(self) -> dict:
        time.sleep(0.2)                       # the last datagrams reach the sockets
        out, err = self.p.communicate(timeout=20)
        assert self.p.returncode == 0, err
        return json.loads(out)


def _new_ns(prefix: str) -> Netns:
    ns = Netns(f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    sh("ip", "netns", "add", ns.name)
    ns.run("ip", "link", "set", "lo", "up")
    return ns


@pytest.fixture
def ns():
    """A fresh namespace with only lo, up."""
    ns = _new_ns("pt-net")
    yield ns
    sh("ip", "netns", "del", ns.name, check=False)


@pytest.fixture
def veth():
    """Namespaces a and b joined by a veth pair va (a) <-> vb (b), IPv4 only,
    fixed MACs and neighbour entries (no ARP while counting)."""
    a, b = _new_ns("pt-va"), _new_ns("pt-vb")
    sh("ip", "link", "add", "va", "netns", a.name, "address", MAC_A, "type", "veth",
       "peer", "name", "vb", "netns", b.name, "address", MAC_B)
    for n, dev, addr, peer, peer_mac in ((a, "va", ADDR_A, ADDR_B, MAC_B),
                                         (b, "vb", ADDR_B, ADDR_A, MAC_A)):
        n.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        n.run("ip", "addr", "add", f"{addr}/24", "dev", dev)
        n.run("ip", "link", "set", dev, "up")
        n.run("ip", "neigh", "replace", peer, "lladdr", peer_mac, "dev", dev, "nud", "permanent")
    yield a, b
    for n in (a, b):
        sh("ip", "netns", "del", n.name, check=False)


def maps_of(text: str) -> dict:
    """Printed map lines -> {"@name[key]": "value"}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(@\w*(?:\[.*\])?): (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def stop(p: subprocess.Popen, signum=signal.SIGINT, timeout: float = 30):
    p.send_signal(signum)
    return finish(p, timeout)


# -- the acceptance cases ----------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_xdp_counts_and_drops_udp_to_one_port(ns, path):
    sink = ns.sink("127.0.0.1", "9999,9998")
    p = ns.start(*path, "-e", "xdp:lo /udp.dport == 9999/ { @[udp.dport] = count(); drop; }")
    wait_attached(p)
    assert ns.xdp("lo").startswith("xdpgeneric"), ns.xdp("lo")
    ns.netload("udp", "127.0.0.1", "9999:100,9998:100")
    got = sink.counts()
    r = stop(p)
    assert r.rc == 0 and "Traceback" not in r.err, r
    assert r.out == "\n\n@[9999]: 100\n", r
    assert got == {"9999": 0, "9998": 100}
    ns.assert_clean("lo")


@pytest.mark.parametrize("path", PATHS)
def test_tc_egress_counts_tcp_and_udp_separately(ns, path):
    sink = ns.sink("127.0.0.1", "5353", tcp=7000)
    before = ns.snmp()
    p = ns.start(*path, "-e", "tc:lo:egress { @[ip.proto] = count(); } "
                 "tc:lo:egress /tcp.flags == 2/ { @syn[tcp.dport] = count(); }")
    wait_attached(p)
    ns.netload("udp", "127.0.0.1", "5353:50")
    ns.netload("tcp", "127.0.0.1", "7000", "7")
    got = sink.counts()
    after = ns.snmp()
    r = stop(p)
    assert r.rc == 0, r
    assert got == {"5353": 50, "tcp": 7}
    maps = maps_of(r.out)
    # every segment and datagram the namespace sent, as its own counters say
    assert maps == {"@[6]": str(after["tcp_out"] - before["tcp_out"]),
                    "@[17]": str(after["udp_out"] - before["udp_out"]),
                    "@syn[7000]": "7"}, r
    assert maps["@[17]"] == "50"
    ns.assert_clean("lo")
    assert not ns.has_clsact("lo")


def test_unknown_interface_is_named_without_a_traceback(ns):
    r = ns.pytrace("-e", "xdp:eth7 { drop; }")
    assert r.rc == 2, r
    assert r.err == ("-e:1:1: error: no network interface named 'eth7'\n"
                     "xdp:eth7 { drop; }\n"
                     "~~~~~~~~\n"
                     "hint: interfaces here: lo\n"), r
    r = ns.pytrace("-e", 'tc:lo:ingress { redirect("eth7"); }')
    assert r.rc == 2 and "no network interface 'eth7'" in r.err and "Traceback" not in r.err, r


# -- nothing left behind ------------------------------------------------------------------

BOTH = ("xdp:lo { @x = count(); } tc:lo:ingress { @i = count(); } "
        "tc:lo:egress { @e = count(); }")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("how", ["exit", "SIGINT", "SIGTERM"])
def test_nothing_left_after_each_way_out(ns, path, how):
    script = BOTH + (" interval:ms:400 { exit(); }" if how == "exit" else "")
    p = ns.start(*path, "-e", script)
    wait_attached(p)
    assert ns.xdp("lo")
    if path:                                  # netlink: our filters show in tc
        assert ns.tc_filters("lo").count("pytrace:") == 2
        assert ns.has_clsact("lo")
    if how == "exit":
        r = finish(p)
    else:
        r = stop(p, signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
    assert r.rc == 0 and "Traceback" not in r.err, r
    ns.assert_clean("lo")
    assert not ns.has_clsact("lo")


def _program_ids(pid: int) -> set:
    from conftest import owned_prog_ids
    return set(owned_prog_ids([str(pid)]))


def test_kill_9_on_the_link_path_leaves_nothing(ns):
    from conftest import our_programs
    p = ns.start("-e", BOTH)
    wait_attached(p)
    ids = _program_ids(p.pid)
    assert len(ids) == 3 and ns.xdp("lo")
    p.kill()
    p.wait()
    deadline = time.monotonic() + 5
    while ids & set(our_programs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    # the links died with the process: the programs are gone from the kernel
    assert not ids & set(our_programs())
    ns.assert_clean("lo")


def test_kill_9_on_the_netlink_path_is_swept_at_the_next_start(ns):
    p = ns.start("--no-feature", "link", "-e", BOTH)
    wait_attached(p)
    p.kill()
    p.wait()
    # netlink attachments outlive their process ...
    assert ns.xdp("lo").startswith("xdpgeneric")
    assert ns.tc_filters("lo").count(f"pytrace:{p.pid}") == 2
    # ... until the next run that uses xdp/tc probes starts
    r = ns.pytrace("-e", "xdp:lo { @ = count(); } tc:lo:egress { @e = count(); } "
                   "BEGIN { exit(); }")
    assert r.rc == 0, r
    lines = sorted(r.err.splitlines())
    assert len(lines) == 3, r
    assert re.fullmatch(r"pytrace: removed the XDP program pt0_xdp_lo \(id \d+\) a killed "
                        r"pytrace left on lo", lines[0]), r
    # ":q": that run had created the clsact qdisc
    assert lines[1:] == [f"pytrace: removed the tc filter pytrace:{p.pid}:q a killed pytrace "
                         f"left on lo egress",
                         f"pytrace: removed the tc filter pytrace:{p.pid}:q a killed pytrace "
                         f"left on lo ingress"], r
    ns.assert_clean("lo")
    assert not ns.has_clsact("lo")             # it had created it


def test_a_live_run_is_not_swept(ns):
    first = ns.start("--no-feature", "link", "-e", "tc:lo:ingress { @ = count(); }")
    wait_attached(first)
    r = ns.pytrace("--no-feature", "link", "-e", "tc:lo:egress { @ = count(); } BEGIN { exit(); }")
    assert r.rc == 0 and "removed" not in r.err, r
    assert f"pytrace:{first.pid}" in ns.tc_filters("lo")
    stop(first)
    ns.assert_clean("lo")


def test_an_existing_clsact_is_left_as_found(ns):
    ns.run("tc", "qdisc", "add", "dev", "lo", "clsact")
    p = ns.start("--no-feature", "link", "-e", "tc:lo:ingress { @ = count(); }")
    wait_attached(p)
    assert f"pytrace:{p.pid} " in ns.tc_filters("lo") + " "     # not ":q": not ours
    r = stop(p)
    assert r.rc == 0, r
    ns.assert_clean("lo")
    assert ns.has_clsact("lo")


@pytest.mark.parametrize("path", PATHS)
def test_a_foreign_xdp_program_is_refused_unless_forced(ns, path):
    foreign = ns.run(sys.executable, WORKLOADS / "foreign_xdp.py", "lo", environ=env()).strip()
    assert foreign.isdigit(), foreign
    r = ns.pytrace(*path, "-e", "xdp:lo { drop; }")
    assert r.rc == 1, r
    assert r.err == (f"error: cannot attach xdp:lo: lo already has an XDP program: foreign_xdp "
                     f"(id {foreign}); "
                     "pytrace leaves it alone\n"
                     "hint: stop whatever attached it, or run with --force to replace it\n"), r
    assert f"id {foreign} name foreign_xdp" in ns.run("ip", "link", "show", "dev", "lo")
    # --force takes its place; at exit nothing is left
    sink = ns.sink("127.0.0.1", "9999")
    p = ns.start(*path, "--force", "-e", "xdp:lo /udp/ { @ = count(); drop; }")
    wait_attached(p)
    ns.netload("udp", "127.0.0.1", "9999:20")
    assert sink.counts() == {"9999": 0}
    r = stop(p)
    assert r.rc == 0 and r.out == "\n\n@: 20\n", r
    ns.assert_clean("lo")


@pytest.mark.parametrize("path", PATHS + [pytest.param(["--force"], id="force")])
def test_two_xdp_probes_on_one_interface_are_explained(ns, path):
    r = ns.pytrace(*path, "-e", "xdp:lo { @a = count(); } xdp:lo /udp/ { @b = count(); }")
    assert r.rc == 1, r
    assert r.err == ("error: cannot attach xdp:lo: lo already runs another xdp probe of this "
                     "script, and an interface runs one XDP program\n"
                     "hint: do what both probes do in one xdp:lo probe\n"), r
    ns.assert_clean("lo")


# -- driver mode, tc, headers on a veth pair ------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode, shown", [("", "xdp"), (":driver", "xdp"),
                                         (":generic", "xdpgeneric")])
def test_xdp_on_veth_driver_and_generic_mode(veth, path, mode, shown):
    a, b = veth
    sink = b.sink(ADDR_B, "9999,9998")
    p = b.start(*path, "-e", f"xdp:vb{mode} /udp/ {{ @[udp.dport] = count(); "
                "if (udp.dport == 9999) { drop; } }")
    wait_attached(p)
    assert b.xdp("vb").split()[0] == shown, b.xdp("vb")
    a.netload("udp", ADDR_B, "9999:40,9998:25")
    got = sink.counts()
    r = stop(p)
    assert r.rc == 0, r
    assert maps_of(r.out) == {"@[9998]": "25", "@[9999]": "40"}, r
    assert got == {"9999": 0, "9998": 25}
    b.assert_clean("vb")


def test_driver_mode_on_lo_says_what_to_use(ns):
    r = ns.pytrace("-e", "xdp:lo:driver { drop; }")
    assert r.rc == 1, r
    assert r.err == ("error: cannot attach xdp:lo:driver: lo's driver has no native XDP\n"
                     "hint: use xdp:lo (the best mode there is) or xdp:lo:generic\n"), r
    ns.assert_clean("lo")


@pytest.mark.parametrize("path", PATHS)
def test_tc_ingress_drops_on_veth(veth, path):
    a, b = veth
    sink = b.sink(ADDR_B, "9999,9998")
    p = b.start(*path, "-e", "tc:vb:ingress /udp.dport == 9999/ { @[ntop(ip.saddr)] = count(); "
                "drop; }")
    wait_attached(p)
    a.netload("udp", ADDR_B, "9999:30,9998:30")
    got = sink.counts()
    r = stop(p)
    assert r.rc == 0 and r.out == f"\n\n@[{ADDR_A}]: 30\n", r
    assert got == {"9999": 0, "9998": 30}
    b.assert_clean("vb")
    assert not b.has_clsact("vb")


def test_header_fields_print(veth):
    a, b = veth
    p = b.start("-e", 'xdp:vb /udp.dport == 9999/ { printf("%s %s > %s %s ttl=%d len=%d '
                '%d > %d udp.len=%d pkt.len=%d proto=%d\\n", macaddr(eth.src), ntop(ip.saddr), '
                'macaddr(eth.dst), ntop(ip.daddr), ip.ttl, ip.len, udp.sport, udp.dport, '
                'udp.len, pkt.len, eth.proto); exit(); }')
    wait_attached(p)
    a.netload("udp", ADDR_B, "9999:1", "--from-port", "40000")
    r = finish(p)
    assert r.rc == 0, r
    assert r.out == (f"{MAC_A.upper()} {ADDR_A} > {MAC_B.upper()} {ADDR_B} ttl=64 len=29 "
                     f"40000 > 9999 udp.len=9 pkt.len=43 proto=2048\n"), r


def test_vlan_tags_are_skipped(veth):
    a, b = veth
    p = b.start("-e", "xdp:vb /udp.dport >= 7001 && udp.dport <= 7003/ "
                "{ @[udp.dport, eth.proto, ntop(ip.daddr)] = count(); }")
    wait_attached(p)
    a.netload("frames", "va", MAC_B, "-", "7001", "3")
    a.netload("frames", "va", MAC_B, "8100:10", "7002", "4")
    a.netload("frames", "va", MAC_B, "88a8:20,8100:10", "7003", "5")
    time.sleep(0.2)
    r = stop(p)
    assert r.rc == 0, r
    assert maps_of(r.out) == {f"@[7001, 2048, {ADDR_B}]": "3", f"@[7002, 2048, {ADDR_B}]": "4",
                              f"@[7003, 2048, {ADDR_B}]": "5"}, r


def test_ipv6_and_icmp_on_lo(ns):
    sink = ns.sink("::1", "6000")
    p = ns.start("-e", "xdp:lo { @v6[ntop(ip6.saddr), ip6.nexthdr] = count(); "
                 "@icmp[icmp.type, icmp.code] = count(); "
                 "@tcp[tcp, udp, icmp, ip, ip6] = count(); }")
    wait_attached(p)
    ns.netload("udp", "::1", "6000:4")
    ns.netload("ping", "127.0.0.1", "3")
    got = sink.counts()
    r = stop(p)
    assert r.rc == 0, r
    assert got == {"6000": 4}
    assert maps_of(r.out) == {
        "@v6[::, 0]": "6", "@v6[::1, 17]": "4",              # the IPv4 pings have no ip6
        "@icmp[0, 0]": "7", "@icmp[8, 0]": "3",              # echo requests; 0: replies + rest
        "@tcp[0, 0, 1, 1, 0]": "6", "@tcp[0, 1, 0, 0, 1]": "4"}, r


def test_icmp_replies_are_type_0(ns):
    p = ns.start("-e", "xdp:lo /icmp/ { @[icmp.type] = count(); }")
    wait_attached(p)
    ns.netload("ping", "127.0.0.1", "5")
    time.sleep(0.2)
    r = stop(p)
    assert maps_of(r.out) == {"@[0]": "5", "@[8]": "5"}, r


# -- the firewall example ------------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_firewall_blocks_one_port_and_lets_others_through(ns, path):
    sink = ns.sink("0.0.0.0", "9999,9998")
    p = ns.start(*path, FIREWALL, FIREWALL_RULES)
    wait_attached(p)
    ns.netload("udp", "127.0.0.1", "9999:10,9998:10")                     # from 127.0.0.1
    ns.run(PY, "-c", "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
           "s.bind(('127.0.0.2', 0)); [s.sendto(b'x', ('127.0.0.1', 9999)) for _ in range(6)]")
    got = sink.counts()
    r = stop(p)
    assert r.rc == 0, r
    assert got == {"9999": 6, "9998": 10}
    assert maps_of(r.out) == {
        "@dropped[127.0.0.1, 9999]": "10",
        "@passed[127.0.0.1, 9998]": "10", "@passed[127.0.0.2, 9999]": "6",
        "@rules[9999, 127.0.0.0/8]": "1", "@rules[0, 0.0.0.0/0]": "2",
        "@rules[9999, 127.0.0.2/32]": "2"}, r
    ns.assert_clean("lo")


def test_firewall_rules_change_while_it_runs(ns):
    out = ns.run(sys.executable, WORKLOADS / "net_live_rules.py", FIREWALL, FIREWALL_RULES,
                 environ=env())
    got = json.loads(out.splitlines()[-1])
    assert got == {
        "rules_file": 0, "deleted": True, "after_delete": 10, "after_set": 0,
        "dropped": {"16777343, 9999": 20},               # ntop values as the library gives them
        "rules": {"0, 0.0.0.0/0": 2, "0, 127.0.0.1/32": 1, "9999, 127.0.0.2/32": 2}}, out
    ns.assert_clean("lo")


@pytest.mark.parametrize("path, mechanism", [([], "BPF link"), (["--netlink"], "netlink")],
                         ids=["link", "netlink"])
def test_firewall_rules_change_from_the_repl(ns, path, mechanism):
    out = ns.run(sys.executable, WORKLOADS / "net_live_repl.py", FIREWALL, FIREWALL_RULES,
                 *path, environ=env())
    counts, *printed = out.split("\n", 1)
    assert json.loads(counts) == {
        "mechanism": ["ran once (BPF_PROG_TEST_RUN)", f"xdp: {mechanism}"],
        "rules_file": 0, "after_set_pass": 10, "deleted": True, "after_block_host": 0,
        "exit": 0}, out
    assert maps_of(printed[0]) == {
        "@dropped[127.0.0.1, 9999]": "20", "@passed[127.0.0.1, 9999]": "10",
        "@rules[0, 127.0.0.1/32]": "1", "@rules[0, 0.0.0.0/0]": "2",
        "@rules[9999, 127.0.0.2/32]": "2"}, out
    ns.assert_clean("lo")


def test_a_bad_rules_file_is_named_with_its_line(ns, tmp_path):
    rules = tmp_path / "rules"
    rules.write_text("# fine\n22 10.0.0.0/8 1\n22 10.0.0.0/33 1\n")
    r = ns.pytrace(FIREWALL, str(rules))
    assert r.rc == 1, r
    assert r.err == (f"error: {rules}:3: '10.0.0.0/33': the prefix length must be 0 to 32\n"
                     f"hint: a line of {rules} is 'N ADDRESS[/PREFIX] VALUE'\n"), r
    ns.assert_clean("lo")


# -- what the verifier accepts ----------------------------------------------------------------

@pytest.mark.parametrize("script", [
    "xdp:lo { @[eth.proto, macaddr(eth.src), macaddr(eth.dst), ip6.saddr, ip6.daddr, "
    "ip6.nexthdr, icmp.type, icmp.code, tcp.flags, tcp.seq, tcp.sport, udp.len, udp.sport, "
    "pkt.len, pkt.ifindex] = count(); if (tcp && tcp.dport == 22) { drop; } else { pass; } }",
    "xdp:lo { @[ip.saddr, ip.daddr, ip.proto, ip.ttl, ip.len] = count(); tx; }",
    'xdp:lo { printf("%s %s %s %s %d\\n", ntop(ip6.saddr), ntop(10, ip6.daddr), '
    "ntop(ip.saddr), ntop(2, ip.daddr), ip6.nexthdr); redirect(\"lo\"); }",
    'tc:lo:ingress /icmp/ { redirect("lo"); } tc:lo:egress { @[lpm(ip6.saddr)] = 1; '
    '@k[lpm(1, 2, ip.saddr)] = 2; @l = @k[lpm(tcp.dport, udp.dport, ip.daddr)]; }',
    "xdp:lo { @h = hist(pkt.len); @s = stats(ip.len); @c[ip6.saddr, tcp.dport] = count(); }",
])
def test_the_verifier_accepts(ns, script):
    r = ns.pytrace("--dry-run", "-e", script)
    assert r.rc == 0 and "loaded and verified" in r.err, r
