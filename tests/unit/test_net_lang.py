"""Network probes in the language, on the fake machine (no kernel): probe
specs, packet views, actions, addresses, lpm() maps, load(); every user
error as the whole rendered message."""
from __future__ import annotations

import re

import pytest

from pytrace.bpf.insn import Class, Src
from pytrace.lang.program import EventKind, MapKind
from pytrace.lang.types import UINT8, UINT16, UINT32, UINT64, Inet6, Int, LpmKey

from tests.netfakes import INTERFACES, compile_net, net_error

HINT_NET = "hint: read packets in xdp:IFACE or tc:IFACE:ingress / tc:IFACE:egress probes"


def ir_of(text: str, **kw) -> list[str]:
    (probe,) = compile_net(text, **kw).probes
    return probe.ir_dump


def matching(pattern: str, lines: list[str]) -> list[str]:
    return [line for line in lines if re.search(pattern, line)]


# -- probe specs -------------------------------------------------------------------

@pytest.mark.parametrize("spec, name, kind, ret", [
    ("xdp:lo", "xdp:lo", "xdp", 2),
    ("xdp:eth0:generic", "xdp:eth0:generic", "xdp", 2),
    ("xdp:eth0:driver", "xdp:eth0:driver", "xdp", 2),
    ("tc:lo:ingress", "tc:lo:ingress", "sched_cls", -1),
    ("tc:veth0:egress", "tc:veth0:egress", "sched_cls", -1),
])
def test_specs_name_their_interface(spec, name, kind, ret):
    script = compile_net(spec + " { @ = count(); }")
    (probe,) = script.probes
    (target,) = probe.targets
    assert (target.name, probe.kind.value) == (name, kind)
    assert target.data.ifindex == INTERFACES[target.data.iface]
    # without an action the packet goes on: XDP_PASS / TC_ACT_UNSPEC (next filter)
    assert probe.ir_dump[-1] == f"    return {ret}"


def test_wildcard_interfaces_share_one_program():
    script = compile_net("xdp:*0 { @[pkt.ifindex] = count(); }")
    (probe,) = script.probes
    assert [t.name for t in probe.targets] == ["xdp:eth0", "xdp:veth0"]


@pytest.mark.parametrize("text, message", [
    ("xdp:eth9 { drop; }",
     "-e:1:1: error: no network interface named 'eth9'\n"
     "xdp:eth9 { drop; }\n"
     "~~~~~~~~\n"
     "hint: did you mean eth0?"),
    ("xdp:wl* { drop; }",
     "-e:1:1: error: no network interface matches 'wl*'\n"
     "xdp:wl* { drop; }\n"
     "~~~~~~~\n"
     "hint: interfaces here: lo, eth0, veth0"),
    ("xdp:lo:fast { drop; }",
     "-e:1:1: error: 'xdp:lo:fast' is not an xdp probe\n"
     "xdp:lo:fast { drop; }\n"
     "~~~~~~~~~~~\n"
     "hint: write xdp:IFACE (driver mode where the driver has it, else generic), "
     "xdp:IFACE:generic or xdp:IFACE:driver, e.g. xdp:eth0"),
    ("tc:lo { drop; }",
     "-e:1:1: error: 'tc:lo' is not a tc probe\n"
     "tc:lo { drop; }\n"
     "~~~~~\n"
     "hint: write tc:IFACE:ingress or tc:IFACE:egress, e.g. tc:eth0:egress"),
])
def test_bad_specs(text, message):
    assert net_error(text) == message


# -- packet views ------------------------------------------------------------------------

def test_header_fields_have_their_types():
    script = compile_net("xdp:lo { @a = tcp.dport; @b = ip.saddr; @c = ip.proto; @d = eth.src; "
                         "@e = tcp.seq; @f = pkt.len; @g[ip6.saddr] = 1; @h = tcp; }")
    assert script.map("@a").value == Int(64, False)     # a u16, stored widened
    assert script.map("@g").key == Inet6()
    assert {m.name for m in script.user_maps} == set("@a @b @c @d @e @f @g @h".split())


def test_header_struct_field_types():
    from pytrace.lang.builtins.packet import HEADERS
    types = {(h, f.name): f.type for h in HEADERS.values() for f in h.struct.fields}
    assert types[(HEADERS["tcp"], "dport")] == UINT16
    assert types[(HEADERS["ip"], "saddr")] == UINT32
    assert types[(HEADERS["ip"], "ttl")] == UINT8
    assert types[(HEADERS["eth"], "src")] == UINT64
    assert types[(HEADERS["ip6"], "daddr")] == Inet6()


