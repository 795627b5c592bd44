"""Builtin variables: ``pid``, ``comm``, ``nsecs``, ``args`` …"""
from __future__ import annotations

from ...bpf.insn import AluOp, Helper
from .. import ir
from ..types import INT64, UINT32, UINT64, Formatted, Special, Str
from . import Variable


def _pid_tgid(lw):
    return lw.call(Helper.get_current_pid_tgid)


def _low32(lw, v):
    dst = lw.vreg()
    lw.emit(ir.Alu(AluOp.MOV, dst, v, v, bits32=True))
    return dst


def _high32(lw, v):
    return lw.alu(AluOp.RSH, v, 32)


def _comm(lw, e):
    from ..values import Mem
    buf = lw.buffer(16, "comm")
    mem = Mem(buf.base, buf.off, Str(16))
    lw.call(Helper.get_current_comm, lw.addr(mem), 16, result=False)
    return mem


def _cpid_type(ck, e):
    if not ck.constants.get("cpid"):
        ck.error("cpid is the pid of the command started with -c (or given with -p), and "
                 "there is none", e.loc, "run with -c CMD or -p PID, or use pid")
    return UINT32


def _probe(lw, e):
    """A constant where the program serves one probe; else the attachment's
    cookie, which holds the id the probe's name is filed under."""
    if len(lw.group.targets) == 1:
        return lw.group.targets[0].probe_index
    return lw.call(Helper.get_attach_cookie, lw.ctx)


def _args_type(ck, e):
    ctx = ck.ctx
    if ctx is None or ctx.args is None:
        from ..semantics import UNKNOWN
        ck.error(ctx.args_missing if ctx else "'args' is not available here", e.loc)
        return UNKNOWN              # reported once; uses of it stay quiet
    return ctx.args


def _args(lw, e):
    from ..values import CtxStruct
    return CtxStruct(lw.ctx_info.args)


def _ctx_slot_type(name: str):
    def check(ck, e):
        slot = _ctx_slot(ck.ctx, name, e.name)
        if slot is None:
            where = "this probe type"
            ck.error(f"'{e.name}' is not available in {where}", e.loc,
                     "retval exists in return probes (kretprobe, uretprobe, fexit); "
                     "argN in kprobes, uprobes and raw tracepoints"
                     if name in ("retval", "arg") else None)
            return INT64
        return slot.type
    return check


def _ctx_slot(ctx, name: str, full: str):
    if ctx is None:
        return None
    if name == "retval":
        return ctx.retval
    n = int(full[3:])
    return ctx.argn[n] if n < len(ctx.argn) else None


def _ctx_slot_lower(name: str):
    def lower(lw, e):
        slot = _ctx_slot(lw.ctx_info, name, e.name)
        custom = getattr(slot, "lower", None)      # lang.operands.Operand (USDT arguments)
        if custom is not None:
            return custom(lw)
        v = lw.vreg(e.name)
        lw.emit(ir.Load(v, lw.ctx, slot.offset, slot.type.size))
        return v
    return lower


def _elapsed(lw, e):
    now = lw.call(Helper.ktime_get_ns)
    return lw.alu(AluOp.SUB, now, lw.reg_of(lw.constants.get("start_ns", 0)))


def _needs_linux(version: tuple[int, int, int], what: str):
    """A check for a variable whose helper has no feature probe of its own:
    the kernel's version decides (an unknown version, 0.0.0, lets it pass
    and the verifier judges)."""
    def check(ck, e):
        running = ck.kernel.version
        if running != (0, 0, 0) and running < version:
            major, minor, _ = version
            ck.error(f"{e.name} needs {what} (Linux {major}.{minor}), which this kernel lacks",
                     e.loc)
        return UINT64
    return check


VARIABLES = (
    Variable("pid", "process id (thread group id) of the current task", UINT32,
             lambda lw, e: _high32(lw, _pid_tgid(lw))),
    Variable("tid", "thread id of the current task", UINT32,
             lambda lw, e: _low32(lw, _pid_tgid(lw))),
    Variable("uid", "user id of the current task", UINT32,
             lambda lw, e: _low32(lw, lw.call(Helper.get_current_uid_gid))),
    Variable("username", "name of the current task's user (its uid, named from /etc/passwd)",
             Special(Formatted.USERNAME),
             lambda lw, e: _low32(lw, lw.call(Helper.get_current_uid_gid))),
    Variable("gid", "group id of the current task", UINT32,
             lambda lw, e: _high32(lw, lw.call(Helper.get_current_uid_gid))),
    Variable("comm", "name of the current task (16 bytes)", Str(16), _comm),
    Variable("nsecs", "monotonic time in nanoseconds", UINT64,
             lambda lw, e: lw.call(Helper.ktime_get_ns), category="time"),
    Variable("elapsed", "nanoseconds since pytrace started", UINT64, _elapsed,
             category="time"),
    Variable("cpu", "the CPU the probe fires on", UINT32,
             lambda lw, e: lw.call(Helper.get_smp_processor_id), category="system"),
    Variable("ncpus", "number of possible CPUs", UINT32,
             lambda lw, e: lw.kernel.ncpus, category="system"),
    Variable("numaid", "NUMA node of the current CPU", UINT32,
             lambda lw, e: lw.call(Helper.get_numa_node_id), category="system"),
    Variable("cpid", "pid of the child started with -c", _cpid_type,
             lambda lw, e: lw.constants.get("cpid", 0)),
    Variable("rand", "a pseudo-random 32-bit number", UINT32,
             lambda lw, e: lw.call(Helper.get_prandom_u32), category="system"),
    Variable("cgroup", "cgroup v2 id of the current task", UINT64,
             lambda lw, e: lw.call(Helper.get_current_cgroup_id)),
    Variable("jiffies", "the kernel's jiffies counter",
             _needs_linux((5, 5, 0), "bpf_jiffies64"),
             lambda lw, e: lw.call(Helper.jiffies64), category="time"),
    Variable("probe", "full name of the probe that fired", Special(Formatted.PROBE), _probe,
             category="probe"),
    Variable("args", "the probe's arguments (tracepoint fields …) as a struct",
             _args_type, _args, category="probe"),
    Variable("retval", "the return value (return probes)", _ctx_slot_type("retval"),
             _ctx_slot_lower("retval"), category="probe"),
    Variable("argN", "argument N of a kprobe/uprobe/raw tracepoint (arg0, arg1, …)",
             _ctx_slot_type("arg"), _ctx_slot_lower("arg"), category="probe", family=True),
)
