"""What a session is asked to do: the script, its parameters, the process
to trace, what to dump, the features to pretend missing, the limits; and
reading the last two from the command line's words and the environment."""
from __future__ import annotations

import os

from ..base.diagnostics import UsageError
from ..base.record import field, record


def _default_limits():
    from ..lang.program import Limits
    return Limits()


@record
class Options:
    text: str
    name: str = "-e"
    params: list[str] = field(default_factory=list)
    command: list[str] | None = None
    pid: int | None = None
    quiet: bool = False
    dump: frozenset[str] = frozenset()
    dry_run: bool = False
    verbose: bool = False
    masked: frozenset[Feature] = frozenset()
    limits: Limits = field(default_factory=_default_limits)
    #: stop after this many seconds (library use); None: run until told
    timeout: float | None = None
    #: --no-fallback: a kprobe never runs as fentry, nor fentry as a kprobe
    no_fallback: bool = False
    #: xdp probes replace a program already on the interface
    force: bool = False
    #: --unsafe: allow actions that change the system (drop all traffic,
    #: system(), signal(), override())
    unsafe: bool = False
    #: --include FILE (each read before the script) and -I DIR (searched
    #: first by #include)
    includes: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()

    def compile_limits(self):
        """The limits the compiler checks against, with the --unsafe gate."""
        from ..base.record import replace
        return replace(self.limits, unsafe=self.unsafe) if self.unsafe else self.limits

    def probe_choices(self):
        """What providers choosing between mechanisms (kprobe/fentry) are
        told: which features are masked on purpose, whether to fall back."""
        from ..lang.probes import ProbeChoices
        return ProbeChoices(masked=self.masked, fallback=not self.no_fallback,
                            verify_only=self.dry_run)


def limits_from_env(environ=os.environ):
    from ..lang.program import Limits
    changes = {}
    for key, field in Limits.NAMES.items():
        raw = environ.get("PYTRACE_" + key.upper())
        if raw is None:
            continue
        current = getattr(Limits(), field)
        if isinstance(current, int):
            if not raw.isdigit() or int(raw) <= 0:
                raise UsageError(f"PYTRACE_{key.upper()} must be a positive number, not '{raw}'")
            from ..lang.kernel_limits import setting_problem
            problem = len(raw) > 20 and f"{key} = {raw} is out of range" or setting_problem(
                key, int(raw))
            if problem:
                raise UsageError(f"PYTRACE_{key.upper()}: {problem}")
            changes[field] = int(raw)
        else:
            changes[field] = raw
    return Limits(**changes)


def masked_features(names: list[str]):
    from ..lang.kernelinfo import Feature
    known = {f.value: f for f in Feature}
    out = set()
    for n in names:
        if n not in known:
            raise UsageError(f"--no-feature: unknown feature '{n}' (known: "
                             f"{', '.join(sorted(known))})")
        out.add(known[n])
        if n == "link":         # no BPF links at all: xdp/tc attach through netlink too
            out |= {Feature.XDP_LINK, Feature.TCX}
    return frozenset(out)