def test_only_the_headers_used_are_parsed():
    ip_only = "\n".join(ir_of("xdp:lo { @[ip.ttl] = count(); }"))
    assert "l4proto" not in ip_only and "ihl" not in ip_only and ".ttl = load8 %" in ip_only
    assert "56710" not in ip_only                       # no IPv6 branch
    nothing = "\n".join(ir_of("xdp:lo { @ = count(); }"))
    assert "data" not in nothing and "stack1.pkt" not in nothing
    udp = "\n".join(ir_of("xdp:lo /udp.dport == 9999/ { drop; }"))
    assert "be16" in udp and "not_udp" in udp and "not_tcp" not in udp
    assert "56710" in udp                               # UDP over IPv6 too


def test_headers_are_parsed_once_at_entry():
    ir = ir_of("xdp:lo { @a = udp.dport; if (udp.dport == 53) { @b = udp.sport; } }")
    assert len(matching(r"= load16 %\d+\.l4\+2$", ir)) == 1     # dport, once
    # every read is one load from the view on the stack
    assert len(matching(r"= load16 stack\d+\.pkt", ir)) == 3


def test_bounds_checks_come_before_every_packet_read():
    ir = ir_of("xdp:lo { @[ip.saddr, tcp.dport, eth.proto, icmp.type] = count(); }")
    # each header read follows a "next > data_end" check on its start + size
    checks = {line for line in matching(r"if %\d+\.next > %\d+\.data_end goto", ir)}
    # Ethernet, two VLAN tags, IPv4, IPv6, TCP, ICMP
    assert len(checks) == 7
    first_check = next(i for i, line in enumerate(ir) if line in checks)
    first_read = next(i for i, line in enumerate(ir) if re.search(r"load16 %\d+\.data\+12", line))
    assert first_check < first_read


def test_tc_reads_the_sk_buff():
    ir = ir_of("tc:lo:egress { @[pkt.len, pkt.ifindex, ip.proto] = count(); }")
    assert matching(r"\.len = load32 %1\.ctx\+0$", ir)           # skb->len
    assert any("load32 %1.ctx+40" in line for line in ir)      # skb->ifindex
    assert any("load32 %1.ctx+76" in line for line in ir)      # skb->data
    xdp = ir_of("xdp:lo { @[pkt.len, pkt.ifindex] = count(); }")
    assert any("load32 %1.ctx+12" in line for line in xdp)     # ingress_ifindex
    assert any(" sub " in line for line in xdp)                # data_end - data


def test_header_alone_is_a_boolean():
    ir = ir_of("xdp:lo /tcp && tcp.dport != 80/ { @ = count(); }")
    # tcp's presence byte leads the view; it is set where the TCP header is read
    assert matching(r"= load8 stack\d+\.pkt\[8\]\+0$", ir)
    assert matching(r"store8 stack\d+\.pkt\[8\]\+0 = 1$", ir)
    # without a bare use there is no presence byte to set
    assert not matching(r"= 1$", ir_of("xdp:lo { @ = tcp.dport; }"))


@pytest.mark.parametrize("text, message", [
    ("t:syscalls:sys_enter_read { @[tcp.dport] = count(); }",
     "-e:1:31: error: 'tcp' only exists in network probes\n"
     "t:syscalls:sys_enter_read { @[tcp.dport] = count(); }\n"
     "                              ~~~\n" + HINT_NET),
    ("xdp:lo { @[tcp.port] = count(); }",
     "-e:1:12: error: tcp header has no field 'port'\n"
     "xdp:lo { @[tcp.port] = count(); }\n"
     "           ~~~~~~~~\n"
     "hint: did you mean 'sport'?"),
    ("xdp:lo { @[pkt] = count(); }",
     "-e:1:12: error: pkt has no value of its own\n"
     "xdp:lo { @[pkt] = count(); }\n"
     "           ~~~\n"
     "hint: read pkt.len or pkt.ifindex"),
    ("xdp:lo { $a = args; }",
     "-e:1:15: error: xdp probes have no 'args': read the packet with pkt, eth, ip, ip6, tcp, "
     "udp and icmp\n"
     "xdp:lo { $a = args; }\n"
     "              ~~~~"),
])
def test_packet_view_errors(text, message):
    assert net_error(text) == message


# -- actions ---------------------------------------------------------------------------

@pytest.mark.parametrize("probe, action, code", [
    ("xdp:lo", "drop", 1), ("xdp:lo", "pass", 2), ("xdp:lo", "tx", 3),
    ("tc:lo:ingress", "drop", 2), ("tc:lo:egress", "pass", 0),
])
def test_actions_return_their_verdict(probe, action, code):
    ir = ir_of(f"{probe} /udp/ {{ @ = count(); {action}; }}")
    assert f"    return {code}" in ir


