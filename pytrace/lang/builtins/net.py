"""Builtins of network probes (``xdp:``, ``tc:``) and address printing.

Packet views ``pkt``, ``eth``, ``ip``, ``ip6``, ``tcp``, ``udp``, ``icmp``
(see ``packet``): ``tcp.dport`` is a field; ``tcp`` alone is 1 when the
packet is TCP. Actions end the program with a verdict: ``drop;``,
``pass;``, ``tx;`` (xdp: send it back out where it came in) and
``redirect(IFACE)``; without one the packet goes on (xdp: XDP_PASS; tc:
the next filter decides, TC_ACT_UNSPEC/TCX_NEXT). ``ntop()`` and
``macaddr()`` make addresses print as text; like bpftrace's they work in
any probe.
"""
from __future__ import annotations

from ...bpf.insn import Helper
from .. import ast as A
from .. import ir
from ..probes import ProgKind
from ..types import BOOL, Array, Formatted, Inet6, Int, Special, Void
from . import FnKind, Function, Variable
from .packet import HEADERS, PacketView

NET_KINDS = (ProgKind.XDP, ProgKind.SCHED_CLS)
VOID = Void()

#: enum xdp_action and the tc verdicts (include/uapi/linux/{bpf,pkt_cls}.h)
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = 0, 1, 2, 3, 4
TC_ACT_UNSPEC, TC_ACT_OK, TC_ACT_SHOT = -1, 0, 2

#: action name -> verdict per program kind (absent: not available there)
ACTIONS = {
    "drop": {ProgKind.XDP: XDP_DROP, ProgKind.SCHED_CLS: TC_ACT_SHOT},
    "pass": {ProgKind.XDP: XDP_PASS, ProgKind.SCHED_CLS: TC_ACT_OK},
    "tx": {ProgKind.XDP: XDP_TX},
}
#: what an xdp/tc program returns when the script chose no action
DEFAULT_VERDICT = {ProgKind.XDP: XDP_PASS, ProgKind.SCHED_CLS: TC_ACT_UNSPEC}


def _unknown():
    from ..semantics import UNKNOWN
    return UNKNOWN


def in_net_probe(ck, e, what: str) -> bool:
    """True in xdp/tc probes; elsewhere reports that ``what`` belongs there."""
    if ck.ctx is not None and ck.ctx.kind in NET_KINDS:
        return True
    ck.error(f"{what} only exists in network probes", e.loc,
             "read packets in xdp:IFACE or tc:IFACE:ingress / tc:IFACE:egress probes")
    return False


def _parents(ck) -> dict[int, A.Node]:
    """id(node) -> its parent, for the probe being checked (cached)."""
    probe = ck.group.probe
    cache = ck.ext.setdefault("net_parents", {})
    got = cache.get(id(probe))
    if got is None or got[0] is not probe:
        parents = {}
        for node in A.walk(probe):
            for child in node.children():
                parents[id(child)] = node
        got = cache[id(probe)] = (probe, parents)
    return got[1]


def _is_field_operand(ck, e: A.Builtin) -> bool:
    parent = _parents(ck).get(id(e))
    return isinstance(parent, A.FieldAccess) and parent.operand is e


def view(lw) -> PacketView:
    """The program's parsed headers, parsed at entry on first use."""
    got = lw.ext.get("packet")
    if got is None:
        got = lw.ext["packet"] = PacketView(lw)
    return got


# -- packet views -----------------------------------------------------------------

def _header_type(name: str):
    def check(ck, e: A.Builtin):
        if not in_net_probe(ck, e, f"'{name}'"):
            return _unknown()
        if _is_field_operand(ck, e):
            return HEADERS[name].struct
        if name == "pkt":
            ck.error("pkt has no value of its own", e.loc, "read pkt.len or pkt.ifindex")
            return _unknown()
        return BOOL
    return check


def _header_lower(name: str):
    def lower(lw, e: A.Builtin):
        v = view(lw)
        if lw.type_of(e) is BOOL:
            return v.present(name)
        return v.header(name)
    return lower


def _header_variable(name: str) -> Variable:
    h = HEADERS[name]
    fields = ", ".join(f.name for f in h.fields)
    return Variable(name, f"{h.doc} ({fields})", _header_type(name), _header_lower(name),
                    category="network")


# -- actions ------------------------------------------------------------------------

def _action_type(name: str):
    def check(ck, e: A.Builtin):
        if not in_net_probe(ck, e, f"'{name};'"):
            return _unknown()
        if ck.ctx.kind not in ACTIONS[name]:
            ck.error(f"'{name};' exists in xdp probes only", e.loc,
                     "send a packet elsewhere with redirect(IFACE)")
            return _unknown()
        return VOID
    return check


def _action_lower(name: str):
    def lower(lw, e: A.Builtin):
        lw.emit(ir.Return(ACTIONS[name][lw.ctx_info.kind]))
        return None
    return lower


