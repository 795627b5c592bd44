"""Builtin functions other than aggregations: output, control, strings, maps."""
from __future__ import annotations

from ...base.arch import BYTE_ORDER
from ...bpf.insn import AluOp, Helper, JmpOp
from ...base.diagnostics import Loc
from .. import ast as A
from .. import ir
from ..params import const_value, param_text
from ..printf import ArgKind, FormatError, parse_format
from ..program import EventKind
from ..types import (BOOL, INT64, UINT64, AddrSpace, Agg, Buffer, CEnum, Formatted, Inet6, Int, Ptr,
                     Special, Stack, Str, Tuple, Void)
from . import FnKind, Function

VOID = Void()


# -- printf -------------------------------------------------------------------

def _fmt_loc(lit: A.StrLit, offset: int, length: int) -> Loc:
    """The source span of characters ``offset``.. of a literal's value
    (exact when the literal has no escapes before them)."""
    loc = lit.loc
    col = loc.col + 1 + offset
    return Loc(loc.source, loc.line, col, loc.line, col + length)


def _check_printf(ck, e: A.Call):
    if not e.args or not isinstance(e.args[0], A.StrLit):
        ck.error("printf() needs a format string literal first", e.loc,
                 'e.g. printf("%s %d\\n", comm, pid)')
        for a in e.args[1:]:
            ck.expr(a)
        return VOID
    fmt = e.args[0]
    ck.expr(fmt)
    args = e.args[1:]
    types = [ck.expr(a) for a in args]
    try:
        specs = [s for s in parse_format(fmt.value) if not isinstance(s, str)]
    except FormatError as err:
        ck.error(f"printf: {err}", _fmt_loc(fmt, err.offset, err.length))
        return VOID
    if len(args) > ck.limits.max_printf_args:
        ck.error(f"printf() takes at most {ck.limits.max_printf_args} arguments", e.loc,
                 "raise the limit with config = { max_printf_args = N }")
    if len(specs) != len(args):
        want = len(specs)
        ck.error(f"printf: the format has {want} conversion{'s' if want != 1 else ''} but "
                 f"{len(args)} argument{'s were' if len(args) != 1 else ' was'} given",
                 e.loc, "give one argument per %-conversion (write %% for a literal %)")
        return VOID
    from ..semantics import describe, is_int
    for spec, a, t in zip(specs, args, types):
        wants_str = spec.arg_kind is ArgKind.STRING
        if spec.arg_kind is ArgKind.BUFFER:
            if not isinstance(t, Buffer):
                ck.error(f"printf: {spec.text} prints a buffer made by buf(), but this is "
                         f"{describe(t)}", a.loc, "write buf(ptr, length)")
        elif wants_str and not (isinstance(t, (Str, Special, Stack, CEnum)) or
                              (isinstance(t, Tuple))):
            ck.error(f"printf: {spec.text} needs a string, but this is {describe(t)}", a.loc,
                     "use %d for integers, or str(ptr) to read a string from a pointer"
                     if is_int(t) else None)
        elif not wants_str and not is_int(t):
            ck.error(f"printf: {spec.text} needs an integer, but this is {describe(t)}", a.loc,
                     "use %s for strings" if isinstance(t, Str) else None)
        elif isinstance(t, Agg) and not t.is_integer:
            ck.error("printf: a histogram cannot be printed with printf", a.loc,
                     "print it with print()")
    return VOID


def _arg_types(lw, args) -> Tuple:
    from ..semantics import storable
    return Tuple(tuple(storable(lw.type_of(a)) for a in args))


def _lower_printf(lw, e: A.Call):
    args = e.args[1:]
    spec = lw.res.event(EventKind.PRINTF, e.args[0].value, _arg_types(lw, args), loc=e.loc)
    _send_args(lw, spec, args)


def _send_args(lw, spec, args):
    def fill(mem):
        t: Tuple = spec.args
        for a, off, et in zip(args, t.offsets, t.elems):
            lw.into(a, mem.at(off, et))
    lw.send(spec, fill)


# -- print, time, exit, clear, zero, delete ----------------------------------------

def _check_print(ck, e: A.Call):
    if not ck.expect_args(e, 1, 3):
        return VOID
    first = e.args[0]
    if isinstance(first, A.MapRef) and not first.keys:
        ck.map_info(first)       # records the use; the map must be assigned somewhere
        for extra in e.args[1:]:
            if ck.const_int(extra) is None:
                ck.error("print(@map, top, div): top and div must be constant integers",
                         extra.loc)
            ck.expr(extra)
        return VOID
    if len(e.args) > 1:
        ck.error("print(value) takes one argument; top and div are for maps", e.args[1].loc)
    t = ck.expr(first)
    if isinstance(t, Void):
        ck.error("this has no value to print", first.loc)
    return VOID


