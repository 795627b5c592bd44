"""Attaching loaded programs to their targets through their providers, and
taking them away again.

An ``Attacher`` sweeps what a killed pytrace left behind (once per probe
type), runs BEGIN/END programs once (``Provider.run_once``) and attaches
the others, handing every ``Attachment`` to its owner as soon as it exists.
``Attachments`` is such an owner: the one-shot session has one; each probe
of the live session owns its own. Tear-down stops every program at once
(links close side by side, ``detach.stop_now``) before the slow part.
"""
from __future__ import annotations

from contextlib import ExitStack

from ..base.diagnostics import RuntimeFailure
from ..lang.kernelinfo import Feature, KernelInfo
from ..lang.program import CompiledProbe


class AttachContext:
    """What providers need at attach time (the ``runtime`` they are handed)."""

    def __init__(self, kernel: KernelInfo, pid: int | None = None, cpid: int | None = None,
                 force: bool = False):
        self.kernel = kernel
        #: --force: xdp probes replace a program already on their interface
        self.force = force
        #: -p PID: per-process probes (uprobes, timers) attach to this process only
        self.pid = pid
        #: the -c child's pid
        self.cpid = cpid
        self.use_link = kernel.has(Feature.LINK)
        from ..kernel.maps import online_cpus
        cpus = online_cpus()
        self.cpus = cpus
        self.first_cpu = cpus[0] if cpus else 0


class Attachments:
    """Attachments in the order they were made, each closed by ``stack``."""

    def __init__(self):
        self.stack = ExitStack()
        #: every attachment made, for stopping them all at once
        self.live: list = []

    def keep(self, attachment) -> None:
        self.stack.callback(attachment.close)
        self.live.append(attachment)

    def stop_now(self) -> None:
        """Stop every program now (links close side by side); closing the
        perf events left (slow for tracepoints) is the stack's."""
        from .detach import stop_now
        stop_now(self.live)


class Attacher:
    """Attaches (or runs once) loaded programs through their providers."""

    def __init__(self, context: AttachContext):
        self.context = context
        self._swept: set[str] = set()

    def sweep(self, probes: list[CompiledProbe]) -> None:
        """Remove what a killed pytrace left behind, for each probe type of
        ``probes`` not swept before."""
        from ..providers import by_name
        registry = by_name()
        for name in sorted({t.provider for p in probes for t in p.targets} - self._swept):
            registry[name].sweep(self.context)
            self._swept.add(name)

    def run_once(self, probe: CompiledProbe, prog_fd: int) -> None:
        """Run a BEGIN/END program now (``ProbeContext.runs_once``)."""
        from ..providers import by_name
        target = probe.targets[0]
        by_name()[target.provider].run_once(target, prog_fd, self.context)

    def attach(self, probe: CompiledProbe, prog_fd: int, keep) -> None:
        """Attach ``probe``'s program to all its targets (see attach_program)."""
        attach_program(probe.targets, prog_fd, self.context, keep)


def attach_program(targets: list, prog_fd: int, runtime: AttachContext, keep) -> None:
    """Attach one loaded program to its targets, handing each Attachment to
    ``keep`` as soon as it exists, so a failure midway leaves none unowned.
    A provider may take all of its targets at once (``attach_group``: one
    kprobe_multi link for a wildcard); else they attach one at a time."""
    from ..providers import by_name
    registry = by_name()
    by_provider: dict[str, list] = {}
    for target in targets:
        by_provider.setdefault(target.provider, []).append(target)
    for name, group in by_provider.items():
        provider = registry[name]
        try:
            got = provider.attach_group(group, prog_fd, runtime)
        except (OSError, RuntimeFailure) as err:
            what = group[0].name + (f" and {len(group) - 1} more" if len(group) > 1 else "")
            raise _attach_failure(what, err) from None
        if got is not None:
            for a in got:
                keep(a)
            continue
        for target in group:
            try:
                got = provider.attach(target, prog_fd, runtime)
            except (OSError, RuntimeFailure) as err:
                raise _attach_failure(target.name, err) from None
            for a in got:
                keep(a)


def _attach_failure(name: str, err: Exception) -> RuntimeFailure:
    import errno
    code = getattr(err, "errno", None)
    why = getattr(err, "strerror", None) or str(err)
    hint = getattr(err, "hint", None)      # a provider's own advice (RuntimeFailure)
    if code == errno.EMFILE:
        hint = ("every probe needs open files; pytrace raised its limit as far as the hard "
                "limit allows: raise that (ulimit -Hn) or attach to fewer probes")
    elif code in (errno.ENOENT, errno.EINVAL):
        hint = f"check that {name} exists: pytrace -l '{name}'"
    return RuntimeFailure(f"cannot attach {name}: {why}", hint=hint)
