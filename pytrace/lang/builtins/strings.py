"""String builtins beyond str()/strncmp(): ``strcontains()``."""
from __future__ import annotations

from ...bpf.insn import AluOp, Helper, JmpOp
from .. import ast as A
from .. import ir
from ..program import EventKind
from ..types import BOOL, UINT64, AddrSpace, Buffer, Ptr, Str, Tuple, Void
from . import FnKind, Function

#: join() reads at most this many arguments (bpftrace's join_argnum)
JOIN_ARGS = 16

#: strcontains() unrolls its search: haystack bytes x needle bytes at most
MAX_SEARCH = 1 << 16


def _check_strcontains(ck, e: A.Call):
    from ..semantics import describe
    if not ck.expect_args(e, 2):
        return BOOL
    types = []
    for a, what in zip(e.args, ("haystack", "needle")):
        t = ck.expr(a)
        types.append(t)
        if not isinstance(t, Str):
            ck.error(f"strcontains()'s {what} must be a string, not {describe(t)}", a.loc,
                     "read a string from a pointer with str(ptr)")
            return BOOL
    hay, needle = types
    if not isinstance(e.args[1], A.StrLit) and hay.size * needle.size > MAX_SEARCH:
        ck.error(f"strcontains(): searching {hay.size} bytes for a {needle.size}-byte string "
                 f"unrolls to more than {MAX_SEARCH} comparisons", e.loc,
                 "bound them, e.g. str(ptr, 64), or search for a string literal")
    return BOOL


def _lower_strcontains(lw, e: A.Call):
    """1 when the needle occurs in the haystack (the empty needle always
    does), searched start by start up to the haystack's NUL; unrolled, so
    it needs no loop support from the verifier."""
    from .functions import _as_mem
    hay = _as_mem(lw, e.args[0])
    found, done = lw.label("contains"), lw.label("contains_end")
    result = lw.vreg("contains")
    lw.emit(ir.Mov(result, 0))
    n = hay.type.size
    if isinstance(e.args[1], A.StrLit):
        data = e.args[1].value.encode("utf-8", "surrogateescape")
        if not data:
            lw.jump(found)
        for start in range(n - len(data) + 1):
            miss = lw.label("miss")
            for k, byte in enumerate(data):
                c = lw.load(hay.at(start + k, UINT64), 1)
                if k == 0:
                    lw.branch(JmpOp.JEQ, c, 0, done)       # the haystack ended
                lw.branch(JmpOp.JNE, c, byte, miss)
            lw.jump(found)
            lw.place(miss)
        lw.jump(done)
    else:
        needle = _as_mem(lw, e.args[1])
        m = needle.type.size
        for start in range(n):
            miss = lw.label("miss")
            for k in range(min(m, n - start)):
                want = lw.load(needle.at(k, UINT64), 1)
                lw.branch(JmpOp.JEQ, want, 0, found)       # the whole needle matched
                c = lw.load(hay.at(start + k, UINT64), 1)
                lw.branch(JmpOp.JNE, c, want, miss)
            if m <= n - start:
                lw.jump(found)                              # needle of its full size
            else:
                want = lw.load(needle.at(n - start, UINT64), 1)
                lw.branch(JmpOp.JEQ, want, 0, found)
            lw.place(miss)
            first = lw.load(hay.at(start, UINT64), 1)
            lw.branch(JmpOp.JEQ, first, 0, done)
        lw.jump(done)
    lw.place(found)
    lw.emit(ir.Mov(result, 1))
    lw.place(done)
    return result


# -- join(argv[, sep]) -------------------------------------------------------------------

def _check_join(ck, e: A.Call):
    from ..semantics import describe, is_int
    if not ck.expect_args(e, 1, 2):
        return Void()
    t = ck.expr(e.args[0])
    if not is_int(t) or isinstance(t, Str):
        ck.error(f"join() takes an array of string pointers (char **, such as "
                 f"args->argv), not {describe(t)}", e.args[0].loc)
    if len(e.args) == 2:
        sep = e.args[1]
        ck.expr(sep)
        if not isinstance(sep, A.StrLit):
            ck.error('join()\'s separator must be a string literal, e.g. join(args->argv, ",")',
                     sep.loc)
    return Void()


def _join_args(lw) -> Tuple:
    size = min(lw.limits.max_strlen, 1024)
    return Tuple(tuple(Str(size) for _ in range(JOIN_ARGS)))