def _lower_print(lw, e: A.Call):
    first = e.args[0]
    if isinstance(first, A.MapRef) and not first.keys:
        top = lw_const(lw, e.args[1]) if len(e.args) > 1 else 0
        div = lw_const(lw, e.args[2]) if len(e.args) > 2 else 1
        spec = lw.res.event(EventKind.PRINT_MAP, map=first.name, args=Tuple((UINT64, UINT64)),
                            loc=e.loc)
        lw.send(spec, lambda mem: (lw.store(mem, top), lw.store(mem.at(8, UINT64), div)))
        return None
    spec = lw.res.event(EventKind.PRINT_VALUE, args=_arg_types(lw, [first]), loc=e.loc)
    _send_args(lw, spec, [first])
    return None


def lw_const(lw, e) -> int:
    return const_value(e, lw.params) or 0


def _check_time(ck, e: A.Call):
    if not ck.expect_args(e, 0, 1):
        return VOID
    if e.args and not isinstance(e.args[0], A.StrLit):
        ck.error("time() takes a strftime format string literal", e.args[0].loc)
    return VOID


def _lower_time(lw, e: A.Call):
    fmt = e.args[0].value if e.args else "%H:%M:%S\n"
    lw.send(lw.res.event(EventKind.TIME, fmt=fmt, loc=e.loc), lambda mem: None)


def _check_strftime(ck, e: A.Call):
    if not ck.expect_args(e, 2, 2):
        return Special(Formatted.TIMESTAMP)
    fmt = e.args[0]
    if not isinstance(fmt, A.StrLit):
        ck.expr(fmt)
        ck.error("strftime() takes a strftime format string literal first, "
                 'e.g. strftime("%H:%M:%S", nsecs)', fmt.loc)
    ck.expect_int(e.args[1], "strftime()'s time (nanoseconds since boot)")
    return Special(Formatted.TIMESTAMP, fmt.value if isinstance(fmt, A.StrLit) else "")


def _lower_strftime(lw, e: A.Call):
    return lw.int_value(e.args[1])        # the format travels in the type


def _check_exit(ck, e: A.Call):
    if ck.expect_args(e, 0, 1) and e.args:
        ck.expect_int(e.args[0], "the exit code")
        code = ck.const_int(e.args[0])
        if code is not None and not 0 <= code <= 255:
            ck.error(f"exit code {code} is out of range: an exit status is 0 to 255",
                     e.args[0].loc)
    return VOID


def _lower_exit(lw, e: A.Call):
    code = lw.int_value(e.args[0]) if e.args else 0
    spec = lw.res.event(EventKind.EXIT, args=Tuple((INT64,)), loc=e.loc)
    lw.send(spec, lambda mem: lw.store(mem, code))
    lw.jump(lw.exit_label)


def _map_op(kind: EventKind):
    def check(ck, e: A.Call):
        if ck.expect_args(e, 1):
            ref = ck.expect_map(e.args[0], f"{e.name}()'s argument")
            if ref is not None:
                if ref.keys:
                    ck.error(f"{e.name}() takes a whole map, without keys", ref.loc,
                             "to remove one key use delete(@map[key])"
                             if e.name == "clear" else None)
                ck.map_info(ref)
        return VOID

    def lower(lw, e: A.Call):
        ref = e.args[0]
        lw.send(lw.res.event(kind, map=ref.name, loc=e.loc), lambda mem: None)
    return check, lower


def _check_delete(ck, e: A.Call):
    if not ck.expect_args(e, 1, 2):
        return VOID
    ref = ck.expect_map(e.args[0], "delete()'s argument")
    if ref is None:
        return VOID
    if len(e.args) == 2:               # delete(@m, key): bpftrace 0.21's form
        ref = A.MapRef(ref.name, (e.args[1],), ref.loc)
        ck.typing.types[id(e)] = VOID
    info = ck.map_info(ref)
    ck.map_keys(info, ref)
    return VOID


def _delete_ref(e: A.Call) -> A.MapRef:
    ref = e.args[0]
    if len(e.args) == 2:
        return A.MapRef(ref.name, (e.args[1],), ref.loc)
    return ref


def _lower_delete(lw, e: A.Call):
    ref = _delete_ref(e)
    key = lw.key(ref)
    lw.call(Helper.map_delete_elem, ir.MapFd(ref.name), key, result=False)


def _check_has_key(ck, e: A.Call):
    if ck.expect_args(e, 2, 9):
        ref = ck.expect_map(e.args[0], "has_key()'s first argument")
        if ref is not None:
            full = A.MapRef(ref.name, tuple(e.args[1:]), ref.loc)
            info = ck.map_info(full)
            ck.map_keys(info, full)
            ck.typing.types.update({id(full): BOOL})
    return BOOL


