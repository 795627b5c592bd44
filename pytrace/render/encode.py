"""Python values to map bytes: the reverse of ``decode`` for what a person
writes into a live map (``.set @blocked[80] = 1`` in the REPL).

Keys and values take the layout the compiled programs use: integers in
their map type's size (64-bit for stored values), strings NUL-padded to
their buffer, tuples at their members' offsets. Of the aggregations only
count() and sum() maps can be written (the value goes to the first CPU's
slot, the others are zeroed, so the map reads back as exactly that value).
"""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
from ..base.diagnostics import CompileError, UsageError
from ..lang.program import MapSpec
from ..lang.types import Agg, AggKind, Inet6, Int, LpmKey, Ptr, Special, Str, Tuple, Type


def encode(type: Type, value, what: str = "value") -> bytes:
    """``value`` laid out as ``type``; UsageError when it does not fit."""
    if isinstance(type, (Int, Ptr, Special)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError(f"the {what} must be an integer, not {_words(value)}")
        size = type.size
        signed = isinstance(type, Int) and type.signed
        low, high = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed \
            else (-(1 << (8 * size - 1)), (1 << (8 * size)) - 1)
        if not low <= value <= high:
            raise UsageError(f"the {what} {value} does not fit {type}")
        return (value & ((1 << (8 * size)) - 1)).to_bytes(size, BYTE_ORDER)
    if isinstance(type, (Inet6, LpmKey)):               # network keys: addresses as text
        return _network(type, value, what)
    if isinstance(type, Str):
        if not isinstance(value, str):
            raise UsageError(f"the {what} must be a string, not {_words(value)}")
        raw = value.encode("utf-8", "surrogateescape")
        if len(raw) >= type.cap:
            raise UsageError(f"the {what} \"{value}\" is longer than the map's "
                             f"{type.cap - 1}-byte strings")
        return raw + bytes(type.cap - len(raw))
    if isinstance(type, Tuple):
        if not isinstance(value, tuple) or len(value) != len(type.elems):
            raise UsageError(f"the {what} must be a tuple of {len(type.elems)}: {type}")
        out = bytearray(type.size)
        for t, v, off in zip(type.elems, value, type.offsets):
            part = encode(t, v, what)
            out[off:off + len(part)] = part
        return bytes(out)
    raise UsageError(f"pytrace cannot write a {what} of type {type} from here")


def _network(type: Type, value, what: str) -> bytes:
    """An IPv6 address ("fe80::1") or an lpm() key: its exact integers, then
    "address/prefix" (a tuple; the address alone when there are none)."""
    from ..base.netaddr import AddressError, lpm_key_bytes, parse_address
    parts = value if isinstance(value, tuple) else (value,)
    exact = type.exact if isinstance(type, LpmKey) else 0
    if len(parts) != exact + 1 or not isinstance(parts[-1], str) or \
            not all(isinstance(p, int) for p in parts[:-1]):
        want = "integer, " * exact + '"address/prefix"'
        raise UsageError(f"the {what} must be {'(' + want + ')' if exact else want}, "
                         f"not {_words(value)}")
    try:
        addr, prefix = parse_address(parts[-1])
    except AddressError as err:
        raise UsageError(str(err)) from None
    size = type.addr if isinstance(type, LpmKey) else 16
    if len(addr) != size:
        raise UsageError(f"the {what} needs an IPv{4 if size == 4 else 6} address, "
                         f"not {parts[-1]}")
    if isinstance(type, Inet6):
        return addr
    return lpm_key_bytes(list(parts[:-1]), addr, prefix)


def encode_key(spec: MapSpec, key) -> bytes:
    """The key bytes of ``spec`` for ``key`` (None: the scalar map's key 0)."""
    if spec.is_hist:
        raise UsageError(f"{spec.name} is a histogram; its buckets cannot be written")
    if spec.key is None:
        if key is not None:
            raise UsageError(f"{spec.name} has no keys: write {spec.name} = value")
        return bytes(spec.key_size)
    if key is None:
        raise UsageError(f"{spec.name} has keys: write {spec.name}[key] = value")
    if isinstance(spec.key, Tuple) and not isinstance(key, tuple):
        raise UsageError(f"{spec.name} is keyed by {spec.key}: give {len(spec.key.elems)} keys")
    raw = encode(spec.key, key, "key")
    return raw + bytes(spec.key_size - len(raw))


def encode_value(spec: MapSpec, value, ncpus: int = 1) -> bytes | list[bytes]:
    """The value bytes (one per CPU for an aggregation's per-CPU map)."""
    t = spec.value
    if isinstance(t, Agg):
        if t.kind not in (AggKind.COUNT, AggKind.SUM):
            raise UsageError(f"{spec.name} holds {t.kind.value}() values, which cannot be "
                             "written; only count() and sum() maps can")
        first = encode(Int(64, True), value)
        return [first] + [bytes(spec.value_size)] * (ncpus - 1)
    raw = encode(t, value)
    return raw + bytes(spec.value_size - len(raw))


def _words(value) -> str:
    if isinstance(value, str):
        return f"the string \"{value}\""
    if isinstance(value, tuple):
        return "a tuple"
    return str(value)


# ---------------------------------------------------------------- entries as typed

SET_USAGE = "write .set @map[key] = value, or .set @map = value (numbers, strings, tuples)"
DELETE_USAGE = "write .delete @map[key]"


def parse_assignment(text: str):
    """``@m[k1, k2] = v`` -> ("@m", key, value); key None for a scalar map,
    a tuple for several keys."""
    from ..lang import ast as A
    stmt = _statement(text, SET_USAGE)
    if not isinstance(stmt, A.AssignMap):
        raise UsageError(SET_USAGE)
    return stmt.target.name, _key(stmt.target, SET_USAGE), _literal(stmt.value, SET_USAGE)


def parse_map_key(text: str):
    """``@m[k]`` -> ("@m", key)."""
    from ..lang import ast as A
    stmt = _statement(f"delete({text})", DELETE_USAGE)
    call = getattr(stmt, "expr", None)
    if not isinstance(call, A.Call) or len(call.args) != 1 or \
            not isinstance(call.args[0], A.MapRef):
        raise UsageError(DELETE_USAGE)
    return call.args[0].name, _key(call.args[0], DELETE_USAGE)


def _statement(text: str, usage: str):
    from ..lang.parser import parse
    if not text.strip():
        raise UsageError(usage)
    try:
        program = parse("BEGIN { " + text + " }", "<command>")
    except CompileError:
        raise UsageError(usage) from None
    stmts = program.probes[0].body.stmts if len(program.probes) == 1 else ()
    if len(stmts) != 1:
        raise UsageError(usage)
    return stmts[0]


def _key(ref, usage: str):
    if not ref.keys:
        return None
    values = tuple(_literal(k, usage) for k in ref.keys)
    return values[0] if len(values) == 1 else values


def _literal(e, usage: str):
    from ..lang import ast as A
    if isinstance(e, (A.IntLit, A.StrLit)):
        return e.value
    if isinstance(e, A.Unary) and e.op in "-+" and isinstance(e.operand, A.IntLit):
        return -e.operand.value if e.op == "-" else e.operand.value
    if isinstance(e, A.TupleExpr):
        return tuple(_literal(x, usage) for x in e.elems)
    if isinstance(e, A.Call) and e.name == "lpm" and e.args:     # as the script writes it
        parts = tuple(_literal(x, usage) for x in e.args)
        return parts if len(parts) > 1 else parts[0]
    raise UsageError(f"{usage}: '{e.loc.text()}' is not a number, string or tuple")
