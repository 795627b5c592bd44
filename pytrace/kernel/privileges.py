"""What the process may do: raising its resource limits, and whether it has
the privileges BPF needs (root, or CAP_BPF with CAP_PERFMON)."""
from __future__ import annotations

from enum import IntEnum

from ..base.diagnostics import PrivilegeError


def raise_rlimit_memlock() -> None:
    """Lift RLIMIT_MEMLOCK (maps were charged to it before 5.11); best effort."""
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


def raise_rlimit_nofile(n: int) -> int:
    """Raise the open-file soft limit to at least ``n`` where allowed;
    returns the soft limit now in force."""
    import resource
    inf = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == inf or soft >= n:
        return soft
    try:        # raising the hard limit too needs CAP_SYS_RESOURCE
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard if hard == inf else max(hard, n)))
    except (ValueError, OSError):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n if hard == inf else min(n, hard), hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Capability(IntEnum):
    SYS_ADMIN = 21
    PERFMON = 38
    BPF = 39


def effective_capabilities() -> int:
    """The CapEff mask from /proc/self/status (0 when unreadable)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def has_bpf_privileges() -> bool:
    caps = effective_capabilities()
    if caps >> Capability.SYS_ADMIN & 1:
        return True
    return bool(caps >> Capability.BPF & 1 and caps >> Capability.PERFMON & 1)


def check_privileges() -> None:
    if not has_bpf_privileges():
        raise PrivilegeError("pytrace needs root, or the CAP_BPF and CAP_PERFMON "
                             "capabilities, to load and attach BPF programs")