def _lower_has_key(lw, e: A.Call):
    ref = e.args[0]
    full = A.MapRef(ref.name, tuple(e.args[1:]), ref.loc)
    p = lw.lookup(ref.name, lw.key(full))
    found = lw.vreg("found")
    done = lw.label("has_key")
    lw.emit(ir.Mov(found, 0))
    lw.branch(JmpOp.JEQ, p, 0, done)
    lw.emit(ir.Mov(found, 1))
    lw.place(done)
    return found


def _check_len(ck, e: A.Call):
    if ck.expect_args(e, 1):
        ref = ck.expect_map(e.args[0], "len()'s argument")
        if ref is not None:
            if ref.keys:
                ck.error("len() counts a whole map's keys; give the map without keys", ref.loc)
            ck.map_info(ref)
            from ..kernelinfo import Feature
            if not ck.kernel.has(Feature.BOUNDED_LOOPS):
                ck.error("len() needs bpf_for_each_map_elem (Linux 5.13)", e.loc)
    return INT64


def _lower_len(lw, e: A.Call):
    """bpf_for_each_map_elem returns how many elements its callback saw; the
    callback does nothing but say "continue"."""
    def make(name: str) -> ir.Function:
        cb = ir.Function(name)
        cb.ops.append(ir.Return(0, loc=e.loc))
        return cb
    name = lw.callback("visit", make)
    return lw.call(Helper.for_each_map_elem, ir.MapFd(e.args[0].name), ir.FuncAddr(name), 0, 0)


# -- strings ---------------------------------------------------------------------

def _check_str(ck, e: A.Call):
    if not ck.expect_args(e, 1, 2):
        return Str(ck.limits.max_strlen)
    if isinstance(e.args[0], A.Positional):          # str($1): the text as given
        ck.expr(e.args[0])
        return Str(len(param_text(ck.params, e.args[0].index).encode()) + 1)
    t = ck.expr(e.args[0])
    cap = ck.limits.max_strlen
    if len(e.args) == 2:
        ck.expect_int(e.args[1], "str()'s length")
        n = ck.const_int(e.args[1])
        if n is not None:
            if n <= 0:
                ck.error("str()'s length must be positive", e.args[1].loc)
            cap = max(1, min(n + 1 if n < cap else cap, cap))
    if isinstance(t, Str):
        return Str(min(t.cap, cap))
    from ..semantics import describe, is_int
    if not is_int(t):
        ck.error(f"str() reads a string from a pointer; this is {describe(t)}", e.args[0].loc)
    return Str(cap)


def _lower_str(lw, e: A.Call):
    from ..values import ExtStr, Mem
    if isinstance(e.args[0], A.Positional):
        return lw.str_const(param_text(lw.params, e.args[0].index), e)
    t = lw.type_of(e)
    arg_t = lw.type_of(e.args[0])
    v = lw.value(e.args[0])
    if isinstance(v, (Mem, ExtStr)):
        return v
    space = arg_t.space if isinstance(arg_t, Ptr) else (
        AddrSpace.USER if lw.ctx_info.user_pointers else AddrSpace.UNKNOWN)
    return ExtStr(v, space, t.cap)


def _space_cast(space: AddrSpace):
    def check(ck, e: A.Call):
        if ck.expect_args(e, 1):
            t = ck.expect_int(e.args[0], f"{e.name}()'s argument")
            target = t.target if isinstance(t, Ptr) else Int(8, True)
            return Ptr(target, space)
        return Ptr(Int(8, True), space)

    def lower(lw, e: A.Call):
        return lw.int_value(e.args[0])
    return check, lower


def _check_strncmp(ck, e: A.Call):
    if ck.expect_args(e, 3):
        for a in e.args[:2]:
            t = ck.expr(a)
            if not isinstance(t, Str):
                from ..semantics import describe
                ck.error(f"strncmp() compares strings, not {describe(t)}", a.loc)
        if ck.const_int(e.args[2]) is None:
            ck.error("strncmp()'s length must be a constant integer", e.args[2].loc)
        ck.expr(e.args[2])
    return INT64


def _lower_strncmp(lw, e: A.Call):
    n = lw_const(lw, e.args[2])
    eq = _str_equal(lw, e.args[0], e.args[1], n)
    return lw.alu(AluOp.XOR, eq, 1)         # 0 when equal, like strncmp


def lower_str_equal(lw, left: A.Expr, right: A.Expr):
    """1 when two strings are equal (up to their NULs), else 0."""
    return _str_equal(lw, left, right, None)


