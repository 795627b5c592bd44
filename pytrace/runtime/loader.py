"""Loading a script into the kernel: maps and programs become fds.

A ``Loader`` holds what a session has loaded so far: the compiled script,
its kernel maps by name and its programs' fds by probe index. Every fd it
opens is closed by the ``ExitStack`` its caller hands in (the one-shot
session's, or one live probe's). A program the verifier rejects becomes an
error located in the script where the log names an instruction.
"""
from __future__ import annotations

import os
from contextlib import ExitStack

from ..base.diagnostics import CompileError, Diagnostic, RuntimeFailure, Severity
from ..lang.program import CompiledProbe, CompiledScript, MapKind, MapSpec


def _map_type(kind: MapKind) -> int:
    from ..kernel.bpf_consts import MapType
    return {MapKind.HASH: MapType.HASH, MapKind.PERCPU_HASH: MapType.PERCPU_HASH,
            MapKind.ARRAY: MapType.ARRAY, MapKind.PERCPU_ARRAY: MapType.PERCPU_ARRAY,
            MapKind.RINGBUF: MapType.RINGBUF,
            MapKind.PERF_EVENT_ARRAY: MapType.PERF_EVENT_ARRAY,
            MapKind.STACK_TRACE: MapType.STACK_TRACE, MapKind.LPM_TRIE: MapType.LPM_TRIE}[kind]


def _bpf_name(name: str) -> str:
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name.lstrip("@"))
    return (clean or "anon")[:15]


def make_room(script: CompiledScript, open_now: int) -> None:
    """Raise RLIMIT_NOFILE for a script's attach points (a perf event
    and a link each) on top of the fds already open."""
    from ..kernel import privileges
    targets = sum(len(p.targets) for p in script.probes)
    privileges.raise_rlimit_nofile(2 * targets + open_now + 64)


class Loader:
    """The script loaded so far, its maps (name -> ``kernel.maps.Map``) and
    its programs' fds (probe index -> fd)."""

    def __init__(self, verbose: bool = False):
        #: -v: print the verifier's statistics for each program
        self.verbose = verbose
        self.script: CompiledScript | None = None
        self.maps: dict = {}
        self.prog_fds: dict[int, int] = {}
        #: read whole maps with BPF_MAP_LOOKUP_BATCH (Feature.MAP_BATCH)
        self.map_batch = True

    def map_fds(self) -> dict[str, int]:
        return {name: m.fd for name, m in self.maps.items()}

    def load(self, script: CompiledScript, owner: ExitStack) -> None:
        """Every map and program of ``script`` (the one-shot session)."""
        from ..kernel import privileges
        privileges.raise_rlimit_memlock()
        self.script = script
        make_room(script, len(script.maps) + len(script.probes))
        for spec in script.maps:
            self.maps[spec.name] = create_map(spec, owner, self.map_batch)
        fds = self.map_fds()
        for probe in script.probes:
            self.prog_fds[probe.index] = self.load_program(probe, fds, owner)

    def load_program(self, probe: CompiledProbe, fds: dict[str, int], owner: ExitStack) -> int:
        """Load one program with its maps' fds; its fds are closed by ``owner``.
        A verifier rejection becomes an error located in the script."""
        from ..kernel import bpf
        from ..bpf.emit import relocate
        from ..bpf.insn import encode
        from ..providers import by_name
        insns = relocate(probe.insns, fds)
        # fentry/fexit/tp_btf programs name their attach point when loaded
        target = probe.targets[0]
        provider = by_name()[target.provider]
        prog_type = provider.prog_type(probe.kind)
        extra = dict(provider.load_options(target))
        if len(probe.funcs) > 1:
            from ..bpf.prog_btf import program_btf
            blob, func_info = program_btf(probe.funcs)
            btf_fd = bpf.btf_load(blob)
            owner.callback(os.close, btf_fd)
            extra.update(btf_fd=btf_fd, func_info=func_info)
        try:
            if self.verbose:
                res = bpf.prog_load_logged(prog_type, encode(insns), name=probe.name, **extra)
                fd = res.fd
                _verifier_stats(probe, res.log)
            else:
                fd = bpf.prog_load(prog_type, encode(insns), name=probe.name, **extra)
        except bpf.BpfError as err:
            raise rejected(probe, err) from None
        owner.callback(os.close, fd)
        return fd


def create_map(spec: MapSpec, owner: ExitStack, batch: bool = True):
    """The kernel map for ``spec``, closed by ``owner``; ``batch``: read it
    whole with BPF_MAP_LOOKUP_BATCH (else key by key)."""
    from ..kernel.maps import Map
    from ..kernel.bpf_consts import MapFlag
    # an LPM trie must be created without preallocation
    flags = MapFlag.NO_PREALLOC if spec.kind is MapKind.LPM_TRIE else 0
    m = Map.create(_map_type(spec.kind), spec.key_size, spec.value_size,
                   spec.max_entries, name=_bpf_name(spec.name), flags=flags)
    m.batch = batch
    owner.callback(m.close)
    return m


def rejected(probe: CompiledProbe, err) -> Exception:
    """The error for a program the verifier rejected: located in the script
    at the instruction the log names, else a RuntimeFailure with the log."""
    from ..bpf import verifier
    from ..bpf.insn import slot_offsets
    log = err.verifier_log or ""
    slot = verifier.failing_slot(log)
    loc = None
    if slot is not None:
        offsets = slot_offsets(probe.insns)
        for i, start in enumerate(offsets):
            if start == slot and i < len(probe.locs):
                loc = probe.locs[i]
    why = verifier.reason(log) or [str(err)]
    names = ", ".join(t.name for t in probe.targets[:3])
    message = f"the kernel's verifier rejected the program for {names}: {why[-1]}"
    helper = verifier.refused_helper(log)
    if helper is not None:
        hint = verifier.helper_hint(helper)
    else:
        hint = ("this is a bug in pytrace's code generation; please report it with the "
                "output of -d asm" if log else None)
    if loc is not None and loc.source is not None and loc.line > 0:
        return CompileError(Diagnostic(Severity.ERROR, message, loc, hint))
    return RuntimeFailure(message, hint=hint, detail="\n".join(why[:-1]) or None)


def _verifier_stats(probe: CompiledProbe, log: str) -> None:
    import sys
    lines = [ln for ln in (log or "").splitlines() if ln.startswith(("processed", "verification"))]
    print(f"{probe.name}: {probe.nslots} instructions; " + "; ".join(lines), file=sys.stderr)
