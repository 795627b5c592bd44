"""Builtins about the kernel and the traced function: ``curtask``, ``func``,
``reg("name")``.

``reg()`` and the register fallback of ``func`` read ``struct pt_regs``,
so they work in every probe whose context is one (kprobes, uprobes: the
provider sets ``ProbeContext.pt_regs``); the register layouts are the
per-architecture tables of ``pytrace.base.arch``.
"""
from __future__ import annotations

from ...bpf.insn import Helper
from .. import ast as A
from ..probes import FuncIp
from ..types import UINT32, UINT64, Formatted, Special
from . import FnKind, Function, Variable

KSYM = Special(Formatted.KSYM)
USYM = Special(Formatted.USYM)


def _curtask_type(ck, e):
    from ..kernel_types import task_struct_ptr
    t = task_struct_ptr(ck.kernel)
    return t if t is not None else UINT64      # bpftrace's type without BTF


def _lower_curtask(lw, e):
    return lw.call(Helper.get_current_task)


def _unavailable(ck, e, what: str, needs: str) -> None:
    ctx = ck.ctx
    hint = needs + (f"; {ctx.note}" if ctx is not None and ctx.note else "")
    ck.error(f"{what} is not available in this probe", e.loc, hint)


def _func_type(ck, e):
    ctx = ck.ctx
    if ctx is None or ctx.func is FuncIp.NONE:
        _unavailable(ck, e, "func", "func is the traced function in kprobes, kretprobes, "
                     "fentry/fexit and uprobes")
    return USYM if ctx is not None and ctx.func is FuncIp.USER_IP_REG else KSYM


def _lower_func(lw, e):
    if lw.ctx_info.func is FuncIp.HELPER:
        return lw.call(Helper.get_func_ip, lw.ctx)
    arch = lw.kernel.arch
    return lw.ctx_load(arch.reg_offset(arch.ip_reg), arch.reg_size, "ip")


def _reg_name(ck, e: A.Call) -> str | None:
    if not ck.expect_args(e, 1):
        return None
    arg = e.args[0]
    if not isinstance(arg, A.StrLit):
        ck.expr(arg)
        ck.error('reg() takes a register name in quotes, e.g. reg("ip")', arg.loc)
        return None
    return arg.value


def _check_reg(ck, e: A.Call):
    name = _reg_name(ck, e)
    ctx = ck.ctx
    if ctx is None or not ctx.pt_regs:
        _unavailable(ck, e, "reg()", "reg() reads the registers saved by kprobes and uprobes")
        return UINT64
    if name is None:
        return UINT64
    arch = ck.kernel.arch
    if arch.reg_offset(name) is None:
        known = ", ".join(sorted(arch.regs, key=arch.regs.get))
        ck.error(f"{arch.name} has no register '{name}'", e.args[0].loc,
                 f"registers: {known}")
    return UINT64 if arch.bits == 64 else UINT32


def _lower_reg(lw, e: A.Call):
    arch = lw.kernel.arch
    return lw.ctx_load(arch.reg_offset(e.args[0].value), arch.reg_size, e.args[0].value)


VARIABLES = (
    Variable("curtask", "the current task's struct task_struct * (typed from BTF)",
             _curtask_type, _lower_curtask, category="process"),
    Variable("func", "the traced function (prints its name)", _func_type, _lower_func,
             category="probe", userspace="symbols"),
)

FUNCTIONS = (
    Function("reg", 'reg("name")', "a register saved at the probe (kprobes, uprobes)",
             FnKind.EXPR, _check_reg, _lower_reg),
)
