"""Probe types, one module each, behind one interface.

A provider turns a probe spec (``tracepoint:syscalls:sys_enter_*``) into
attach targets with their program context (compile time, pure), names the
BPF program type its programs load as, attaches a loaded program to a
target or runs it once (BEGIN/END) (run time) and lists what it can attach
to (``-l``). It also states how its probes are spelled (for error hints,
program names and completion), so nothing outside this package names a
probe type. Adding a probe type is a new module and one line in ``REGISTRY``.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..base.diagnostics import CompileError, Diagnostic, MissingProbe, Severity
from ..lang.probes import ProbeChoices, ProgKind, Resolvers, Target

#: the BPF program type each kind of program loads as (``kernel.bpf.ProgType``
#: member names; looked up when loading, so importing providers stays cheap)
PROG_TYPES: dict[ProgKind, str] = {
    ProgKind.TRACEPOINT: "TRACEPOINT",
    ProgKind.RAW_TRACEPOINT: "RAW_TRACEPOINT",
    ProgKind.KPROBE: "KPROBE",
    ProgKind.KPROBE_MULTI: "KPROBE",
    ProgKind.PERF_EVENT: "PERF_EVENT",
    ProgKind.TRACING: "TRACING",
    ProgKind.XDP: "XDP",
    ProgKind.SCHED_CLS: "SCHED_CLS",
}


class Provider:
    """The name and aliases come from the provider's line in ``REGISTRY``."""
    #: one line for ``pytrace -l`` and error hints
    doc: str = ""
    #: probes this type names whole, without a colon (``BEGIN``, ``END``):
    #: error hints and completion offer these instead of ``name:``
    whole_probes: tuple[str, ...] = ()
    #: its probes are tracefs tracepoints, ``name:CATEGORY:EVENT``
    #: (completion offers the categories, then their events)
    tracepoint_names: bool = False

    def choosing(self, choices: ProbeChoices) -> "Provider":
        """This provider deciding by the user's ``choices`` (``--no-fallback``,
        ``-lv``…); most have nothing to choose and return themselves."""
        return self

    def expand(self, spec, kernel) -> list[Target]:
        raise NotImplementedError

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        """Attach a loaded program; returns ``Attachment``s the session closes."""
        raise NotImplementedError

    def attach_group(self, targets: list[Target], prog_fd: int, runtime) -> list | None:
        """Attach one program to several of this provider's targets at once
        (a kprobe_multi link); None: attach them one by one with attach()."""
        return None

    def prog_type(self, kind: ProgKind) -> int:
        """The BPF program type (``kernel.bpf.ProgType``) a program of
        ``kind`` serving this provider's targets loads as."""
        from ..kernel.bpf_consts import ProgType
        return ProgType[PROG_TYPES[kind]]

    def run_once(self, target: Target, prog_fd: int, runtime) -> None:
        """Run a loaded program once, now: for targets whose context
        ``runs_once`` (BEGIN, END), which are never attached."""
        raise NotImplementedError(f"{self.name} probes do not run once")

    def run_once_how(self, target: Target) -> str:
        """How ``run_once`` runs the program of ``target``, for ``.probes``."""
        return ""

    @property
    def prog_name_prefix(self) -> str:
        """What a program's name has between ``pt<N>_`` and the last part of
        its probe: the probe type (``pt3_interval_1``, ``pt0_kprobe_vfs_read``)."""
        return self.name + "_"

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

    @property
    def name(self) -> str:
        return self._registered()[0]

    @property
    def aliases(self) -> tuple[str, ...]:
        return self._registered()[1:]

    def _registered(self) -> tuple[str, ...]:
        cls = type(self)
        return _SPELLINGS[(cls.__module__.rpartition(".")[2], cls.__name__)]

    @staticmethod
    def fail(message: str, spec, hint: str | None = None) -> CompileError:
        return CompileError(Diagnostic(Severity.ERROR, message, spec.loc, hint))

    @staticmethod
    def missing(message: str, spec, hint: str | None = None) -> MissingProbe:
        """The error of a spec that names nothing there is (config
        missing_probes decides in a block with others)."""
        return MissingProbe(Diagnostic(Severity.ERROR, message, spec.loc, hint))


#: One line per probe type: its module, its class, and its spellings in
#: scripts (its name first). A module is imported only when a script (or a
#: listing) names one of its spellings, so start-up pays for what it uses.
REGISTRY: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("special", "Special", ("special", "BEGIN", "END", "begin", "end")),
    ("tracepoint", "Tracepoint", ("tracepoint", "t")),
    ("timer", "Interval", ("interval", "i")),
    ("uprobe", "Uprobe", ("uprobe", "u")),
    ("uprobe", "Uretprobe", ("uretprobe", "ur")),
    ("usdt", "Usdt", ("usdt", "U")),
    ("sampling", "Profile", ("profile", "p")),
    ("sampling", "Software", ("software", "s")),
    ("sampling", "Hardware", ("hardware", "h")),
    ("net", "Xdp", ("xdp",)),
    ("net", "Tc", ("tc",)),
    ("kprobe", "Kprobe", ("kprobe", "k")),
    ("kprobe", "Kretprobe", ("kretprobe", "kr")),
    ("fentry", "Fentry", ("fentry", "kfunc", "f")),
    ("fentry", "Fexit", ("fexit", "kretfunc", "fr")),
    ("rawtracepoint", "RawTracepoint", ("rawtracepoint", "rt")),
)
_SPELLINGS = {(module, cls): spellings for module, cls, spellings in REGISTRY}


class _Registry(Mapping):
    """spelling -> Provider, importing the provider's module on first use."""

    def __init__(self):
        self._line = {s: i for i, (_, _, spellings) in enumerate(REGISTRY) for s in spellings}
        self._loaded: dict[int, Provider] = {}

    def __getitem__(self, spelling: str) -> Provider:
        i = self._line[spelling]
        provider = self._loaded.get(i)
        if provider is None:
            import importlib
            module, cls, _ = REGISTRY[i]
            mod = importlib.import_module(f"{__name__}.{module}")
            provider = self._loaded[i] = getattr(mod, cls)()
        return provider

    def __iter__(self):
        return iter(self._line)

    def __len__(self) -> int:
        return len(self._line)


_registry: _Registry | None = None


def by_name() -> _Registry:
    global _registry
    if _registry is None:
        _registry = _Registry()
    return _registry


def providers() -> tuple[Provider, ...]:
    """Every provider (imports them all: for listings and completion)."""
    registry = by_name()
    return tuple(registry[spellings[0]] for _, _, spellings in REGISTRY)


def resolvers(choices: ProbeChoices = ProbeChoices()) -> Resolvers:
    """The providers as the compiler sees them, deciding by ``choices``."""
    return Resolvers(by_name(), choices)
