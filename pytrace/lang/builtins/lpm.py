"""Longest-prefix-match maps and maps filled from files.

A map whose key is ``lpm(EXACT…, ADDRESS)`` is a BPF LPM trie (Linux 4.11):
a lookup finds the entry with the longest prefix that matches. Exact parts
(ports, protocols: any integers) come first and must match whole; the
address last, an IPv4 integer (``ip.saddr``), an IPv6 address
(``ip6.saddr``) or a literal with a prefix length::

    BEGIN { @rules[lpm(22, "10.0.0.0/8")] = 1; }           // port 22 from 10/8
    xdp:eth0 { if (@rules[lpm(tcp.dport, ip.saddr)] == 1) { drop; } }

``load(@map, "file")`` fills a map from a text file when the probe runs
(from BEGIN: before any other probe is attached): one entry a line, the
key's parts then the value, separated by spaces or commas; ``#`` starts a
comment. The file is read by pytrace, not by the kernel (``mapedit``).
"""
from __future__ import annotations

from ...base.arch import BYTE_ORDER
from ...bpf.insn import AluOp
from .. import ast as A
from .. import ir
from ..program import EventKind
from ..types import INT64, Inet6, LpmKey, Void
from . import FnKind, Function

VOID = Void()
USAGE_HINT = 'write lpm(port, ip.saddr) or lpm(22, "10.0.0.0/8"): exact parts, then an address'


def _literal_text(e: A.Expr, params: list[str]) -> str | None:
    """The text of a string literal or a positional parameter ("" when that
    parameter is not given), else None."""
    if isinstance(e, A.StrLit):
        return e.value
    if isinstance(e, A.Positional):
        return params[e.index - 1] if 1 <= e.index <= len(params) else ""
    return None


def _literal_address(e: A.Expr, params: list[str]):
    """(bytes, prefix) of an address literal; None when ``e`` is no literal.
    Raises AddressError for a literal that is not an address."""
    from ...base.netaddr import parse_address
    text = _literal_text(e, params)
    if not text or (isinstance(e, A.Positional) and text.lstrip("-").isdigit()):
        return None
    return parse_address(text)


def _check_lpm(ck, e: A.Call):
    from ...base.netaddr import AddressError
    from ..semantics import describe, is_int
    if not e.args:
        ck.error("lpm() needs at least an address", e.loc, USAGE_HINT)
        return LpmKey(0, 4)
    for a in e.args[:-1]:
        ck.expect_int(a, "lpm()'s exact parts (before the address)")
    addr = e.args[-1]
    ck.expr(addr)
    try:
        literal = _literal_address(addr, ck.params)
    except AddressError as err:
        ck.error(str(err), addr.loc, USAGE_HINT)
        return LpmKey(len(e.args) - 1, 4)
    if literal is not None:
        return LpmKey(len(e.args) - 1, len(literal[0]))
    t = ck.typing.types.get(id(addr))
    if isinstance(t, Inet6):
        return LpmKey(len(e.args) - 1, 16)
    if not is_int(t):
        ck.error(f"lpm()'s last argument is the address, an IPv4 integer, an IPv6 address or "
                 f'"a.b.c.d/N", not {describe(t)}', addr.loc, USAGE_HINT)
    return LpmKey(len(e.args) - 1, 4)


def _lower_lpm(lw, e: A.Call):
    from ..values import Mem
    t: LpmKey = lw.type_of(e)
    buf = lw.buffer(t.size, "lpm")
    key = Mem(buf.base, buf.off, t)
    addr = e.args[-1]
    literal = _literal_address(addr, lw.params)
    prefix = 64 * t.exact + (literal[1] if literal else 8 * t.addr)
    lw.emit(ir.Store(key.base, key.off, prefix, 4))
    for i, part in enumerate(e.args[:-1]):               # exact parts: big-endian u64
        off = key.off + 4 + 8 * i
        v = lw.int_value(part)
        if isinstance(v, int):
            _store_bytes(lw, key.base, off, (v & (1 << 64) - 1).to_bytes(8, "big"))
            continue
        swapped = lw.vreg("be")
        lw.emit(ir.ToBe(swapped, lw.reg_of(v), 64))
        # at 4 + 8i: two aligned 4-byte halves (the stack allows no unaligned u64)
        # (the big-endian u64's first 4 bytes: its low half on a little-endian host)
        low_at = off if BYTE_ORDER == "little" else off + 4
        lw.emit(ir.Store(key.base, low_at, swapped, 4))
        lw.emit(ir.Store(key.base, 2 * off + 4 - low_at, lw.alu(AluOp.RSH, swapped, 32), 4))
    off = key.off + 4 + 8 * t.exact
    if literal is not None:
        from ...base.netaddr import lpm_key_bytes
        raw = lpm_key_bytes([], literal[0], literal[1])[4:]   # bits past the prefix cleared
        _store_bytes(lw, key.base, off, raw)
    elif t.addr == 16:                                   # at 4 + 8n: in 4-byte steps
        src = lw.value(addr)
        for pos in range(0, 16, 4):
            lw.emit(ir.Store(key.base, off + pos, lw.load(src.at(pos, Inet6()), 4), 4))
    else:
        lw.emit(ir.Store(key.base, off, lw.reg_of(lw.int_value(addr)), 4))
    return key


def _store_bytes(lw, base, off: int, data: bytes) -> None:
    for pos in range(0, len(data), 4):
        word = int.from_bytes(data[pos:pos + 4], BYTE_ORDER, signed=True)
        lw.emit(ir.Store(base, off + pos, word, 4))


# -- load(@map, file) -------------------------------------------------------------------

def _check_load(ck, e: A.Call):
    if not ck.expect_args(e, 2):
        return VOID
    ref = ck.expect_map(e.args[0], "load()'s first argument")
    path = _literal_text(e.args[1], ck.params)
    ck.expr(e.args[1])
    if path is None:
        ck.error("load()'s file must be a string literal or a parameter ($1)", e.args[1].loc)
    elif not path:
        ck.error("load() has no file name: the parameter is not given", e.args[1].loc,
                 "name the file after the script: pytrace SCRIPT FILE")
    if ref is None:
        return VOID
    if ref.keys:
        ck.error("load() fills a whole map: give it without keys", ref.loc)
        return VOID
    info = ck.map_info(ref)
    if ck.final and info.keyed is not True:
        ck.error(f"load() needs to know {ref.name}'s keys: use the map with keys somewhere "
                 f"in the script", ref.loc, "e.g. $v = @rules[lpm(tcp.dport, ip.saddr)]")
    ck.map_value(info, INT64, e.loc)                  # the file's values are integers
    return VOID


def _lower_load(lw, e: A.Call):
    path = _literal_text(e.args[1], lw.params)
    spec = lw.res.event(EventKind.LOAD_MAP, fmt=path, map=e.args[0].name, loc=e.loc)
    lw.send(spec, lambda mem: None)


FUNCTIONS = (
    Function("lpm", "lpm([exact, ...,] addr)",
             "a longest-prefix-match map key: exact integers, then an address "
             '(ip.saddr, ip6.saddr, "10.0.0.0/8")', FnKind.EXPR, _check_lpm, _lower_lpm),
    Function("load", 'load(@map, "file")',
             "fill a map from a text file: one 'key value' entry a line",
             FnKind.STMT, _check_load, _lower_load, userspace="mapfiles"),
)
