"""What the compiler may know about the running kernel, as one value.

The compiler (``pytrace.lang``) never reads files or makes syscalls: kernel
facts reach it through a ``KernelInfo``, a frozen record with one named
field per fact. Facts that cost something to learn (tracepoint formats,
BTF, the kernel's function and symbol lists) are callables, asked only
when a script needs them. ``kernel.host`` builds the real one (features
probed once per boot by ``kernel.features``, tracefs, BTF, kallsyms);
tests build fakes by keyword, so compiler tests run on any machine.

What the user chose (``--no-feature``, ``--no-fallback``, ``-lv``) is not a
fact of the kernel: it travels separately, as ``lang.probes.ProbeChoices``.
"""
from __future__ import annotations

from enum import Enum
from typing import Callable, Iterable

from ..base.arch import Arch
from ..base.record import record, replace


class Feature(Enum):
    """Kernel capabilities pytrace chooses between. The value is the name
    ``--no-feature NAME`` and ``--info`` use; the docstring-ish comment says
    which kernel brought it."""
    RINGBUF = "ringbuf"                  # BPF ring buffer map, 5.8
    TEST_RUN = "test_run"                # BPF_PROG_TEST_RUN on raw_tracepoint, 5.10
    PROBE_READ_USER = "probe_read_user"  # probe_read_{user,kernel}[_str], 5.5
    PERCPU_LOOKUP = "percpu_lookup"      # bpf_map_lookup_percpu_elem, 5.19
    LINK = "link"                        # BPF_LINK_CREATE for perf events, 5.15
    BTF = "btf"                          # /sys/kernel/btf/vmlinux
    RAW_TRACEPOINT = "raw_tracepoint"    # BPF_RAW_TRACEPOINT_OPEN, 4.17
    TP_BTF = "tp_btf"                    # BTF-typed raw tracepoints, 5.5
    KPROBE = "kprobe"                    # kprobes (perf PMU or tracefs)
    KPROBE_MULTI = "kprobe_multi"        # multi-kprobe links, 5.18
    FENTRY = "fentry"                    # fentry/fexit trampolines, 5.5 (x86), 6.0 (arm64)
    UPROBE = "uprobe"                    # uprobes
    UPROBE_MULTI = "uprobe_multi"        # many uprobes in one link, 6.6 (pid filter fixed)
    GET_FUNC_IP = "get_func_ip"          # bpf_get_func_ip, 5.15
    BOUNDED_LOOPS = "bounded_loops"      # backward jumps the verifier can bound, 5.3
    PERF_BUFFER = "perf_buffer"          # perf event array output, 4.4
    XDP_LINK = "xdp_link"                # XDP through a BPF link, 5.9
    TCX = "tcx"                          # tc through a BPF link (tcx), 6.6
    COMM_PAD = "comm_pad"                # bpf_get_current_comm zero-fills its buffer
    MAP_BATCH = "map_batch"              # BPF_MAP_LOOKUP_BATCH: a whole map per call, 5.6


@record(frozen=True)
class TracepointInfo:
    category: str
    name: str
    #: the event id (the record's common_type)
    id: int
    #: the record layout from the format file (a lang.types.Struct)
    args: object


@record(frozen=True)
class KernelInfo:
    arch: Arch
    features: frozenset[Feature] = frozenset()
    ncpus: int = 1
    #: "cat:name" glob -> matching (category, name) pairs, sorted
    list_tracepoints: Callable[[str], list[tuple[str, str]]] = lambda pattern: []
    #: (category, name) -> TracepointInfo, or None when there is no such tracepoint
    tracepoint: Callable[[str, str], TracepointInfo | None] = lambda cat, name: None
    #: lazily opened BTF of the kernel (btf.reader.Btf) or None
    btf: Callable[[], object | None] = lambda: None
    #: kernel version as (major, minor, patch)
    version: tuple[int, int, int] = (0, 0, 0)
    #: module name -> its BTF, split on vmlinux's (/sys/kernel/btf/MODULE), or None
    module_btf: Callable[[str], object | None] = lambda module: None
    #: kernel symbol name -> its address (``kaddr()``), or None
    symbol_address: Callable[[str], int | None] = lambda name: None
    #: module (None: vmlinux) -> the sorted functions kprobes can attach to:
    #: ftrace's list, else kallsyms' text symbols; [] when unknown (then
    #: the functions BTF describes stand in)
    traceable_functions: Callable[[str | None], list[str]] = lambda module: []
    #: module (None: vmlinux) -> the functions ftrace can hook (what
    #: kprobe_multi needs), or None when its list cannot be read
    ftrace_functions: Callable[[str | None], list[str] | None] = lambda module: None
    #: this network namespace's interfaces as (ifindex, name)
    interfaces: Callable[[], list[tuple[int, str]]] = lambda: []
    #: interface name -> its index (``redirect("eth1")``), or None
    ifindex: Callable[[str], int | None] = lambda name: None

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def without(self, masked: Iterable[Feature]) -> "KernelInfo":
        """The same kernel lacking ``masked`` (``--no-feature``); every other
        fact, and what it has learnt lazily, is shared."""
        return replace(self, features=self.features - frozenset(masked))