def _as_mem(lw, e: A.Expr, cap: int | None = None):
    """The string ``e`` in program memory; one read from outside memory
    keeps at most ``cap`` bytes (a buffer that fits the stack)."""
    from ..values import ExtStr, Mem
    v = lw.value(e)
    if isinstance(v, ExtStr):
        t = lw.type_of(e)
        if cap is not None and cap < t.size:
            t = Str(cap)
        buf = lw.buffer(t.size, "str")
        mem = Mem(buf.base, buf.off, t)
        lw.read_str(v, mem, full=False)
        return mem
    return v


def _str_equal(lw, left: A.Expr, right: A.Expr, limit: int | None):
    if isinstance(left, A.StrLit) and not isinstance(right, A.StrLit):
        left, right = right, left
    result = lw.vreg("streq")
    false, equal = lw.label("ne"), lw.label("eq")
    lw.emit(ir.Mov(result, 0))
    if isinstance(right, A.StrLit):
        data = right.value.encode("utf-8", "surrogateescape") + b"\0"
        if limit is not None:
            data = data[:limit]
        # a string read for this comparison needs only the literal's bytes and
        # one more: a longer string then differs where the literal has its NUL
        mem = _as_mem(lw, left, cap=len(data) + 1)
        if len(data) > mem.type.size:
            return result          # cannot be equal: the buffer is too short
        _compare_bytes(lw, mem, data, false)
    else:
        a, b = _as_mem(lw, left), _as_mem(lw, right)
        n = min(a.type.size, b.type.size)
        if limit is not None:
            n = min(n, limit)
        # IPv6 addresses are 16 bytes, zeros included: no NUL ends them
        binary = isinstance(a.type, Inet6) or isinstance(b.type, Inet6)
        for i in range(n):
            x = lw.load(a.at(i, UINT64), 1)
            y = lw.load(b.at(i, UINT64), 1)
            lw.branch(JmpOp.JNE, x, y, false)
            if i + 1 < n and not binary:
                lw.branch(JmpOp.JEQ, x, 0, equal)
    lw.place(equal)
    lw.emit(ir.Mov(result, 1))
    lw.place(false)
    return result


def _compare_bytes(lw, mem, data: bytes, false) -> None:
    pos = 0
    while pos < len(data):
        left = len(data) - pos
        size = 4 if left >= 4 else (2 if left >= 2 else 1)
        v = lw.load(mem.at(pos, UINT64), size)
        want = int.from_bytes(data[pos:pos + size], BYTE_ORDER)
        lw.branch(JmpOp.JNE, v, want if want < (1 << 31) else lw.reg_of(want), false)
        pos += size


# -- the registry entries ----------------------------------------------------------

_clear = _map_op(EventKind.CLEAR_MAP)
_zero = _map_op(EventKind.ZERO_MAP)
_kptr = _space_cast(AddrSpace.KERNEL)
_uptr = _space_cast(AddrSpace.USER)

FUNCTIONS = (
    Function("printf", 'printf(fmt, ...)', "print formatted text (C printf conversions)",
             FnKind.STMT, _check_printf, _lower_printf),
    Function("print", "print(@map[, top[, div]]) | print(value)",
             "print a map (optionally its top N entries, values divided by div) or a value",
             FnKind.STMT, _check_print, _lower_print),
    Function("time", 'time([fmt])', "print the current time (strftime format)",
             FnKind.STMT, _check_time, _lower_time),
    Function("strftime", "strftime(fmt, nsecs)",
             "a boot-based time (nsecs) as wall-clock local time, printed with strftime "
             "conversions (%f: microseconds)", FnKind.EXPR, _check_strftime, _lower_strftime),
    Function("exit", "exit([code])", "stop tracing, print the maps and exit",
             FnKind.STMT, _check_exit, _lower_exit),
    Function("clear", "clear(@map)", "delete every key of a map", FnKind.STMT, *_clear),
    Function("zero", "zero(@map)", "set every value of a map to zero", FnKind.STMT, *_zero),
    Function("delete", "delete(@map[key])", "delete one key of a map",
             FnKind.STMT, _check_delete, _lower_delete),
    Function("has_key", "has_key(@map, key)", "1 if the map has the key, else 0",
             FnKind.EXPR, _check_has_key, _lower_has_key),
    Function("len", "len(@map)", "the number of keys in a map",
             FnKind.EXPR, _check_len, _lower_len),
    Function("str", "str(ptr[, length])", "read a NUL-terminated string from memory",
             FnKind.EXPR, _check_str, _lower_str),
    Function("strncmp", "strncmp(s1, s2, n)", "0 if the first n bytes of two strings match",
             FnKind.EXPR, _check_strncmp, _lower_strncmp),
    Function("kptr", "kptr(ptr)", "treat a pointer as a kernel address", FnKind.EXPR, *_kptr),
    Function("uptr", "uptr(ptr)", "treat a pointer as a user-space address", FnKind.EXPR,
             *_uptr),
)
