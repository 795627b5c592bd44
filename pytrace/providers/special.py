"""``BEGIN`` and ``END``: run once, at start-up and at the end.

Their programs are raw-tracepoint programs run once with BPF_PROG_TEST_RUN
(Linux 5.10). Where the kernel cannot test-run them, each is attached to the
``syscalls:sys_enter_getpgid`` tracepoint, filtered to pytrace's own process,
and pytrace makes that syscall once.
"""
from __future__ import annotations

import os

from ..lang.kernelinfo import Feature
from ..lang.probes import ProbeContext, ProgKind, Target
from . import Provider

FALLBACK_TRACEPOINT = ("syscalls", "sys_enter_getpgid")
NAMES = {"BEGIN": "BEGIN", "begin": "BEGIN", "END": "END", "end": "END"}


class Special(Provider):
    doc = "BEGIN / END: run once when tracing starts / ends"
    whole_probes = ("BEGIN", "END")
    #: pt0_BEGIN, pt1_END
    prog_name_prefix = ""

    def expand(self, spec, kernel) -> list[Target]:
        which = NAMES.get(spec.text)
        if which is None:
            raise self.fail(f"unknown probe '{spec.text}'", spec,
                            "probes are BEGIN, END or PROVIDER:..., e.g. tracepoint:syscalls:*")
        if kernel.has(Feature.TEST_RUN):
            ctx = ProbeContext(ProgKind.RAW_TRACEPOINT, args_missing=f"{which} has no 'args'",
                               runs_once=True)
            return [Target("special", which, ctx, None)]
        info = kernel.tracepoint(*FALLBACK_TRACEPOINT)
        if info is None:
            raise self.fail(
                f"{which} cannot run on this kernel: it needs BPF_PROG_TEST_RUN on raw "
                "tracepoints (Linux 5.10) or the syscalls:sys_enter_getpgid tracepoint", spec)
        ctx = ProbeContext(ProgKind.TRACEPOINT, args_missing=f"{which} has no 'args'",
                           only_tgid=os.getpid(), runs_once=True)
        return [Target("special", which, ctx, info.id)]

    def run_once(self, target: Target, prog_fd: int, runtime) -> None:
        """Run the program once, now."""
        from ..kernel import bpf as sys
        if target.context.kind is ProgKind.RAW_TRACEPOINT:
            sys.prog_test_run(prog_fd)
            return
        from ..kernel import attach     # perf events: only on the fallback path
        fd = attach.open_tracepoint(target.data)
        with attach.attach_perf_event(fd, prog_fd, runtime.use_link, what=target.name):
            os.getpgid(0)

    def run_once_how(self, target: Target) -> str:
        if target.context.kind is ProgKind.RAW_TRACEPOINT:
            return "BPF_PROG_TEST_RUN"
        return "getpgid tracepoint"

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        return []

    def listing(self, pattern: str, kernel) -> list[str]:
        return ["BEGIN", "END"]
