"""Attaching loaded programs to their targets through their providers, and
taking them away again.

An ``Attacher`` sweeps what a killed pytrace left behind (once per probe
type), runs BEGIN/END programs once (``Provider.run_once``) and attaches
the others, handing every ``Attachment`` to its owner as soon as it exists.
``Attachments`` is such an owner: the one-shot session has one; each probe
of the live session owns its own. Tear-down stops every program at once
(links close side by side, ``detach.stop_now``) and leaves the slow part
to a closer process (``detach.tear_down``).

A target a wildcard matched that cannot attach (``tracepoint:*:*`` matches
``ftrace:function``, which refuses BPF) is skipped with one warning line;
the run goes on with the others, as bpftrace does. A probe written out in
full that cannot attach ends the run.
"""
from __future__ import annotations

from ..base.diagnostics import RuntimeFailure
from ..lang.kernelinfo import Feature, KernelInfo
from ..lang.program import CompiledProbe


class AttachContext:
    """What providers need at attach time (the ``runtime`` they are handed)."""

    def __init__(self, kernel: KernelInfo, pid: int | None = None, cpid: int | None = None,
                 force: bool = False, warn=None):
        self.kernel = kernel
        #: where a skipped wildcard target's warning line goes
        self.warn = warn or _stderr_line
        #: how many targets were skipped (they cannot attach)
        self.skipped = 0
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


def _stderr_line(text: str) -> None:
    import sys
    sys.stderr.write(text + "\n")


class Attachments:
    """Attachments in the order they were made; ``close`` takes them all away."""

    def __init__(self):
        #: every attachment made, for stopping them all at once
        self.live: list = []

    def keep(self, attachment) -> None:
        self.live.append(attachment)

    def stop_now(self) -> None:
        """Stop every program now (links close side by side) and hand the
        perf events left (slow to close for tracepoints and uprobes) to a
        closer process."""
        from .detach import hand_off, stop_now
        stop_now(self.live)
        hand_off(self.live)

    def close(self) -> None:
        """Take every attachment away (``detach.tear_down``); idempotent."""
        from .detach import tear_down
        live, self.live = self.live, []
        tear_down(live)


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
            if not all(t.wildcard for t in group):
                what = group[0].name + (f" and {len(group) - 1} more" if len(group) > 1 else "")
                raise _attach_failure(what, err) from None
            got = None                  # one at a time, to skip those that fail
        if got is not None:
            for a in got:
                keep(a)
            continue
        for target in group:
            try:
                got = provider.attach(target, prog_fd, runtime)
            except (OSError, RuntimeFailure) as err:
                failure = _attach_failure(target.name, err)
                if not target.wildcard or _fatal(err):
                    raise failure from None
                runtime.skipped += 1
                runtime.warn(f"warning: {failure}; skipped")
                continue
            for a in got:
                keep(a)


def _fatal(err: Exception) -> bool:
    """Failures that no other target would escape (out of files or memory)."""
    import errno
    return getattr(err, "errno", None) in (errno.EMFILE, errno.ENFILE, errno.ENOMEM)


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
