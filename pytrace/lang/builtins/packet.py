"""Packet headers for xdp and tc programs: what ``eth``, ``ip``, ``ip6``,
``tcp``, ``udp``, ``icmp`` and ``pkt`` hold, and the code that parses them.

A program parses once, at its entry, only the headers its script reads, into
a *view* on the BPF stack: a presence byte per header, then each used
header's fields, converted to host byte order (ports, lengths, sequence
numbers) or kept as they are on the wire (addresses, which print with
``ntop()``/``macaddr()``). A header the packet lacks stays all zero, so its
fields read as 0 and the header itself as false. Reading a field is then one
load from the stack. The bounds checks the verifier demands for direct
packet access (``data``/``data_end`` of the context) are generated here:
every header is read only after ``start + size <= data_end`` held.

Parsing: Ethernet, up to two VLAN tags (802.1Q, 802.1ad), then IPv4 (its
options skipped by IHL; later fragments carry no L4 header) or IPv6 (the
fixed header; extension headers are not walked), then TCP, UDP or ICMP
(ICMPv6 counts as ``icmp``).
"""
from __future__ import annotations

from ...bpf.insn import AluOp, JmpOp
from ...base.arch import HOST_ORDER, NETWORK_ORDER, ByteOrder
from ...base.record import record
from .. import ast as A
from .. import ir
from ..probes import ProgKind
from ..types import UINT8, UINT16, UINT32, UINT64, Field, Inet6, Struct

ETH_HLEN = 14
VLAN_HLEN = 4


def wire16(value: int, order: ByteOrder = HOST_ORDER) -> int:
    """A big-endian (wire) u16 as a load of it reads on a machine of ``order``."""
    return int.from_bytes(value.to_bytes(2, NETWORK_ORDER), order.value)


#: EtherTypes as a u16 load reads them from the wire (0x0008 little-endian)
ETH_P_IP_WIRE = wire16(0x0800)
ETH_P_IPV6_WIRE = wire16(0x86DD)
ETH_P_8021Q_WIRE = wire16(0x8100)
ETH_P_8021AD_WIRE = wire16(0x88A8)
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58
IPV4_MIN_HLEN, IPV6_HLEN = 20, 40
IP_FRAG_OFFSET_MASK = 0x1FFF


@record(frozen=True)
class CtxLayout:
    """Where a program type's context keeps the packet."""
    data: int
    data_end: int
    ifindex: int
    #: offset of the packet length, or None when it is data_end - data
    length: int | None


#: struct xdp_md and struct __sk_buff (include/uapi/linux/bpf.h)
CTX = {ProgKind.XDP: CtxLayout(data=0, data_end=4, ifindex=12, length=None),
       ProgKind.SCHED_CLS: CtxLayout(data=76, data_end=80, ifindex=40, length=0)}


@record(frozen=True)
class HeaderField:
    name: str
    type: object
    #: where the field starts in its header and how many bytes it takes there
    wire_off: int
    wire_size: int
    #: converted to host byte order (ports, lengths); addresses stay as they are
    swap: bool = False
    doc: str = ""


