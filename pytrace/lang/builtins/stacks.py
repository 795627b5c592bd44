"""Stacks and symbols: ``kstack``, ``ustack`` (also ``kstack(perf, 8)``),
``ksym(addr)``, ``usym(addr)``, ``kaddr("name")``, ``uaddr("name")``.

A stack is a 32-bit hash of its frames, filed in a hash map of frames,
one map per (kernel/user, depth) the script uses (``stack_k127``,
``stack_u8``); userspace reads the frames and symbolizes them when it
prints. User
stacks carry the process id in their upper 32 bits (bpftrace's packing:
addresses only mean something within one process), so ``@[ustack]``
keys stacks of different processes apart. ``usym()`` stays an 8-byte
address; the program files the address's process in ``usym_pids`` so
the printer knows whose mappings to read.
"""
from __future__ import annotations

from ...bpf.insn import AluOp, Helper, JmpOp
from .. import ast as A
from .. import ir
from ..probes import ProgKind
from ..program import MapKind, MapSpec
from ..types import (UINT64, AddrSpace, Formatted, Int, Ptr, Special, Stack, StackKind,
                     StackMode)
from . import FnKind, Function, Variable

#: the deepest stack the kernel records by default (kernel.perf_event_max_stack)
MAX_FRAMES = 127
#: bpf_get_stack() flags (include/uapi/linux/bpf.h)
BPF_F_USER_STACK = 1 << 8
USYM_PIDS_MAP = "usym_pids"
_MODES = {m.value: m for m in StackMode}
#: program types whose context bpf_get_stack() accepts
_STACK_KINDS = (ProgKind.KPROBE, ProgKind.TRACEPOINT, ProgKind.PERF_EVENT,
                ProgKind.RAW_TRACEPOINT, ProgKind.TRACING)


def stack_map_name(stack: Stack) -> str:
    return f"stack_{'k' if stack.kind is StackKind.KERNEL else 'u'}{stack.frames}"


def holds_user_addresses(map_name: str) -> bool:
    """Whether pytrace's map ``map_name`` holds user addresses (a user
    stack's frames, usym()'s processes): printing them needs the mappings
    of processes that may be gone by then, so userspace follows them."""
    return map_name.startswith("stack_u") or map_name == USYM_PIDS_MAP


def _default_mode(ck, e) -> StackMode:
    mode = _MODES.get(str(ck.limits.stack_mode))
    if mode is None:
        ck.error(f"config stack_mode is '{ck.limits.stack_mode}'; it must be bpftrace, perf "
                 "or raw", e.loc)
        return StackMode.BPFTRACE
    return mode


def _check_context(ck, e, what: str) -> None:
    ctx = ck.ctx
    if ctx is not None and ctx.kind not in _STACK_KINDS:
        ck.error(f"{what} is not available in {ctx.kind.value} programs", e.loc,
                 "stacks come from kprobes, uprobes, tracepoints and profile probes")


def _stack_var(kind: StackKind):
    def check(ck, e):
        _check_context(ck, e, e.name)
        return Stack(kind, MAX_FRAMES, _default_mode(ck, e))
    return check


def _check_stack_call(kind: StackKind):
    def check(ck, e: A.Call):
        mode = None
        frames = MAX_FRAMES
        _check_context(ck, e, e.name + "()")
        if len(e.args) > 2:
            ck.expect_args(e, 0, 2)
        for i, a in enumerate(e.args[:2]):
            if isinstance(a, A.Builtin) and a.name in _MODES and i == 0:
                mode = _MODES[a.name]
                continue
            n = ck.const_int(a)
            if n is None:
                if isinstance(a, A.Builtin):
                    ck.error(f"unknown stack mode '{a.name}'", a.loc,
                             "modes: bpftrace, perf, raw")
                else:
                    ck.expr(a)
                    ck.error(f"{e.name}()'s depth must be a constant integer", a.loc,
                             f"e.g. {e.name}(8) or {e.name}(perf, 8)")
                continue
            if not 1 <= n <= MAX_FRAMES:
                ck.error(f"{e.name}() records 1 to {MAX_FRAMES} frames, not {n}", a.loc)
                continue
            frames = n
        return Stack(kind, frames, mode or _default_mode(ck, e))
    return check


#: FNV-1a's 64-bit prime and offset basis (the stack hash, over 8-byte frames)
FNV_PRIME = 0x100000001B3
FNV_BASIS = 0xCBF29CE484222325 - (1 << 64)


