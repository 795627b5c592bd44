"""Network probes: programs on an interface's packet path.

``xdp:IFACE`` runs for every packet arriving on IFACE before the kernel's
network stack sees it (driver mode where the driver supports XDP, generic
mode otherwise; ``xdp:IFACE:generic`` / ``xdp:IFACE:driver`` force one).
``tc:IFACE:ingress`` / ``tc:IFACE:egress`` run in the traffic-control layer
for packets arriving on / leaving IFACE. IFACE may be a wildcard (``veth*``).
Scripts read headers (``ip.saddr``, ``tcp.dport`` …) and may end a packet's
journey (``drop;``); see ``lang.builtins.net``. Attaching and sweeping live
in ``kernel.netdev``.
"""
from __future__ import annotations

from ..lang.kernelinfo import Feature
from ..lang.probes import ProbeContext, ProgKind, Target
from ..base.record import record
from . import Provider

HEADERS_HINT = "read the packet with pkt, eth, ip, ip6, tcp, udp and icmp"


@record(frozen=True)
class NetTarget:
    iface: str
    ifindex: int
    #: xdp: the XdpMode; tc: the TcDirection
    where: object


def interfaces(kernel) -> list[tuple[int, str]]:
    """(ifindex, name) of this network namespace's interfaces, by index
    (``KernelInfo.interfaces``: the host's, or the tests' fake ones)."""
    return sorted(kernel.interfaces())


def _matching(kernel, pattern: str) -> list[tuple[int, str]]:
    import fnmatch
    found = interfaces(kernel)
    if any(c in pattern for c in "*?["):
        return [(i, n) for i, n in found if fnmatch.fnmatchcase(n, pattern)]
    return [(i, n) for i, n in found if n == pattern]


def _no_interface(provider: Provider, spec, name: str, kernel):
    import difflib
    names = [n for _, n in interfaces(kernel)]
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if near:
        hint = f"did you mean {near[0]}?"
    else:
        hint = "interfaces here: " + ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    what = "matches" if any(c in name for c in "*?[") else "named"
    return provider.fail(f"no network interface {what} '{name}'", spec, hint)


def _context(kind: ProgKind, probe: str) -> ProbeContext:
    from ..lang.builtins.net import ACTIONS, DEFAULT_VERDICT
    actions = frozenset(a for a, kinds in ACTIONS.items() if kind in kinds)
    return ProbeContext(kind, args_missing=f"{probe} probes have no 'args': {HEADERS_HINT}",
                        extra=actions, default_return=DEFAULT_VERDICT[kind],
                        share_key=kind.value)


class _NetProvider(Provider):
    def describe(self, target: Target) -> list[str]:
        from ..lang.builtins.packet import HEADERS
        return [f"    {h.name}: {', '.join(f.name for f in h.fields)}" for h in HEADERS.values()]

    def listing(self, pattern: str, kernel) -> list[str]:
        import fnmatch
        out = []
        for _, name in interfaces(kernel):
            for probe in self._spellings(name):
                if not pattern or fnmatch.fnmatchcase(probe.split(":", 1)[1], pattern) or \
                        fnmatch.fnmatchcase(name, pattern):
                    out.append(probe)
        return out

    def _spellings(self, iface: str) -> list[str]:
        raise NotImplementedError


class Xdp(_NetProvider):
    doc = ("packets arriving on a network interface, before the kernel's stack: "
           "xdp:IFACE, xdp:IFACE:generic, xdp:IFACE:driver")

    def expand(self, spec, kernel) -> list[Target]:
        from ..kernel.netdev import XdpMode
        parts = spec.text.split(":")
        modes = {m.value: m for m in XdpMode if m.value}
        if len(parts) not in (2, 3) or not parts[1] or (len(parts) == 3 and
                                                        parts[2] not in modes):
            raise self.fail(f"'{spec.text}' is not an xdp probe", spec,
                            "write xdp:IFACE (driver mode where the driver has it, else "
                            "generic), xdp:IFACE:generic or xdp:IFACE:driver, e.g. xdp:eth0")
        mode = modes[parts[2]] if len(parts) == 3 else XdpMode.AUTO
        found = _matching(kernel, parts[1])
        if not found:
            raise _no_interface(self, spec, parts[1], kernel)
        ctx = _context(ProgKind.XDP, "xdp")
        suffix = f":{mode.value}" if mode.value else ""
        return [Target("xdp", f"xdp:{name}{suffix}", ctx, NetTarget(name, index, mode))
                for index, name in found]

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import netdev
        t: NetTarget = target.data
        return [netdev.attach_xdp(prog_fd, t.ifindex, t.iface, t.where,
                                  use_link=runtime.kernel.has(Feature.XDP_LINK),
                                  force=getattr(runtime, "force", False), what=target.name)]

    def sweep(self, runtime) -> None:
        _report(_sweep(xdp=True))

    def _spellings(self, iface: str) -> list[str]:
        return [f"xdp:{iface}"]