def _lower_join(lw, e: A.Call):
    """One record of 16 string slots: argv[0..15] read up to the first NULL
    pointer; an empty slot ends the list (userspace joins and prints it)."""
    from ..values import ExtStr
    sep = e.args[1].value if len(e.args) == 2 else " "
    args = _join_args(lw)
    t = lw.type_of(e.args[0])
    space = t.space if isinstance(t, Ptr) else (
        AddrSpace.USER if lw.ctx_info.user_pointers else AddrSpace.UNKNOWN)
    argv = lw.reg_of(lw.int_value(e.args[0]))
    spec = lw.res.event(EventKind.JOIN, sep, args, loc=e.loc)

    def fill(mem):
        end = lw.label("join_end")
        for off in args.offsets:
            lw.store(mem.at(off, UINT64), 0, 1)
        for i, (off, st) in enumerate(zip(args.offsets, args.elems)):
            ptr = lw.read_mem(lw.alu(AluOp.ADD, argv, 8 * i) if i else argv, UINT64, space)
            lw.branch(JmpOp.JEQ, ptr, 0, end)
            lw.read_str(ExtStr(ptr, space), mem.at(off, st), full=False)
        lw.place(end)
    lw.send(spec, fill)


# -- buf(ptr, len) ---------------------------------------------------------------------

def _check_buf(ck, e: A.Call):
    from ..semantics import describe, is_int
    cap = ck.limits.max_strlen
    if not ck.expect_args(e, 1, 2):
        return Buffer(cap + 1)
    t = ck.expr(e.args[0])
    if len(e.args) == 1:
        from ..types import Array
        if isinstance(t, Array) or isinstance(t, Str):
            return Buffer(min(t.size, cap) + 1)
        ck.error("buf(ptr) needs a length unless its argument is an array", e.args[0].loc,
                 "write buf(ptr, length)")
        return Buffer(cap + 1)
    if not is_int(t):
        ck.error(f"buf() reads bytes from a pointer; this is {describe(t)}", e.args[0].loc)
    ck.expect_int(e.args[1], "buf()'s length")
    n = ck.const_int(e.args[1])
    if n is not None:
        if n < 0:
            ck.error("buf()'s length must not be negative", e.args[1].loc)
            return Buffer(cap + 1)
        return Buffer(min(n, cap) + 1)
    return Buffer(cap + 1)


def _lower_buf(lw, e: A.Call):
    """The length byte, then the bytes read (a length past the buffer is
    cut to it, as bpftrace cuts it to max_strlen)."""
    from ...lang.kernelinfo import Feature
    from ..values import Mem
    t: Buffer = lw.type_of(e)
    room = t.cap - 1
    buf = lw.buffer(t.size, "buf")
    mem = Mem(buf.base, buf.off, t)
    if len(e.args) == 1:                        # an array in program memory
        src = lw.value(e.args[0])
        for i in range(room):
            lw.store(mem.at(1 + i, UINT64), lw.load(src.at(i, UINT64), 1), 1)
        lw.store(mem, room, 1)
        return mem
    arg_t = lw.type_of(e.args[0])
    space = arg_t.space if isinstance(arg_t, Ptr) else (
        AddrSpace.USER if lw.ctx_info.user_pointers else AddrSpace.UNKNOWN)
    ptr = lw.int_value(e.args[0])
    n = lw.int_value(e.args[1])
    if isinstance(n, int):
        n = max(0, min(n, room))
    else:
        clamp = lw.label("buf_len")
        size = lw.vreg("buf_len")
        lw.emit(ir.Mov(size, n))
        lw.branch(JmpOp.JLE, size, room, clamp)
        lw.emit(ir.Mov(size, room))
        lw.place(clamp)
        n = size
    lw.store(mem, n, 1)
    if not lw.kernel.has(Feature.PROBE_READ_USER):
        helper = Helper.probe_read
    elif space is AddrSpace.USER:
        helper = Helper.probe_read_user
    else:
        helper = Helper.probe_read_kernel
    lw.call(helper, lw.addr(mem.at(1, UINT64)), n, ptr, result=False)
    return mem


FUNCTIONS = (
    Function("strcontains", "strcontains(haystack, needle)",
             "1 if the string needle occurs in the string haystack, else 0",
             FnKind.EXPR, _check_strcontains, _lower_strcontains),
    Function("join", 'join(argv[, sep])',
             "print the strings of a NULL-terminated array (args->argv) joined by sep "
             '(" "), on a line of their own', FnKind.STMT, _check_join, _lower_join),
    Function("buf", "buf(ptr, length) | buf(array)",
             "bytes read from memory, printed as printf's %r (hex escapes), %rx or %rh",
             FnKind.EXPR, _check_buf, _lower_buf),
)
