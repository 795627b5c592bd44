"""``rawtracepoint:NAME`` (alias ``rt:``): a tracepoint's raw arguments.

A raw tracepoint program gets the arguments the kernel passes to the
tracepoint (``TP_PROTO``: ``sched_switch`` has ``preempt``, ``prev``,
``next``, ``prev_state``) as u64s, before the record a ``tracepoint:``
probe reads is built: ``arg0``.. always, and ``args.NAME`` typed from BTF
(``btf_trace_NAME``) when the kernel has it. Where the kernel allows
BTF-typed raw tracepoints (tp_btf, Linux 5.5) the program is one, so the
verifier knows the types too; otherwise a plain raw tracepoint program
reads the same slots.
"""
from __future__ import annotations

from ..lang.kernelinfo import Feature
from ..lang.probes import CtxSlot, ProbeContext, ProgKind, Target
from ..lang.types import Int
from ..base.record import record
from . import Provider

#: how many u64 arguments a raw tracepoint may have (MAX_BPF_FUNC_ARGS)
MAX_ARGS = 12


@record(frozen=True)
class RawTarget:
    name: str
    #: tp_btf: the btf_trace_NAME typedef's id (0: a plain raw tracepoint)
    btf_id: int = 0


class RawTracepoint(Provider):
    doc = "a tracepoint's raw arguments: rawtracepoint:NAME (arg0.., args typed by BTF)"

    def expand(self, spec, kernel) -> list[Target]:
        parts = spec.text.split(":")[1:]
        if len(parts) == 2 and parts[0] in ("vmlinux", ""):
            parts = parts[1:]
        if len(parts) != 1 or not parts[0]:
            raise self.fail(f"'{spec.text}' is not a raw tracepoint", spec,
                            "write rawtracepoint:NAME, e.g. rawtracepoint:sched_switch")
        pattern = parts[0]
        names = raw_tracepoints(kernel, pattern) if any(c in pattern for c in "*?[") \
            else [pattern]
        if not names:
            raise self.fail(f"no tracepoint matches {pattern}", spec,
                            "list them with: pytrace -l 'rawtracepoint:*'")
        return [self._target(n, kernel) for n in names]

    def _target(self, name: str, kernel) -> Target:
        from ..lang.kernel_types import converter
        conv = converter(kernel)
        args = conv.tracepoint_args(name) if conv is not None else None
        nargs = len(args.fields) if args is not None else MAX_ARGS
        argn = tuple(CtxSlot(8 * i, Int(64, False)) for i in range(nargs))
        missing = (f"rawtracepoint:{name} has no typed 'args': the kernel's BTF does not "
                   "describe it; use arg0, arg1, …")
        btf_id = 0
        if args is not None and kernel.has(Feature.TP_BTF):
            from ..btf.records import BtfKind
            btf_id = conv.btf.find("btf_trace_" + name, BtfKind.TYPEDEF) or 0
        if btf_id:
            ctx = ProbeContext(ProgKind.TRACING, args=args, args_missing=missing, argn=argn)
        else:
            ctx = ProbeContext(ProgKind.RAW_TRACEPOINT, args=args, args_missing=missing,
                               argn=argn, share_key=args.fields if args is not None else nargs)
        return Target("rawtracepoint", f"rawtracepoint:{name}", ctx, RawTarget(name, btf_id))

    def load_options(self, target: Target) -> dict:
        if not target.data.btf_id:
            return {}
        from ..kernel.bpf_consts import AttachType
        return {"expected_attach_type": AttachType.TRACE_RAW_TP,
                "attach_btf_id": target.data.btf_id}

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import attach, kprobes
        if target.data.btf_id:
            return [kprobes.attach_tracing(prog_fd, target.name)]
        return [attach.attach_raw_tracepoint(target.data.name, prog_fd)]

    def listing(self, pattern: str, kernel) -> list[str]:
        return [f"rawtracepoint:{n}"
                for n in raw_tracepoints(kernel, pattern.rpartition(":")[2] or "*")]


#: tracepoint categories that are not raw tracepoints (the syscalls:* events
#: are made from the raw sys_enter/sys_exit)
_NOT_RAW = frozenset({"syscalls"})


def raw_tracepoints(kernel, pattern: str) -> list[str]:
    """Raw tracepoint names matching ``pattern``: from BTF (every raw
    tracepoint has a btf_trace_NAME typedef), else tracefs' events."""
    from fnmatch import fnmatchcase

    from ..lang.kernel_types import converter
    conv = converter(kernel)
    if conv is not None:
        from ..btf.records import BtfKind
        names = [n[len("btf_trace_"):] for n in conv.btf.names("btf_trace_", BtfKind.TYPEDEF)]
    else:
        names = sorted({n for c, n in kernel.list_tracepoints("*:*") if c not in _NOT_RAW})
    return [n for n in names if fnmatchcase(n, pattern)]