class Tc(_NetProvider):
    doc = ("packets in traffic control, arriving on or leaving an interface: "
           "tc:IFACE:ingress, tc:IFACE:egress")

    def __init__(self):
        self._clsacts = None            # netdev.ClsactUses, made on first netlink attach

    def expand(self, spec, kernel) -> list[Target]:
        from ..kernel.netdev import TcDirection
        parts = spec.text.split(":")
        sides = {d.value: d for d in TcDirection}
        if len(parts) != 3 or not parts[1] or parts[2] not in sides:
            raise self.fail(f"'{spec.text}' is not a tc probe", spec,
                            "write tc:IFACE:ingress or tc:IFACE:egress, e.g. tc:eth0:egress")
        found = _matching(kernel, parts[1])
        if not found:
            raise _no_interface(self, spec, parts[1], kernel)
        ctx = _context(ProgKind.SCHED_CLS, "tc")
        return [Target("tc", f"tc:{name}:{parts[2]}", ctx, NetTarget(name, index, sides[parts[2]]))
                for index, name in found]

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import netdev
        t: NetTarget = target.data
        return [netdev.attach_tc(prog_fd, t.ifindex, t.iface, t.where,
                                 use_link=runtime.kernel.has(Feature.TCX), what=target.name,
                                 clsacts=self._clsact_uses())]

    def _clsact_uses(self):
        if self._clsacts is None:
            from ..kernel.netdev import ClsactUses
            self._clsacts = ClsactUses()
        return self._clsacts

    def sweep(self, runtime) -> None:
        _report(_sweep(tc=True))

    def _spellings(self, iface: str) -> list[str]:
        return [f"tc:{iface}:ingress", f"tc:{iface}:egress"]


def _sweep(xdp: bool = False, tc: bool = False) -> list[str]:
    from ..kernel import netsweep
    return netsweep.sweep(xdp, tc)


def _report(lines: list[str]) -> None:
    import sys
    for line in lines:
        sys.stderr.write(f"pytrace: {line}\n")


# -- actions that change real traffic ----------------------------------------------

#: the actions that change where a packet goes (``pass`` does not)
TRAFFIC_ACTIONS = ("drop", "tx", "redirect")
UNSAFE_HINT = ("add a predicate or a condition, or run with --unsafe to cut the "
               "interface off on purpose")


def _is_loopback(t: NetTarget) -> bool:
    return t.iface == "lo" or t.ifindex == 1


def _actions(body) -> list:
    """(action name, node) of every drop / tx / redirect() in ``body``."""
    from ..lang import ast as A
    found = []
    for n in A.walk(body):
        if isinstance(n, A.Builtin) and n.name in ("drop", "tx"):
            found.append((n.name, n))
        elif isinstance(n, A.Call) and n.name == "redirect":
            found.append((n.name, n))
    return found


def _unconditional_drop(probe):
    """The ``drop`` that ends every run of ``probe``: no predicate, and no
    condition, loop or return before it at the top of the body."""
    from ..lang import ast as A
    if probe.predicate is not None:
        return None
    stmts = list(probe.body.stmts)
    while stmts:
        s = stmts.pop(0)
        if isinstance(s, A.Block):
            stmts[:0] = list(s.stmts)
        elif isinstance(s, A.ExprStmt) and isinstance(s.expr, A.Builtin) and (
                s.expr.name == "drop"):
            return s.expr
        elif not isinstance(s, (A.AssignMap, A.AssignVar, A.DeclareVar, A.CompoundAssign,
                                A.ExprStmt)):
            return None
    return None


def traffic_changes(program, script) -> tuple[list[str], list]:
    """What the compiled ``script`` of ``program`` does to real network
    traffic: warning lines (one per probe that may drop, send back or
    redirect packets of an interface other than loopback) and the
    ``CompileError``s for probes that drop every packet of one."""
    from ..base.diagnostics import CompileError, Diagnostic, Severity
    warnings, errors = [], []
    seen = set()
    for compiled in script.probes:
        ifaces = sorted({t.data.iface for t in compiled.targets
                         if isinstance(t.data, NetTarget) and not _is_loopback(t.data)})
        if not ifaces or compiled.source in seen or compiled.source >= len(program.probes):
            continue
        seen.add(compiled.source)
        probe = program.probes[compiled.source]
        actions = sorted({name for name, _ in _actions(probe.body)})
        if not actions:
            continue
        where = ", ".join(ifaces)
        warnings.append(f"warning: {'/'.join(actions)} on {where}: this script changes the "
                        "real traffic of that interface while it runs")
        drop = _unconditional_drop(probe)
        if drop is not None:
            errors.append(CompileError(Diagnostic(
                Severity.ERROR, f"this probe drops every packet on {where}", drop.loc,
                UNSAFE_HINT)))
    return warnings, errors
