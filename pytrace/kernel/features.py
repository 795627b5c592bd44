"""What the running kernel can do, found by trying it, cached per boot.

Each probe is a tiny real action: create a map, load (and where it matters
attach or run) a two-instruction program, or look for a sysfs file. The
answers are stored as text in ``cache_dir()/features`` keyed by the boot id,
so later runs on the same boot read one small file (no probing, no json).
A probe added later is run once and merged into the cached answers.
``masked`` features (``--no-feature``) are removed after probing, never
stored.

The ``Feature`` names live in ``lang.kernelinfo`` (the compiler reads them);
``kernel.host`` puts the probed set into the compiler's ``KernelInfo``;
``tools.info`` prints it (``--info``).
"""
from __future__ import annotations

import os
from typing import Callable

from ..base.cache import cache_dir, read_private, write_atomic
from ..lang.kernelinfo import Feature

CACHE_FORMAT = "pytrace-features 1"
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def cache_path() -> str:
    return os.path.join(cache_dir(), "features")


def boot_id() -> str:
    try:
        with open(BOOT_ID_PATH) as f:
            return f.read().strip()
    except OSError:
        return ""


# -- probes ----------------------------------------------------------------------
# Each returns True when the feature works; any exception means it does not.

def _closing(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _load(prog_type: int, insns: list, **kw) -> int:
    from ..bpf import insn as I
    from . import bpf
    return bpf.prog_load(prog_type, I.encode(insns), name="pytrace_probe", **kw)


def _ret0() -> list:
    from ..bpf.insn import Reg, exit_, mov_imm
    return [mov_imm(Reg.R0, 0), exit_()]


def _probe_ringbuf() -> bool:
    from . import bpf
    from .buffers import PAGE_SIZE
    _closing(bpf.map_create(bpf.MapType.RINGBUF, 0, 0, PAGE_SIZE, name="pytrace_probe"))
    return True


def _probe_perf_buffer() -> bool:
    from . import bpf
    from . import perf
    fd = bpf.map_create(bpf.MapType.PERF_EVENT_ARRAY, 4, 4, 1, name="pytrace_probe")
    try:
        attr = perf.PerfEventAttr(type=perf.PerfType.SOFTWARE,
                                 config=perf.PerfSwConfig.BPF_OUTPUT,
                                 sample_type=perf.PerfSampleType.RAW, sample_period=1)
        _closing(perf.perf_event_open(attr, -1, 0))
    finally:
        _closing(fd)
    return True


def _probe_raw_tracepoint() -> bool:
    from . import bpf
    prog = _load(bpf.ProgType.RAW_TRACEPOINT, _ret0())
    try:
        _closing(bpf.raw_tracepoint_open("sys_enter", prog))
    finally:
        _closing(prog)
    return True


def _probe_test_run() -> bool:
    from . import bpf
    from ..bpf.insn import Reg, exit_, mov_imm
    prog = _load(bpf.ProgType.RAW_TRACEPOINT, [mov_imm(Reg.R0, 7), exit_()])
    try:
        return bpf.prog_test_run(prog).retval == 7
    finally:
        _closing(prog)


def _probe_comm_pad() -> bool:
    """Does bpf_get_current_comm zero the buffer after the name (strscpy_pad)?
    Fill a buffer with 0xff, get our own comm into it, and read the byte one
    past its NUL (run with BPF_PROG_TEST_RUN, so 'current' is this process)."""
    from . import bpf
    from ..bpf.insn import FP, AluOp, Helper, Reg, Size, call, exit_, mov, mov_imm
    with open("/proc/self/comm") as f:
        past_nul = len(f.read().rstrip("\n").encode()) + 1
    if past_nul > 15:
        return False                      # a name this long leaves no byte to look at
    prog = _load(bpf.ProgType.RAW_TRACEPOINT, [
        mov_imm(Reg.R1, -1),
        Size.DW.store(FP, -16, Reg.R1), Size.DW.store(FP, -8, Reg.R1),
        mov(Reg.R1, FP), AluOp.ADD.imm(Reg.R1, -16), mov_imm(Reg.R2, 16),
        call(Helper.get_current_comm),
        Size.B.load(Reg.R0, FP, -16 + past_nul), exit_()])
    try:
        return bpf.prog_test_run(prog).retval == 0
    finally:
        _closing(prog)


def _probe_probe_read_user() -> bool:
    from . import bpf
    from ..bpf.insn import FP, AluOp, Helper, Reg, call, mov, mov_imm
    insns = [mov(Reg.R1, FP), AluOp.ADD.imm(Reg.R1, -8), mov_imm(Reg.R2, 8),
             mov_imm(Reg.R3, 0), call(Helper.probe_read_user), *_ret0()]
    _closing(_load(bpf.ProgType.TRACEPOINT, insns))
    return True


def _probe_percpu_lookup() -> bool:
    from . import bpf
    from ..bpf.insn import FP, AluOp, Helper, Reg, Size, call, ld_map_fd, mov, mov_imm
    m = bpf.map_create(bpf.MapType.PERCPU_ARRAY, 4, 8, 1, name="pytrace_probe")
    try:
        insns = [Size.W.store_imm(FP, -4, 0), ld_map_fd(Reg.R1, "probe", m),
                 mov(Reg.R2, FP), AluOp.ADD.imm(Reg.R2, -4), mov_imm(Reg.R3, 0),
                 call(Helper.map_lookup_percpu_elem), *_ret0()]
        _closing(_load(bpf.ProgType.TRACEPOINT, insns))
    finally:
        _closing(m)
    return True


def _probe_link() -> bool:
    from . import bpf
    from .attach import open_cpu_clock
    prog = _load(bpf.ProgType.PERF_EVENT, _ret0())
    perf = link = -1
    try:
        perf = open_cpu_clock(0, 1_000_000_000)     # disabled; never fires
        link = bpf.link_create(prog, perf, bpf.AttachType.PERF_EVENT)
    finally:
        _closing(link, perf, prog)
    return True


def _probe_map_batch() -> bool:
    """Read a one-entry hash map with BPF_MAP_LOOKUP_BATCH (5.6): the entry
    must come back whole."""
    from . import bpf
    from .bpf_consts import MapType
    fd = bpf.map_create(MapType.HASH, 4, 8, 1, name="pytrace_probe")
    try:
        bpf.map_update(fd, b"\x01\0\0\0", b"\x07" + bytes(7))
        batch = bpf.map_lookup_batch(fd, None, 4, 8, 1)
        return batch.count == 1 and batch.values == b"\x07" + bytes(7)
    finally:
        _closing(fd)


def _probe_btf() -> bool:
    return os.access("/sys/kernel/btf/vmlinux", os.R_OK)


def _probe_bounded_loops() -> bool:
    from . import bpf
    from ..bpf.insn import AluOp, JmpOp, Reg, mov_imm
    insns = [mov_imm(Reg.R0, 0), AluOp.ADD.imm(Reg.R0, 1),
             JmpOp.JLT.imm(Reg.R0, 4, -2), *_ret0()]
    _closing(_load(bpf.ProgType.RAW_TRACEPOINT, insns))
    return True


def _tracefs_file(name: str) -> bool:
    from .attach import DEBUGFS_TRACING, TRACEFS
    return any(os.path.exists(os.path.join(d, name)) for d in (TRACEFS, DEBUGFS_TRACING))


#: functions the kernel-function probes attach to for a moment: present in
#: every kernel config pytrace meets (bpf_fentry_test1 exists for exactly
#: this: BPF_PROG_TEST_RUN's test target), the others as fallbacks
PROBE_FUNCTIONS = ("bpf_fentry_test1", "do_nanosleep", "vfs_read", "ksys_read")


def _btf_func(names=PROBE_FUNCTIONS) -> tuple[int, str]:
    """(BTF id, name) of the first of ``names`` the kernel's BTF has."""
    from ..btf.reader import Btf
    from ..btf.records import BtfKind
    btf = Btf.load()
    for name in names:
        tid = btf.find(name, BtfKind.FUNC)
        if tid is not None:
            return tid, name
    raise LookupError("none of the probe functions is in BTF")


def _probe_kprobe() -> bool:
    """Load a kprobe program and attach it (perf kprobe PMU, else a
    kprobe_events entry) to a function, then let go."""
    from . import kprobes
    from . import bpf
    if not kprobes.has_pmu() and not kprobes.has_kprobe_events():
        return False
    prog = _load(bpf.ProgType.KPROBE, _ret0())
    try:
        for name in PROBE_FUNCTIONS:
            try:
                kprobes.attach_kprobe(prog, name, use_link=False).close()
                return True
            except (bpf.BpfError, OSError):
                continue
        return False
    finally:
        _closing(prog)


def _probe_tracing(attach_type: int, target: tuple[int, str]) -> bool:
    from . import bpf
    prog = _load(bpf.ProgType.TRACING, _ret0(), expected_attach_type=attach_type,
                 attach_btf_id=target[0])
    try:
        _closing(bpf.raw_tracepoint_open(None, prog))
    finally:
        _closing(prog)
    return True


def _probe_fentry() -> bool:
    """fentry must load AND attach: arm64 6.1 loads the program, then fails
    the attach with ENOTSUPP (no ftrace direct calls)."""
    from . import bpf
    return _probe_tracing(bpf.AttachType.TRACE_FENTRY, _btf_func())


def _probe_tp_btf() -> bool:
    from . import bpf
    from ..btf.reader import Btf
    from ..btf.records import BtfKind
    btf = Btf.load()
    for name in ("sched_switch", "sys_enter", "sched_process_exit"):
        tid = btf.find("btf_trace_" + name, BtfKind.TYPEDEF)
        if tid is not None:
            return _probe_tracing(bpf.AttachType.TRACE_RAW_TP, (tid, name))
    return False


def _probe_kprobe_multi() -> bool:
    from . import bpf
    prog = _load(bpf.ProgType.KPROBE, _ret0(),
                 expected_attach_type=bpf.AttachType.TRACE_KPROBE_MULTI)
    try:
        for name in PROBE_FUNCTIONS:
            try:
                _closing(bpf.link_create_kprobe_multi(prog, [name]))
                return True
            except bpf.BpfError:
                continue
        return False
    finally:
        _closing(prog)


def _probe_uprobe() -> bool:
    from .attach import pmu_type
    return pmu_type("uprobe") is not None or _tracefs_file("uprobe_events")


def _probe_uprobe_multi() -> bool:
    """As libbpf probes it: a uprobe_multi link on "/" fails with EBADF (not a
    regular file) where the kernel has the links (6.6), and one with pid -1
    fails earlier, with EINVAL, where their pid filter is by process, as it
    should be (the first kernels filtered by thread, and said EBADF here)."""
    import errno
    from . import bpf
    from .uprobes import link_create_uprobe_multi
    prog = _load(bpf.ProgType.KPROBE, _ret0(),
                 expected_attach_type=bpf.AttachType.TRACE_UPROBE_MULTI)
    try:
        for pid, expected in ((0, errno.EBADF), (-1 & 0xFFFFFFFF, errno.EINVAL)):
            try:
                _closing(link_create_uprobe_multi(prog, "/", [0], pid=pid))
                return False
            except bpf.BpfError as err:
                if err.errno != expected:
                    return False
        return True
    finally:
        _closing(prog)


def _probe_get_func_ip() -> bool:
    from . import bpf
    from ..bpf.insn import Helper, call
    _closing(_load(bpf.ProgType.KPROBE, [call(Helper.get_func_ip), *_ret0()]))
    return True


def _probe_net_link(prog_type: int, ret: int, attach_type: int, flags: int = 0) -> bool:
    """Attach a program that changes nothing to the loopback device through
    a BPF link, and detach it. EBUSY/EEXIST (another XDP program holds lo)
    still says the kernel has these links."""
    import errno
    import socket
    from . import bpf
    from ..bpf.insn import Reg, exit_, mov_imm
    prog = _load(prog_type, [mov_imm(Reg.R0, ret), exit_()], expected_attach_type=attach_type)
    link = -1
    try:
        link = bpf.link_create(prog, socket.if_nametoindex("lo"), attach_type, flags)
    except bpf.BpfError as err:
        if err.errno not in (errno.EBUSY, errno.EEXIST):
            raise
    finally:
        _closing(link, prog)
    return True


def _probe_xdp_link() -> bool:
    from . import bpf
    xdp_pass, skb_mode = 2, 1 << 1            # XDP_PASS; XDP_FLAGS_SKB_MODE (generic)
    return _probe_net_link(bpf.ProgType.XDP, xdp_pass, bpf.AttachType.XDP, skb_mode)


def _probe_tcx() -> bool:
    from . import bpf
    tcx_next = -1                             # let the next program decide
    return _probe_net_link(bpf.ProgType.SCHED_CLS, tcx_next, bpf.AttachType.TCX_INGRESS)


#: (feature, probe) in probing order; a feature without a probe is absent.
PROBES: tuple[tuple[Feature, Callable[[], bool]], ...] = (
    (Feature.RINGBUF, _probe_ringbuf),
    (Feature.PERF_BUFFER, _probe_perf_buffer),
    (Feature.RAW_TRACEPOINT, _probe_raw_tracepoint),
    (Feature.TEST_RUN, _probe_test_run),
    (Feature.PROBE_READ_USER, _probe_probe_read_user),
    (Feature.PERCPU_LOOKUP, _probe_percpu_lookup),
    (Feature.LINK, _probe_link),
    (Feature.BTF, _probe_btf),
    (Feature.BOUNDED_LOOPS, _probe_bounded_loops),
    (Feature.KPROBE, _probe_kprobe),
    (Feature.KPROBE_MULTI, _probe_kprobe_multi),
    (Feature.FENTRY, _probe_fentry),
    (Feature.TP_BTF, _probe_tp_btf),
    (Feature.UPROBE, _probe_uprobe),
    (Feature.UPROBE_MULTI, _probe_uprobe_multi),
    (Feature.GET_FUNC_IP, _probe_get_func_ip),
    (Feature.XDP_LINK, _probe_xdp_link),
    (Feature.TCX, _probe_tcx),
    (Feature.COMM_PAD, _probe_comm_pad),
    (Feature.MAP_BATCH, _probe_map_batch),
)


def run_probe(probe: Callable[[], bool]) -> bool:
    try:
        return bool(probe())
    except Exception:   # BpfError, OSError, RuntimeFailure: the feature is absent
        return False


# -- cache -------------------------------------------------------------------------

def read_cache(path: str, boot: str) -> dict[str, bool]:
    """Cached answers (feature value -> present) for this boot; {} when stale."""
    raw = read_private(path)
    if raw is None:
        return {}
    lines = raw.decode("utf-8", "replace").split("\n")
    if len(lines) < 2 or lines[0] != CACHE_FORMAT or lines[1] != f"boot {boot}" or not boot:
        return {}
    answers = {}
    for line in lines[2:]:
        name, _, present = line.partition(" ")
        if name and present in ("0", "1"):
            answers[name] = present == "1"
    return answers


def write_cache(path: str, boot: str, answers: dict[str, bool]) -> None:
    """Best effort: an unwritable cache only costs a probe next time."""
    text = "\n".join([CACHE_FORMAT, f"boot {boot}",
                      *(f"{name} {int(ok)}" for name, ok in sorted(answers.items()))]) + "\n"
    write_atomic(path, text.encode())


def probe_features(masked: frozenset[Feature] = frozenset(), use_cache: bool = True
                   ) -> frozenset[Feature]:
    """The features of the running kernel, minus ``masked``."""
    boot = boot_id()
    path = cache_path()
    answers = read_cache(path, boot) if use_cache else {}
    missing = [(f, p) for f, p in PROBES if f.value not in answers]
    if missing:
        from .privileges import has_bpf_privileges
        for feature, probe in missing:
            answers[feature.value] = run_probe(probe)
        # unprivileged answers say nothing about the kernel: do not keep them
        if use_cache and boot and has_bpf_privileges():
            write_cache(path, boot, answers)
    probed = {f.value for f, _ in PROBES}
    return frozenset(f for f in Feature
                     if f.value in probed and answers.get(f.value) and f not in masked)


# -- --info ------------------------------------------------------------------------

DESCRIPTIONS: dict[Feature, str] = {
    Feature.COMM_PAD: "bpf_get_current_comm zero-fills after the name; comm keys need no "
                      "zeroing first (newer kernels; 6.1 does not)",
    Feature.RINGBUF: "BPF ring buffer for printf/events output (Linux 5.8)",
    Feature.PERF_BUFFER: "perf event array output, the fallback (Linux 4.4)",
    Feature.TEST_RUN: "BEGIN/END run in the kernel via BPF_PROG_TEST_RUN (Linux 5.10)",
    Feature.PROBE_READ_USER: "probe_read_user/kernel helpers (Linux 5.5)",
    Feature.PERCPU_LOOKUP: "reading other CPUs' per-CPU values in programs (Linux 5.19)",
    Feature.LINK: "perf event attachments as BPF links (Linux 5.15)",
    Feature.BTF: "kernel type information, /sys/kernel/btf/vmlinux (Linux 5.4)",
    Feature.RAW_TRACEPOINT: "rawtracepoint probes (Linux 4.17)",
    Feature.TP_BTF: "BTF-typed raw tracepoints (Linux 5.5)",
    Feature.KPROBE: "kprobe/kretprobe probes (perf kprobe PMU or tracefs kprobe_events)",
    Feature.KPROBE_MULTI: "many kprobes in one link, for wildcards (Linux 5.18)",
    Feature.FENTRY: "fentry/fexit probes (Linux 5.5 x86-64, 6.0 arm64)",
    Feature.UPROBE: "uprobe/uretprobe/usdt probes",
    Feature.UPROBE_MULTI: "many uprobes in one link, for wildcards (Linux 6.6)",
    Feature.GET_FUNC_IP: "func builtin in kprobes (bpf_get_func_ip, Linux 5.15)",
    Feature.BOUNDED_LOOPS: "while/for loops in programs (Linux 5.3)",
    Feature.XDP_LINK: "xdp probes through BPF links (Linux 5.9)",
    Feature.TCX: "tc probes through tcx links (Linux 6.6)",
    Feature.MAP_BATCH: "whole maps read with BPF_MAP_LOOKUP_BATCH, not key by key (Linux 5.6)",
}


def describe_features(features: frozenset[Feature]) -> list[tuple[str, bool, str]]:
    """(name, present, what it enables) for every feature, for ``--info``."""
    return [(f.value, f in features, DESCRIPTIONS.get(f, "")) for f in Feature]
