"""What the compiler needs to know about a probe's attach points.

Providers (``pytrace.providers``) expand a probe spec into ``Target``s and
describe, for each, the program's context: which BPF program type runs, what
``args`` looks like, where ``arg0``/``retval`` are. The compiler only sees
this interface; it is handed the provider registry by the session, so the
language never imports code that makes syscalls.
"""
from __future__ import annotations

from ..base.record import field, record
from enum import Enum
from collections.abc import Mapping
from typing import Protocol

from .kernelinfo import Feature
from .types import Struct, Type


class ProgKind(Enum):
    """The kind of BPF program a probe becomes (mapped to prog types by the loader)."""
    TRACEPOINT = "tracepoint"
    RAW_TRACEPOINT = "raw_tracepoint"
    KPROBE = "kprobe"
    KPROBE_MULTI = "kprobe_multi"  # a kprobe program for one multi-kprobe link (5.18)
    PERF_EVENT = "perf_event"
    TRACING = "tracing"          # fentry/fexit/tp_btf (BTF-typed context)
    XDP = "xdp"
    SCHED_CLS = "sched_cls"


@record(frozen=True)
class CtxSlot:
    """A value read straight from the context: ``*(size *)(ctx + offset)``."""
    offset: int
    type: Type


class FuncIp(Enum):
    """How ``func`` (the traced function's address) is found in a context."""
    NONE = "none"            # not available here
    HELPER = "helper"        # bpf_get_func_ip(ctx), Linux 5.15
    IP_REG = "ip_reg"        # the pt_regs instruction pointer (function entry)
    USER_IP_REG = "user_ip"  # the same in a uprobe: a user address (prints as usym)


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
    #: the program runs once, started by pytrace (BEGIN, END), in no traced
    #: process: it is never attached, and ``-p PID`` does not filter it
    runs_once: bool = False
    #: ctx is a struct pt_regs (kprobe, uprobe): reg("name") reads it
    pt_regs: bool = False
    #: how ``func`` finds the function's address
    func: FuncIp = FuncIp.NONE
    #: why this probe runs through another mechanism than the one written
    #: ("kprobe:f runs as fentry:f: this kernel has no kprobes"); printed
    #: once on stderr and quoted by errors about what the other one lacks
    note: str = ""
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
    #: a wildcard matched it: when it cannot attach, the run warns and goes on
    wildcard: bool = False


#: the characters that make a probe spec a wildcard
WILDCARD_CHARS = "*?["


def is_wildcard(text: str) -> bool:
    """Whether a probe spec is a pattern (``tracepoint:syscalls:sys_enter_*``)."""
    return any(c in text for c in WILDCARD_CHARS)


@record(frozen=True)
class ProbeChoices:
    """What the user chose about how probes attach, as opposed to what the
    kernel offers (``KernelInfo``); read by providers that choose between
    mechanisms (kprobe or fentry) and say why."""
    #: features switched off with ``--no-feature`` (the KernelInfo already
    #: lacks them; this tells "masked" from "missing" in messages)
    masked: frozenset[Feature] = frozenset()
    #: run a probe through another mechanism when the one written does not
    #: work (``--no-fallback``: False)
    fallback: bool = True
    #: describe probes as written, whether or not this kernel could attach
    #: them (``-lv``)
    describe_only: bool = False
    #: ``--dry-run``: a probe this kernel could not attach is still compiled
    #: and verified as written (attaching is not tried)
    verify_only: bool = False


class ProbeResolver(Protocol):
    """The compile-time face of a provider."""

    def expand(self, spec, kernel) -> list[Target]:
        """All targets a spec names; raises CompileError (with spec.loc) when none."""
        ...

    def choosing(self, choices: ProbeChoices) -> "ProbeResolver":
        """This resolver deciding by ``choices``."""
        ...


@record
class Resolvers:
    """Provider name (and aliases) -> resolver, handed to the compiler, with
    the user's choices every resolver it hands out decides by."""
    by_name: Mapping[str, ProbeResolver] = field(default_factory=dict)
    choices: ProbeChoices = ProbeChoices()

    def get(self, name: str) -> ProbeResolver | None:
        resolver = self.by_name.get(name)
        return resolver.choosing(self.choices) if resolver is not None else None