def test_an_action_ends_the_probe_and_dead_code_goes():
    from pytrace.lang.dump import asm_lines
    (probe,) = compile_net("xdp:lo { if (tcp.dport == 22) { drop; } @x = 1; pass; "
                           "@never = 2; }").probes
    text = "\n".join(asm_lines(probe))
    assert text.count("exit") == 2                   # drop, pass; nothing reaches the end
    assert "map[@x]" in text and "map[@never]" not in text
    (probe,) = compile_net("xdp:lo { if (tcp) { drop; } else { pass; } @dead = 1; }").probes
    assert "map[@dead]" not in "\n".join(asm_lines(probe))


def test_redirect_calls_bpf_redirect_with_the_ifindex():
    ir = ir_of('xdp:lo { redirect("eth0"); }')
    assert "    %2.redirect = call redirect(2, 0)" in ir
    assert "    return %2.redirect" in ir


@pytest.mark.parametrize("text, message", [
    ("tc:lo:ingress { tx; }",
     "-e:1:17: error: 'tx;' exists in xdp probes only\n"
     "tc:lo:ingress { tx; }\n"
     "                ~~\n"
     "hint: send a packet elsewhere with redirect(IFACE)"),
    ("BEGIN { drop; }",
     "-e:1:9: error: 'drop;' only exists in network probes\n"
     "BEGIN { drop; }\n"
     "        ~~~~\n" + HINT_NET),
    ("xdp:lo { $x = drop; }",
     "-e:1:15: error: this returns no value to store\n"
     "xdp:lo { $x = drop; }\n"
     "              ~~~~"),
    ('xdp:lo { redirect("nope"); }',
     "-e:1:19: error: no network interface 'nope'\n"
     'xdp:lo { redirect("nope"); }\n'
     "                  ~~~~~~\n"
     "hint: list them with: ip link"),
])
def test_action_errors(text, message):
    assert net_error(text) == message


# -- addresses ---------------------------------------------------------------------------

def test_ntop_and_macaddr_types():
    script = compile_net("xdp:lo { @a[ntop(ip.saddr)] = 1; @b[ntop(ip6.daddr)] = 1; "
                         "@c[macaddr(eth.dst)] = 1; @d[ntop(2, ip.daddr)] = 1; }")
    assert str(script.map("@a").key) == "inet4"
    assert script.map("@b").key == Inet6()
    assert str(script.map("@c").key) == "mac"
    assert str(script.map("@d").key) == "inet4"


def test_ntop_works_outside_network_probes_like_bpftrace():
    compile_net('BEGIN { printf("%s\\n", ntop(0x0100007f)); }')


@pytest.mark.parametrize("text, message", [
    ('xdp:lo { printf("%s\\n", ntop(comm)); }',
     "-e:1:30: error: ntop() prints an IPv4 address (an integer) or an IPv6 address "
     "(ip6.saddr), not a string\n"
     'xdp:lo { printf("%s\\n", ntop(comm)); }\n'
     "                             ~~~~"),
    ('xdp:lo { printf("%s\\n", ntop(2, ip6.saddr)); }',
     "-e:1:33: error: ntop(2, …) prints IPv4 addresses; this one is IPv6\n"
     'xdp:lo { printf("%s\\n", ntop(2, ip6.saddr)); }\n'
     "                                ~~~~~~~~~\n"
     "hint: write ntop(addr) or ntop(10, addr)"),
])
def test_ntop_errors(text, message):
    assert net_error(text) == message


# -- lpm() and load() -------------------------------------------------------------------------

def test_lpm_key_makes_an_lpm_trie():
    script = compile_net('BEGIN { @r[lpm(22, "10.0.0.0/8")] = 1; } '
                         "xdp:lo { if (@r[lpm(tcp.dport, ip.saddr)] == 1) { drop; } }")
    spec = script.map("@r")
    assert (spec.kind, spec.key, spec.key_size, spec.value_size) == (
        MapKind.LPM_TRIE, LpmKey(1, 4), 16, 8)


def test_lpm_literal_key_bytes():
    # prefix length 64 + 8, port 22 big-endian, then 10.0.0.0
    ir = ir_of('BEGIN { @r[lpm(22, "10.0.0.0/8")] = 1; }')
    stores = [re.sub(r"stack\d+", "stack", line.strip())
              for line in matching(r"store32 stack\d+\.lpm", ir)]
    assert stores == ["store32 stack.lpm[16]+0 = 72", "store32 stack.lpm[16]+4 = 0",
                      "store32 stack.lpm[16]+8 = 369098752",     # 22 big-endian: 00 00 00 16
                      "store32 stack.lpm[16]+12 = 10"]           # 10.0.0.0