def _lower_stack(lw, e):
    """bpf_get_stack() into a buffer (the kernel zero-fills what the stack
    does not use), a 32-bit hash of its frames as the stack's id, the frames
    filed under that id in the stack map unless already there. Unlike
    bpf_get_stackid() and its fixed-size hash table, distinct stacks are
    lost only when their 32-bit hashes collide or the map is full (counted,
    and reported like any full map)."""
    stack: Stack = lw.type_of(e)
    name = stack_map_name(stack)
    size = 8 * stack.frames
    if name not in lw.res.maps:
        lw.res.maps[name] = MapSpec(name, MapKind.HASH, 4, size, lw.limits.max_map_keys,
                                    user=False)
    user = stack.kind is StackKind.USER
    buf = lw.buffer(size, "stack")
    lw.call(Helper.get_stack, lw.ctx, lw.addr(buf), size, BPF_F_USER_STACK if user else 0,
            result=False)
    prime = lw.reg_of(FNV_PRIME)
    h = lw.vreg("stack_hash")
    lw.emit(ir.Mov(h, lw.reg_of(FNV_BASIS)))
    hashed = lw.label("stack_hashed")
    for i in range(stack.frames):          # up to the first zero: the stack's end
        frame = lw.load(buf.at(8 * i, UINT64), 8)
        lw.branch(JmpOp.JEQ, frame, 0, hashed)
        lw.emit(ir.Alu(AluOp.XOR, h, h, frame))
        lw.emit(ir.Alu(AluOp.MUL, h, h, prime))
    lw.place(hashed)
    folded = lw.alu(AluOp.XOR, h, lw.alu(AluOp.RSH, h, 32))
    sid = lw.vreg("stackid")
    lw.emit(ir.Alu(AluOp.MOV, sid, folded, folded, bits32=True))
    key = lw.buffer(8, "stack_key")
    lw.store(key, sid, 4)
    found = lw.lookup(name, lw.addr(key))
    known = lw.label("stack_known")
    lw.branch(JmpOp.JNE, found, 0, known)
    lw.update(name, lw.addr(key), lw.addr(buf))
    lw.place(known)
    if not user:
        return sid
    # stack id | tgid << 32: the same addresses mean different code in other processes
    pid_tgid = lw.call(Helper.get_current_pid_tgid)
    high = lw.alu(AluOp.LSH, lw.alu(AluOp.RSH, pid_tgid, 32), 32)
    return lw.alu(AluOp.OR, high, sid)


# -- ksym / usym -----------------------------------------------------------------

def _check_sym(how: Formatted):
    def check(ck, e: A.Call):
        if ck.expect_args(e, 1):
            ck.expect_int(e.args[0], f"{e.name}()'s argument")
        return Special(how)
    return check


def _lower_ksym(lw, e: A.Call):
    return lw.int_value(e.args[0])


def note_user_address(lw, addr) -> None:
    """File ``addr``'s process in ``usym_pids`` so it prints as a symbol of
    that process (what every USYM value needs)."""
    from ..lower_memory import BPF_ANY
    if USYM_PIDS_MAP not in lw.res.maps:
        lw.res.maps[USYM_PIDS_MAP] = MapSpec(USYM_PIDS_MAP, MapKind.HASH, 8, 4,
                                             max(lw.limits.max_map_keys, 4096), user=False)
    key = lw.buffer(8, "usym_key")
    lw.store(key, addr)
    value = lw.buffer(8, "usym_pid")
    tgid = lw.alu(AluOp.RSH, lw.call(Helper.get_current_pid_tgid), 32)
    lw.store(value, tgid, 4)
    lw.call(Helper.map_update_elem, ir.MapFd(USYM_PIDS_MAP), lw.addr(key), lw.addr(value),
            BPF_ANY, result=False)


def _lower_usym(lw, e: A.Call):
    v = lw.reg_of(lw.int_value(e.args[0]))
    note_user_address(lw, v)
    return v


# -- kaddr / uaddr ------------------------------------------------------------------

def _symbol_arg(ck, e: A.Call) -> str | None:
    if not ck.expect_args(e, 1):
        return None
    arg = e.args[0]
    if not isinstance(arg, A.StrLit):
        ck.expr(arg)
        ck.error(f'{e.name}() takes a symbol name in quotes, e.g. {e.name}("name")', arg.loc)
        return None
    return arg.value


