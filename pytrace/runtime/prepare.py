"""Before a session compiles: privileges, the kernel's facts, the processes
it traces (the -c child, held until every probe is attached; the -p
process) and the constants compiled into its programs."""
from __future__ import annotations

from contextlib import ExitStack

from ..lang.kernelinfo import KernelInfo


def learn_kernel(options) -> KernelInfo:
    """Check privileges and learn the running kernel (``options.masked``
    features pretended missing)."""
    from ..kernel import host
    from ..kernel import features
    from ..kernel.privileges import check_privileges
    check_privileges()
    feats = features.probe_features(options.masked)
    kernel = host.build(feats, options.limits.max_strlen)
    return kernel


def start_processes(options, owner: ExitStack):
    """(the -c child, held; the -p process watched), each None when not
    asked for; ``owner`` closes them."""
    child = watched = None
    if options.command:
        from .child import Child
        child = Child(options.command)
        owner.callback(child.close)
    if options.pid is not None:
        from .child import Watched
        watched = Watched(options.pid)
        owner.callback(watched.close)
    return child, watched


def program_constants(options, child) -> dict[str, int]:
    """Values compiled into programs: the start time, cpid, the -p filter."""
    import time
    constants = {"start_ns": time.monotonic_ns()}
    if child is not None:
        constants["cpid"] = child.pid
    if options.pid is not None:
        constants["filter_pid"] = options.pid
        constants.setdefault("cpid", options.pid)
    return constants