@record(frozen=True)
class Header:
    name: str
    doc: str
    fields: tuple[HeaderField, ...]

    @property
    def struct(self) -> Struct:
        """The header as the checker sees it; offsets are in the view."""
        out, pos = [], 0
        for f in self.fields:
            size = f.type.size
            pos = (pos + f.type.align - 1) // f.type.align * f.type.align
            out.append(Field(f.name, f.type, pos, decl=f.doc))
            pos += size
        return Struct(f"{self.name} header", tuple(out), (pos + 7) // 8 * 8)

    def field(self, name: str) -> HeaderField | None:
        return next((f for f in self.fields if f.name == name), None)


HEADERS: dict[str, Header] = {h.name: h for h in (
    Header("pkt", "the packet: pkt.len (bytes), pkt.ifindex (the interface it is on)", (
        HeaderField("len", UINT32, 0, 4, doc="bytes in the packet"),
        HeaderField("ifindex", UINT32, 0, 4, doc="index of the interface"))),
    Header("eth", "the Ethernet header (after VLAN tags, proto is the inner type)", (
        HeaderField("dst", UINT64, 0, 6, doc="destination MAC (print with macaddr())"),
        HeaderField("src", UINT64, 6, 6, doc="source MAC (print with macaddr())"),
        HeaderField("proto", UINT16, 12, 2, swap=True, doc="EtherType (0x0800 IPv4)"))),
    Header("ip", "the IPv4 header; alone: 1 if the packet is IPv4", (
        HeaderField("saddr", UINT32, 12, 4, doc="source address (print with ntop())"),
        HeaderField("daddr", UINT32, 16, 4, doc="destination address (print with ntop())"),
        HeaderField("proto", UINT8, 9, 1, doc="protocol (6 TCP, 17 UDP, 1 ICMP)"),
        HeaderField("ttl", UINT8, 8, 1, doc="time to live"),
        HeaderField("len", UINT16, 2, 2, swap=True, doc="total length"))),
    Header("ip6", "the IPv6 header; alone: 1 if the packet is IPv6", (
        HeaderField("saddr", Inet6(), 8, 16, doc="source address"),
        HeaderField("daddr", Inet6(), 24, 16, doc="destination address"),
        HeaderField("nexthdr", UINT8, 6, 1, doc="next header (6 TCP, 17 UDP, 58 ICMPv6)"))),
    Header("tcp", "the TCP header; alone: 1 if the packet is TCP", (
        HeaderField("sport", UINT16, 0, 2, swap=True, doc="source port"),
        HeaderField("dport", UINT16, 2, 2, swap=True, doc="destination port"),
        HeaderField("seq", UINT32, 4, 4, swap=True, doc="sequence number"),
        HeaderField("flags", UINT8, 13, 1, doc="flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16)"))),
    Header("udp", "the UDP header; alone: 1 if the packet is UDP", (
        HeaderField("sport", UINT16, 0, 2, swap=True, doc="source port"),
        HeaderField("dport", UINT16, 2, 2, swap=True, doc="destination port"),
        HeaderField("len", UINT16, 4, 2, swap=True, doc="length of header and data"))),
    Header("icmp", "the ICMP (or ICMPv6) header; alone: 1 if the packet is ICMP", (
        HeaderField("type", UINT8, 0, 1, doc="message type"),
        HeaderField("code", UINT8, 1, 1, doc="message code"))),
)}

#: headers with a presence byte, in view order (pkt is always there)
PRESENT = ("eth", "ip", "ip6", "tcp", "udp", "icmp")
L4 = ("tcp", "udp", "icmp")
#: bytes each L4 header needs before any of its fields is read
L4_MIN = {"tcp": 20, "udp": 8, "icmp": 4}


def headers_used(probe: A.Probe) -> tuple[dict[str, set[str]], set[str]]:
    """(header name -> the fields of it the probe reads, the headers it
    tests for presence: ``tcp`` alone)."""
    used: dict[str, set[str]] = {}
    bare: set[str] = set()
    operands: set[int] = set()
    for node in A.walk(probe):                      # parents before children
        if isinstance(node, A.FieldAccess) and isinstance(node.operand, A.Builtin) \
                and node.operand.name in HEADERS:
            operands.add(id(node.operand))
            h = HEADERS[node.operand.name]
            if h.field(node.name) is not None:
                used.setdefault(h.name, set()).add(node.name)
        elif isinstance(node, A.Builtin) and node.name in HEADERS and id(node) not in operands:
            used.setdefault(node.name, set())
            bare.add(node.name)
    return used, bare


def _align(size: int) -> int:
    """Stack accesses must be aligned: an IPv6 address is copied as two u64."""
    return min(size, 8)


def _compact(h: Header, names: set[str]) -> Struct:
    """The fields ``names`` of header ``h``, widest first, as the view holds them."""
    fields = sorted((f for f in h.fields if f.name in names), key=lambda f: -f.type.size)
    out, pos = [], 0
    for f in fields:
        a = _align(f.type.size)
        pos = (pos + a - 1) // a * a
        out.append(Field(f.name, f.type, pos))
        pos += f.type.size
    return Struct(f"{h.name} header", tuple(out), pos)


class PacketView:
    """The parsed headers of one program, built on first use (see module doc)."""

    def __init__(self, lw):
        self.lw = lw
        self.used, bare = headers_used(lw.group.probe)
        layout = CTX[lw.ctx_info.kind]
        # the view: a presence byte per header tested alone, then the fields
        # read, each header's widest first; only those bytes are zeroed
        self.flags = {name: i for i, name in enumerate(n for n in PRESENT if n in bare)}
        self.layout: dict[str, Struct] = {}
        self.base: dict[str, int] = {}
        pos = len(self.flags)
        for name in HEADERS:
            if self.used.get(name):
                st = self.layout[name] = _compact(HEADERS[name], self.used[name])
                a = _align(st.fields[0].type.size)      # its widest field
                pos = (pos + a - 1) // a * a
                self.base[name] = pos
                pos += st.size
        self.size = (pos + 7) // 8 * 8
        self.slot = lw.stack_slot(self.size, name="pkt")
        lw.emit_at_entry(lambda: self._parse(layout), lw.group.probe.loc)

    # -- what builtins read ----------------------------------------------------
    def header(self, name: str):
        """The header's fields in the view (a Mem of their compact struct)."""
        from ..values import Mem
        return Mem(self.slot, self.base[name], self.layout[name])

    def present(self, name: str) -> ir.VReg:
        v = self.lw.vreg(name)
        self.lw.emit(ir.Load(v, self.slot, self.flags[name], 1))
        return v

    # -- the parser ------------------------------------------------------------
    def _wants(self, *names: str) -> bool:
        return any(n in self.used for n in names)

    def _parse(self, ctx: CtxLayout) -> None:
        lw = self.lw
        for off in range(0, self.size, 8):               # absent headers read as 0
            lw.emit(ir.Store(self.slot, off, 0, 8))
        if self.used.get("pkt"):
            self._pkt(ctx)
        if not self._wants(*PRESENT):
            return
        data, end = lw.vreg("data"), lw.vreg("data_end")
        lw.emit(ir.Load(data, lw.ctx, ctx.data, 4))
        lw.emit(ir.Load(end, lw.ctx, ctx.data_end, 4))
        done = lw.label("parsed")
        nh = self._bounded(data, ETH_HLEN, end, done)
        proto = lw.vreg("ethertype")
        lw.emit(ir.Load(proto, data, 12, 2))
        for _ in range(2):                                # VLAN tags
            plain = lw.label("untagged")
            tagged = lw.label("vlan")
            lw.branch(JmpOp.JEQ, proto, ETH_P_8021Q_WIRE, tagged)
            lw.branch(JmpOp.JNE, proto, ETH_P_8021AD_WIRE, plain)
            lw.place(tagged)
            after = self._bounded(nh, VLAN_HLEN, end, done)
            lw.emit(ir.Load(proto, nh, 2, 2))
            lw.emit(ir.Mov(nh, after))
            lw.place(plain)
        if "eth" in self.used:
            self._eth(data, proto)
        if not self._wants("ip", "ip6", *L4):
            lw.place(done)
            return
        l4, l4proto = lw.vreg("l4"), lw.vreg("l4proto")
        l4_parse = lw.label("l4")
        not_v4 = lw.label("not_ipv4")
        if self._wants("ip", *L4):
            lw.branch(JmpOp.JNE, proto, ETH_P_IP_WIRE, not_v4)
            self._ipv4(nh, end, done, l4, l4proto, l4_parse)
        lw.place(not_v4)
        if self._wants("ip6", *L4):
            lw.branch(JmpOp.JNE, proto, ETH_P_IPV6_WIRE, done)
            self._ipv6(nh, end, done, l4, l4proto, l4_parse)
        lw.jump(done)
        lw.place(l4_parse)
        if self._wants(*L4):
            self._l4(l4, l4proto, end, done)
        lw.place(done)

    def _bounded(self, start: ir.VReg, size: int, end: ir.VReg, fail: ir.Label) -> ir.VReg:
        """``start + size``, having jumped to ``fail`` unless it is <= data_end:
        after this, ``size`` bytes from ``start`` may be read."""
        lw = self.lw
        after = lw.vreg("next")
        lw.emit(ir.Alu(AluOp.ADD, after, start, size))
        lw.emit(ir.Branch(JmpOp.JGT, after, end, fail))
        return after

    def _mark(self, name: str) -> None:
        if name in self.flags:
            self.lw.emit(ir.Store(self.slot, self.flags[name], 1, 1))

    def _copy(self, name: str, src: ir.VReg) -> None:
        """Store the used fields of header ``name`` (starting at ``src``)."""
        lw = self.lw
        h = HEADERS[name]
        layout = self.layout.get(name)
        for fname in sorted(self.used[name]):
            f, slot_f = h.field(fname), layout.field(fname)
            dst = self.base[name] + slot_f.offset
            if f.wire_size == 16:                          # IPv6 address: two u64
                for half in (0, 8):
                    v = lw.vreg(fname)
                    lw.emit(ir.Load(v, src, f.wire_off + half, 8))
                    lw.emit(ir.Store(self.slot, dst + half, v, 8))
                continue
            if f.wire_size == 6:                           # MAC: the 6 bytes in a u64
                lo, hi = lw.vreg(fname), lw.vreg(fname)
                lw.emit(ir.Load(lo, src, f.wire_off, 4))
                lw.emit(ir.Load(hi, src, f.wire_off + 4, 2))
                if HOST_ORDER is ByteOrder.BIG:           # lo << 32 | hi << 16
                    lw.emit(ir.Alu(AluOp.LSH, lo, lo, 32))
                    lw.emit(ir.Alu(AluOp.LSH, hi, hi, 16))
                else:                                      # lo | hi << 32
                    lw.emit(ir.Alu(AluOp.LSH, hi, hi, 32))
                lw.emit(ir.Alu(AluOp.OR, lo, lo, hi))
                lw.emit(ir.Store(self.slot, dst, lo, 8))
                continue
            v = lw.vreg(fname)
            lw.emit(ir.Load(v, src, f.wire_off, f.wire_size))
            if f.swap:
                lw.emit(ir.ToBe(v, v, 8 * f.wire_size))
            lw.emit(ir.Store(self.slot, dst, v, f.type.size))
        self._mark(name)

    def _pkt(self, ctx: CtxLayout) -> None:
        lw = self.lw
        layout = self.layout["pkt"]
        base = self.base["pkt"]
        if "len" in self.used["pkt"]:
            n = lw.vreg("len")
            if ctx.length is not None:
                lw.emit(ir.Load(n, lw.ctx, ctx.length, 4))
            else:
                data, end = lw.vreg("data"), lw.vreg("data_end")
                lw.emit(ir.Load(data, lw.ctx, ctx.data, 4))
                lw.emit(ir.Load(end, lw.ctx, ctx.data_end, 4))
                lw.emit(ir.Alu(AluOp.SUB, n, end, data))
            lw.emit(ir.Store(self.slot, base + layout.field("len").offset, n, 4))
        if "ifindex" in self.used["pkt"]:
            i = lw.vreg("ifindex")
            lw.emit(ir.Load(i, lw.ctx, ctx.ifindex, 4))
            lw.emit(ir.Store(self.slot, base + layout.field("ifindex").offset, i, 4))

    def _eth(self, data: ir.VReg, proto: ir.VReg) -> None:
        lw = self.lw
        fields = self.used["eth"]
        wire = {f for f in fields if f != "proto"}
        self.used["eth"] = wire
        self._copy("eth", data)                            # dst/src as they are
        self.used["eth"] = fields
        if "proto" in fields:                              # the type after VLAN tags
            v = lw.vreg("proto")
            lw.emit(ir.ToBe(v, proto, 16))
            off = self.base["eth"] + self.layout["eth"].field("proto").offset
            lw.emit(ir.Store(self.slot, off, v, 2))

    def _ipv4(self, nh, end, done, l4, l4proto, l4_parse) -> None:
        lw = self.lw
        self._bounded(nh, IPV4_MIN_HLEN, end, done)
        if "ip" in self.used:
            self._copy("ip", nh)
        if not self._wants(*L4):
            lw.jump(done)
            return
        frag = lw.vreg("frag")
        lw.emit(ir.Load(frag, nh, 6, 2))
        lw.emit(ir.ToBe(frag, frag, 16))
        lw.emit(ir.Alu(AluOp.AND, frag, frag, IP_FRAG_OFFSET_MASK))
        lw.emit(ir.Branch(JmpOp.JNE, frag, 0, done))       # a later fragment: no L4
        ihl = lw.vreg("ihl")
        lw.emit(ir.Load(ihl, nh, 0, 1))
        lw.emit(ir.Alu(AluOp.AND, ihl, ihl, 0x0F))
        lw.emit(ir.Alu(AluOp.LSH, ihl, ihl, 2))
        lw.emit(ir.Branch(JmpOp.JLT, ihl, IPV4_MIN_HLEN, done))
        lw.emit(ir.Load(l4proto, nh, 9, 1))
        lw.emit(ir.Alu(AluOp.ADD, l4, nh, ihl))
        lw.jump(l4_parse)

    def _ipv6(self, nh, end, done, l4, l4proto, l4_parse) -> None:
        lw = self.lw
        after = self._bounded(nh, IPV6_HLEN, end, done)
        if "ip6" in self.used:
            self._copy("ip6", nh)
        if not self._wants(*L4):
            lw.jump(done)
            return
        lw.emit(ir.Load(l4proto, nh, 6, 1))
        lw.emit(ir.Mov(l4, after))
        lw.jump(l4_parse)

    def _l4(self, l4, l4proto, end, done) -> None:
        lw = self.lw
        for name, protos in (("tcp", (IPPROTO_TCP,)), ("udp", (IPPROTO_UDP,)),
                             ("icmp", (IPPROTO_ICMP, IPPROTO_ICMPV6))):
            if name not in self.used:
                continue
            other = lw.label("not_" + name)
            match = lw.label(name)
            for p in protos[:-1]:
                lw.emit(ir.Branch(JmpOp.JEQ, l4proto, p, match))
            lw.emit(ir.Branch(JmpOp.JNE, l4proto, protos[-1], other))
            lw.place(match)
            self._bounded(l4, L4_MIN[name], end, done)
            self._copy(name, l4)
            lw.jump(done)
            lw.place(other)