def _check_kaddr(ck, e: A.Call):
    name = _symbol_arg(ck, e)
    if name is not None and _kernel_address(ck.kernel, name) is None:
        ck.error(f"the kernel has no symbol '{name}'", e.args[0].loc,
                 "kernel symbols are listed in /proc/kallsyms")
    return UINT64


def _kernel_address(kernel, name: str) -> int | None:
    return kernel.symbol_address(name)


def _lower_kaddr(lw, e: A.Call):
    return _kernel_address(lw.kernel, e.args[0].value) or 0


def _uaddr_places(ck, e: A.Call, name: str):
    """(symbol address, size, position-independent) in each target's binary."""
    out = []
    for t in ck.group.targets if ck.group is not None else ():
        resolve = getattr(t.data, "resolve_symbol", None)
        if resolve is None:
            ck.error("uaddr() resolves symbols of the binary a uprobe or usdt probe is in",
                     e.loc, "use it in uprobe:, uretprobe: or usdt: probes")
            return None
        found = resolve(name)
        if found is None:
            ck.error(f"{t.data.path} has no symbol '{name}'", e.args[0].loc)
            return None
        out.append((t, found))
    return out


def _check_uaddr(ck, e: A.Call):
    name = _symbol_arg(ck, e)
    places = _uaddr_places(ck, e, name) if name is not None else None
    size = 8
    if places:
        sizes = {found[1] for _, found in places}
        if len(sizes) > 1:
            ck.error(f"symbol '{name}' has different sizes in the binaries this probe "
                     f"attaches to ({', '.join(map(str, sorted(sizes)))})", e.loc)
        size = places[0][1][1]
        pic = [t for t, found in places if found[2]]
        if pic and (len(places) > 1 or t_is_return(pic[0])):
            ck.error(f"uaddr(\"{name}\"): {pic[0].data.path} is loaded at an address chosen "
                     "at run time; pytrace finds it from the probe's own address, which "
                     "needs one probe on a function entry", e.loc,
                     "read it in a uprobe on the function's entry and keep it in a map"
                     if t_is_return(pic[0]) else
                     "give this probe a single uprobe or usdt attach point")
    bits = size * 8 if size in (1, 2, 4) else 64
    return Ptr(Int(bits, False), AddrSpace.USER)


def t_is_return(target) -> bool:
    return bool(getattr(target.data, "retprobe", False))


def _lower_uaddr(lw, e: A.Call):
    target = lw.group.targets[0]
    addr, _size, pic = target.data.resolve_symbol(e.args[0].value)
    if not pic:
        return addr
    # loaded at (probe's run-time address - its link-time address)
    arch = lw.kernel.arch
    ip = lw.ctx_load(arch.reg_offset(arch.ip_reg), 8, "ip")
    return lw.alu(AluOp.ADD, ip, addr - target.data.vaddr)


VARIABLES = (
    Variable("kstack", "the kernel stack (as map key: one frame per line)",
             _stack_var(StackKind.KERNEL), _lower_stack, category="probe", userspace="symbols"),
    Variable("ustack", "the user-space stack of the current thread",
             _stack_var(StackKind.USER), _lower_stack, category="probe", userspace="symbols"),
)

FUNCTIONS = (
    Function("kstack", "kstack([mode][, frames])",
             "the kernel stack, up to frames deep; mode bpftrace, perf or raw",
             FnKind.EXPR, _check_stack_call(StackKind.KERNEL), _lower_stack,
             userspace="symbols"),
    Function("ustack", "ustack([mode][, frames])",
             "the user-space stack, up to frames deep; mode bpftrace, perf or raw",
             FnKind.EXPR, _check_stack_call(StackKind.USER), _lower_stack,
             userspace="symbols"),
    Function("ksym", "ksym(addr)", "a kernel address, printed as its symbol",
             FnKind.EXPR, _check_sym(Formatted.KSYM), _lower_ksym, userspace="symbols"),
    Function("usym", "usym(addr)", "a user-space address, printed as its symbol",
             FnKind.EXPR, _check_sym(Formatted.USYM), _lower_usym, userspace="symbols"),
    Function("kaddr", 'kaddr("name")', "the address of a kernel symbol",
             FnKind.EXPR, _check_kaddr, _lower_kaddr),
    Function("uaddr", 'uaddr("name")', "the address of a symbol in the probed binary",
             FnKind.EXPR, _check_uaddr, _lower_uaddr),
)
