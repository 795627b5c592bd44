"""Probe types, one module each, behind one interface.

A provider turns a probe spec (``tracepoint:syscalls:sys_enter_*``) into
attach targets with their program context (compile time, pure), attaches a
loaded program to a target (run time) and lists what it can attach to
(``-l``). Adding a probe type is a new module and one line in ``PROVIDERS``.
"""
from __future__ import annotations

from ..diagnostics import CompileError, Diagnostic, Severity
from ..lang.probes import Resolvers, Target


class Provider:
    #: the spelling in scripts, then its aliases
    name: str = ""
    aliases: tuple[str, ...] = ()
    #: one line for ``pytrace -l`` and error hints
    doc: str = ""

    def expand(self, spec, kernel) -> list[Target]:
        raise NotImplementedError

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        """Attach a loaded program; returns ``Attachment``s the session closes."""
        raise NotImplementedError

    def attach_group(self, targets: list[Target], prog_fd: int, runtime) -> list | None:
        """Attach one program to several of this provider's targets at once
        (a kprobe_multi link); None: attach them one by one with attach()."""
        return None

    def load_options(self, target: Target) -> dict:
        """Extra BPF_PROG_LOAD attributes for the program serving ``target``
        (fentry/tp_btf name their attach point at load time:
        ``expected_attach_type``, ``attach_btf_id``); most need none."""
        return {}

    def sweep(self, runtime) -> None:
        """Remove what a killed pytrace of this probe type left behind
        (tracefs kprobe events, netlink-attached programs…). Called at start
        for the probe types a script uses; most leave nothing and do nothing."""

    def listing(self, pattern: str, kernel) -> list[str]:
        """Probe names matching ``pattern`` (the part after the provider)."""
        return []

    def describe(self, target: Target) -> list[str]:
        """Lines for ``-lv``: the arguments a probe offers, with their types."""
        args = target.context.args
        if args is None:
            return []
        return [f"    {f.decl or f.type} {f.name}" for f in args.fields]

    @staticmethod
    def fail(message: str, spec, hint: str | None = None) -> CompileError:
        return CompileError(Diagnostic(Severity.ERROR, message, spec.loc, hint))


def _providers() -> tuple[Provider, ...]:
    from .net import Tc, Xdp
    from .sampling import Hardware, Profile, Software
    from .special import Special
    from .timer import Interval
    from .tracepoint import Tracepoint
    from .uprobe import Uprobe, Uretprobe
    from .usdt import Usdt
    from . import fentry, kprobe, rawtracepoint
    return (Special(), Tracepoint(), Interval(), Uprobe(), Uretprobe(), Usdt(), Profile(),
            Software(), Hardware(), Xdp(), Tc(), kprobe.Kprobe(), kprobe.Kretprobe(),
            fentry.Fentry(), fentry.Fexit(), rawtracepoint.RawTracepoint())


_cached: tuple[Provider, ...] | None = None


def providers() -> tuple[Provider, ...]:
    global _cached
    if _cached is None:
        _cached = _providers()
    return _cached


def by_name() -> dict[str, Provider]:
    out = {}
    for p in providers():
        for n in (p.name, *p.aliases):
            out[n] = p
    return out


def resolvers() -> Resolvers:
    return Resolvers(dict(by_name()))


def split_spec(text: str) -> list[str]:
    """``provider:a:b`` -> ["provider", "a", "b"]; a path part (starting with
    '/') keeps its own colons only up to the next one (uprobe:/bin/x:func)."""
    return text.split(":")