def test_lpm_runtime_key_swaps_exact_parts():
    ir = ir_of("xdp:lo { @r[lpm(udp.dport, ip.saddr)] = 1; }")
    assert matching(r"= be64 %", ir) and matching(r"store32 stack\d+\.lpm\[16\]\+0 = 96$", ir)


@pytest.mark.parametrize("text, message", [
    ("xdp:lo { @[lpm(1, ip.saddr), 2] = 1; }",
     "-e:1:10: error: lpm() must be @'s only key\n"
     "xdp:lo { @[lpm(1, ip.saddr), 2] = 1; }\n"
     "         ~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: put the other parts inside lpm(…): lpm(port, ip.saddr)"),
    ("xdp:lo { @[lpm(1, ip.saddr)] = count(); }",
     "-e:1:32: error: @ is keyed by lpm() and cannot hold count() values\n"
     "xdp:lo { @[lpm(1, ip.saddr)] = count(); }\n"
     "                               ~~~~~~~\n"
     "hint: a longest-prefix-match map holds plain values: @rules[lpm(…)] = 1"),
    ('BEGIN { @[lpm(1, "10.0.0.0/33")] = 1; }',
     "-e:1:18: error: '10.0.0.0/33': the prefix length must be 0 to 32\n"
     'BEGIN { @[lpm(1, "10.0.0.0/33")] = 1; }\n'
     "                 ~~~~~~~~~~~~~\n"
     'hint: write lpm(port, ip.saddr) or lpm(22, "10.0.0.0/8"): exact parts, then an address'),
    ('BEGIN { @[lpm("10.0.0.0/8")] = 1; } xdp:lo { @[lpm(1, ip.saddr)] = 1; }',
     "-e:1:46: error: @ is keyed by lpm(ipv4) elsewhere, not lpm(int, ipv4)\n"
     'BEGIN { @[lpm("10.0.0.0/8")] = 1; } xdp:lo { @[lpm(1, ip.saddr)] = 1; }\n'
     "                                             ~~~~~~~~~~~~~~~~~~~\n"
     "-e:1:9: note: @ first keyed here\n"
     'BEGIN { @[lpm("10.0.0.0/8")] = 1; } xdp:lo { @[lpm(1, ip.saddr)] = 1; }\n'
     "        ~~~~~~~~~~~~~~~~~~~~"),
    ("BEGIN { load(@r, $1); @r[1] = 1; }",
     "-e:1:18: error: load() has no file name: the parameter is not given\n"
     "BEGIN { load(@r, $1); @r[1] = 1; }\n"
     "                 ~~\n"
     "hint: name the file after the script: pytrace SCRIPT FILE"),
    ('BEGIN { load(@r, "f"); }',
     "-e:1:14: error: load() needs to know @r's keys: use the map with keys somewhere in the "
     "script\n"
     'BEGIN { load(@r, "f"); }\n'
     "             ~~\n"
     "hint: e.g. $v = @rules[lpm(tcp.dport, ip.saddr)]"),
])
def test_lpm_and_load_errors(text, message):
    assert net_error(text) == message


def test_load_sends_an_event_naming_file_and_map():
    script = compile_net("BEGIN { load(@r, $1); } xdp:lo { @v = @r[lpm(ip.saddr)]; }",
                         params=["rules.txt"])
    (event,) = [e for e in script.events if e.kind is EventKind.LOAD_MAP]
    assert (event.map, event.fmt) == ("@r", "rules.txt")
    assert script.map("@r").kind is MapKind.LPM_TRIE


# -- code generation details ------------------------------------------------------------------

def test_byte_swaps_are_be_instructions():
    from pytrace.lang.dump import asm_lines
    (probe,) = compile_net("xdp:lo { @ = tcp.seq; }").probes
    swaps = [i for i in probe.insns if i.code == (Class.ALU | Src.X | 0xD0)]
    assert sorted(i.imm for i in swaps) == [16, 32]      # the fragment field, the seq
    assert any("= be32 r" in line for line in asm_lines(probe))


def test_statements_after_exit_are_dropped():
    script = compile_net('BEGIN { exit(); printf("never\\n"); }')
    (probe,) = script.probes
    from pytrace.lang.dump import asm_lines
    # the printf's record is never reserved: only exit()'s
    assert "\n".join(asm_lines(probe)).count("ringbuf_reserve") == 1


def test_ipv6_addresses_compare_all_16_bytes():
    # fe80::1 and fe80::2 share a zero byte early on: a string compare would stop there
    ir = ir_of("xdp:lo /ip6.saddr == ip6.daddr/ { @ = count(); }")
    assert len(matching(r"^    if %\d+ != %\d+ goto", ir)) == 16
    assert not matching(r"== 0 goto L\d+\.eq", ir)