def _check_redirect(ck, e: A.Call):
    if not in_net_probe(ck, e, "redirect()") or not ck.expect_args(e, 1):
        for a in e.args:
            ck.expr(a)
        return VOID
    target = e.args[0]
    if isinstance(target, A.StrLit):
        ck.expr(target)
        if resolve_ifindex(ck.kernel, target.value) is None:
            ck.error(f"no network interface '{target.value}'", target.loc,
                     "list them with: ip link")
    else:
        ck.expect_int(target, "redirect()'s interface (a name or an ifindex)")
    return VOID


def resolve_ifindex(kernel, name: str) -> int | None:
    """The interface's index through ``KernelInfo.ifindex`` (the host's
    lookup, or the compiler tests' fake)."""
    return kernel.ifindex(name)


def _lower_redirect(lw, e: A.Call):
    target = e.args[0]
    if isinstance(target, A.StrLit):
        ifindex: ir.Value = resolve_ifindex(lw.kernel, target.value)
    else:
        ifindex = lw.int_value(target)
    verdict = lw.call(Helper.redirect, ifindex, 0)
    lw.emit(ir.Return(verdict))
    return None


# -- addresses ------------------------------------------------------------------------

AF_INET, AF_INET6 = 2, 10


def _check_ntop(ck, e: A.Call):
    from ..semantics import describe, is_int
    if not ck.expect_args(e, 1, 2):
        return Special(Formatted.INET4)
    addr = e.args[-1]
    t = ck.expr(addr)
    family = None
    if len(e.args) == 2:
        ck.expr(e.args[0])
        family = ck.const_int(e.args[0])
        if family not in (AF_INET, AF_INET6):
            ck.error("ntop()'s address family must be 2 (AF_INET) or 10 (AF_INET6)",
                     e.args[0].loc)
            return Special(Formatted.INET4)
    if isinstance(t, Array) and t.elem.size == 1 and t.count in (4, 16):   # pton()'s bytes
        if family is not None and family != (AF_INET if t.count == 4 else AF_INET6):
            ck.error(f"ntop({family}, …) does not fit a {t.count}-byte address", addr.loc)
        return Special(Formatted.INET4) if t.count == 4 else Inet6()
    if isinstance(t, Inet6):
        if family == AF_INET:
            ck.error("ntop(2, …) prints IPv4 addresses; this one is IPv6", addr.loc,
                     "write ntop(addr) or ntop(10, addr)")
        return t
    if is_int(t):
        if family == AF_INET6:
            ck.error("ntop(10, …) prints IPv6 addresses (16 bytes, such as ip6.saddr); "
                     "an integer is an IPv4 address", addr.loc,
                     "write ntop(addr) or ntop(2, addr)")
        return Special(Formatted.INET4)
    ck.error(f"ntop() prints an IPv4 address (an integer) or an IPv6 address "
             f"(ip6.saddr), not {describe(t)}", addr.loc)
    return Special(Formatted.INET4)


def _lower_ntop(lw, e: A.Call):
    addr = e.args[-1]
    v = lw.value(addr)
    t = lw.type_of(addr)
    if isinstance(t, Array):                        # pton()'s bytes, in memory
        if t.count == 16:
            return v.at(0, Inet6())
        return lw.load(v, 4)
    narrow = isinstance(t, Int) and t.bits <= 32 and not t.signed
    if isinstance(lw.type_of(e), Inet6) or narrow:
        return v
    return lw.convert(v, Int(32, False))            # the low 4 bytes are the address


def _check_macaddr(ck, e: A.Call):
    if ck.expect_args(e, 1):
        ck.expect_int(e.args[0], "macaddr()'s argument (a MAC address such as eth.src)")
    return Special(Formatted.MAC)


def _lower_macaddr(lw, e: A.Call):
    return lw.int_value(e.args[0])


VARIABLES = tuple(_header_variable(name) for name in HEADERS) + (
    Variable("drop", "network probes: drop the packet (ends the probe)",
             _action_type("drop"), _action_lower("drop"), category="network"),
    Variable("pass", "network probes: let the packet through (ends the probe)",
             _action_type("pass"), _action_lower("pass"), category="network"),
    Variable("tx", "xdp probes: send the packet back out of its interface (ends the probe)",
             _action_type("tx"), _action_lower("tx"), category="network"),
)

FUNCTIONS = (
    Function("redirect", 'redirect("IFACE") | redirect(ifindex)',
             "network probes: send the packet out of another interface (ends the probe)",
             FnKind.STMT, _check_redirect, _lower_redirect),
    Function("ntop", "ntop([af, ]addr)", "an IPv4 (integer) or IPv6 address, printed as text",
             FnKind.EXPR, _check_ntop, _lower_ntop),
    Function("macaddr", "macaddr(addr)", "a MAC address (such as eth.src), printed as text",
             FnKind.EXPR, _check_macaddr, _lower_macaddr),
)
