"""Builtins that convert values: ``bswap()`` (byte order) and ``pton()``
(address text to its bytes, as bpftrace: ``int8[4]`` or ``int8[16]``,
printed as an array and accepted by ``ntop()``)."""
from __future__ import annotations

from ...base.arch import BYTE_ORDER
from .. import ast as A
from .. import ir
from ..types import ByteArray, Int
from . import FnKind, Function

INT8 = Int(8, True)


def _check_bswap(ck, e: A.Call):
    if not ck.expect_args(e, 1):
        return Int(64, False)
    t = ck.expect_int(e.args[0], "bswap()'s argument")
    return Int(t.bits, t.signed) if isinstance(t, Int) else Int(64, False)


def _lower_bswap(lw, e: A.Call):
    """bpftrace swaps the bytes of the argument's own width (a uint32 as 4
    bytes, an int64 literal as 8). BPF's "to big-endian" is that swap on a
    little-endian machine."""
    t: Int = lw.type_of(e)
    v = lw.convert(lw.int_value(e.args[0]), Int(t.bits, False))
    if t.bits == 8:
        return v
    if isinstance(v, int):
        swapped = int.from_bytes((v & ((1 << t.bits) - 1)).to_bytes(t.bits // 8, "little"),
                                 "big")
        return lw.convert(swapped, t)
    out = lw.vreg("bswap")
    lw.emit(ir.ToBe(out, lw.reg_of(v), t.bits, swap=True))
    return lw.convert(out, t) if t.signed else out


def pton_bytes(text: str) -> bytes | None:
    """The address ``text`` (IPv4 dotted quad or IPv6) in network order."""
    import ipaddress
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


def _check_pton(ck, e: A.Call):
    if not ck.expect_args(e, 1):
        return ByteArray(INT8, 4)
    arg = e.args[0]
    ck.expr(arg)
    if not isinstance(arg, A.StrLit):
        ck.error('pton() takes an address as a string literal, e.g. pton("127.0.0.1") '
                 'or pton("::1")', arg.loc)
        return ByteArray(INT8, 4)
    raw = pton_bytes(arg.value)
    if raw is None:
        ck.error(f"pton(): '{arg.value}' is neither an IPv4 nor an IPv6 address", arg.loc,
                 'write a.b.c.d (IPv4) or an IPv6 address such as "fe80::1"')
        return ByteArray(INT8, 4)
    return ByteArray(INT8, len(raw))


def _lower_pton(lw, e: A.Call):
    from ..values import Mem
    t: ByteArray = lw.type_of(e)
    raw = pton_bytes(e.args[0].value)
    buf = lw.buffer(t.size, "pton")
    for pos in range(0, len(raw), 4):
        word = int.from_bytes(raw[pos:pos + 4], BYTE_ORDER, signed=True)
        lw.emit(ir.Store(buf.base, buf.off + pos, word, 4))
    return Mem(buf.base, buf.off, t)


def _check_cgroup_path(ck, e: A.Call):
    from ..types import Formatted, Special
    if ck.expect_args(e, 1):
        ck.expect_int(e.args[0], "cgroup_path()'s cgroup id (such as cgroup)")
    return Special(Formatted.CGROUP_PATH)


def _lower_cgroup_path(lw, e: A.Call):
    return lw.int_value(e.args[0])          # userspace finds the path


FUNCTIONS = (
    Function("bswap", "bswap(int)", "the integer with its bytes in reverse order "
             "(as wide as its type)", FnKind.EXPR, _check_bswap, _lower_bswap),
    Function("pton", 'pton("addr")', "an IPv4/IPv6 address literal as its bytes "
             "(int8[4] or int8[16], for ntop() and comparisons)",
             FnKind.EXPR, _check_pton, _lower_pton),
    Function("cgroup_path", "cgroup_path(id)",
             "a cgroup id (cgroup) as its path in each mounted cgroup hierarchy, "
             "unified:/a/b,cpu:/a,…", FnKind.EXPR, _check_cgroup_path, _lower_cgroup_path),
)
