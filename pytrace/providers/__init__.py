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
    return (Special(), Tracepoint(), Interval(), Uprobe(), Uretprobe(), Usdt(), Profile(),
            Software(), Hardware(), Xdp(), Tc())


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
