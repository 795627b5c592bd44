"""What the compiler needs to know about a probe's attach points.

Providers (``pytrace.providers``) expand a probe spec into ``Target``s and
describe, for each, the program's context: which BPF program type runs, what
``args`` looks like, where ``arg0``/``retval`` are. The compiler only sees
this interface; it is handed the provider registry by the session, so the
language never imports code that makes syscalls.
"""
from __future__ import annotations

from ..record import field, record
from enum import Enum
from typing import Protocol

from .types import Struct, Type


class ProgKind(Enum):
    """The kind of BPF program a probe becomes (mapped to prog types by the loader)."""
    TRACEPOINT = "tracepoint"
    RAW_TRACEPOINT = "raw_tracepoint"
    KPROBE = "kprobe"
    PERF_EVENT = "perf_event"
    TRACING = "tracing"          # fentry/fexit/tp_btf (BTF-typed context)
    XDP = "xdp"
    SCHED_CLS = "sched_cls"


@record(frozen=True)
class CtxSlot:
    """A value read straight from the context: ``*(size *)(ctx + offset)``."""
    offset: int
    type: Type


@record(frozen=True)
class ProbeContext:
    kind: ProgKind
    #: the ``args`` struct: its fields are read from the context at their offsets
    args: Struct | None = None
    #: why ``args`` is missing here, for the error message
    args_missing: str = "this probe has no 'args'"
    #: argN readers (kprobe/uprobe registers, raw tracepoint slots)
    argn: tuple[CtxSlot, ...] = ()
    retval: CtxSlot | None = None
    #: a program shared by several targets learns which one fired from the
    #: BPF link's cookie (bpf_get_attach_cookie, Linux 5.15); without it,
    #: scripts using ``probe`` get one program per target
    probe_by_cookie: bool = False
    #: contexts with equal keys can share one program
    share_key: object = None
    #: names of builtins that only make sense in some contexts (retval, func, …)
    extra: frozenset[str] = frozenset()
    #: pointers in args point to user memory (syscall tracepoints)
    user_pointers: bool = False
    #: run only for this process (BEGIN/END through a uprobe on old kernels)
    only_tgid: int | None = None
    #: what the program returns when the script decides nothing (XDP_PASS
    #: for xdp probes; actions such as ``drop;`` return something else)
    default_return: int = 0


@record(frozen=True)
class Target:
    """One attach point: ``tracepoint:syscalls:sys_enter_openat``."""
    provider: str
    name: str
    context: ProbeContext
    #: provider-private attach data (ids, paths, periods…)
    data: object = None
    #: the id ``probe`` takes for this target (0: the compiler assigns one)
    probe_index: int = 0


class ProbeResolver(Protocol):
    """The compile-time face of a provider."""

    def expand(self, spec, kernel) -> list[Target]:
        """All targets a spec names; raises CompileError (with spec.loc) when none."""
        ...


@record
class Resolvers:
    """Provider name (and aliases) -> resolver, handed to the compiler."""
    by_name: dict[str, ProbeResolver] = field(default_factory=dict)

    def get(self, name: str) -> ProbeResolver | None:
        return self.by_name.get(name)
