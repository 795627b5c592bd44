"""Attaching loaded programs to their targets through their providers."""
from __future__ import annotations

from ..base.diagnostics import RuntimeFailure
from ..lang.kernelinfo import Feature, KernelInfo


class Runtime:
    """What providers need at attach time."""

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


def attach_program(targets: list, prog_fd: int, runtime: Runtime, keep) -> None:
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
