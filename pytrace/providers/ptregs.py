"""Contexts that are a ``struct pt_regs``: kprobes, kretprobes, uprobes,
uretprobes.

One place decides, from the per-architecture tables in ``pytrace.base.arch``,
where ``arg0``..``argN``, ``retval``, ``reg("name")``, ``func`` and typed
``args.NAME`` are read: kfunc.py (kprobes) and uprobe.py build their
contexts here.
"""
from __future__ import annotations

from ..base.arch import Arch
from ..lang.kernelinfo import Feature
from ..lang.probes import CtxSlot, FuncIp, ProbeContext, ProgKind
from ..lang.types import Field, Int, Ptr, Struct, Type

def word(arch: Arch) -> Int:
    """What ``retval`` and ``argN`` are when nothing better is known
    (bpftrace's uint64)."""
    return Int(arch.bits, False)


def arg_slots(arch: Arch) -> tuple[CtxSlot, ...]:
    """``arg0``..: the argument registers, as unsigned words."""
    return tuple(CtxSlot(arch.arg_offset(i), word(arch)) for i in range(len(arch.arg_regs)))


def register_args(arch: Arch, name: str, params: tuple[Field, ...]) -> Struct:
    """Typed parameters (fields whose offsets are their positions) moved
    to the registers that pass them. A parameter wider than a register
    takes several (a 16-byte struct by value takes two); parameters past
    the last argument register are left out, with everything after one
    too wide to follow."""
    fields, reg = [], 0
    for f in params:
        regs = max(1, -(-f.type.size // arch.reg_size))
        if regs > 2 or reg + regs > len(arch.arg_regs):
            break
        if regs == 1:
            fields.append(Field(f.name, f.type, arch.arg_offset(reg), decl=f.decl))
        reg += regs
    return Struct(name, tuple(fields), max((f.offset + 8 for f in fields), default=0))


def regs_context(kernel, *, retprobe: bool, params: Struct | None = None,
                 ret_type: Type | None = None, note: str = "",
                 args_missing: str = "", share: object = None,
                 kind: ProgKind = ProgKind.KPROBE, func: FuncIp | None = None,
                 user_pointers: bool = False) -> ProbeContext:
    """The context of a probe whose program gets the registers: entry probes
    have ``argN`` (and ``args`` when ``params`` gives the types), return
    probes ``retval`` (typed ``ret_type``, else a word)."""
    arch = kernel.arch
    if func is None:
        func = FuncIp.HELPER if kernel.has(Feature.GET_FUNC_IP) else (
            FuncIp.NONE if retprobe else FuncIp.IP_REG)
    args = None
    if params is not None and not retprobe:
        args = register_args(arch, params.name, params.fields)
    if not args_missing:
        args_missing = ("return probes have no 'args': the arguments are gone when the "
                        "function returns" if retprobe else
                        "'args' needs the function's types from BTF, which the kernel has "
                        "not got for this function; use arg0, arg1, …")
    retval = None
    if retprobe:
        ret = ret_type if isinstance(ret_type, (Int, Ptr)) and ret_type.size <= arch.reg_size \
            else word(arch)
        retval = CtxSlot(arch.reg_offset(arch.ret_reg), ret)
    return ProbeContext(
        kind, args=args, args_missing=args_missing,
        argn=() if retprobe else arg_slots(arch), retval=retval,
        probe_by_cookie=kernel.has(Feature.LINK) or kind is ProgKind.KPROBE_MULTI,
        share_key=(retprobe, args.fields if args is not None else None, share),
        pt_regs=True, func=func, note=note, user_pointers=user_pointers)
