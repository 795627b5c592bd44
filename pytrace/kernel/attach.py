"""The attach primitives providers share: tracefs, perf events, links.

A provider opens a perf event (tracepoint, software clock, probe PMU),
then ``attach_perf_event`` puts a loaded program on it, through a BPF link
(5.15) or the older PERF_EVENT_IOC_SET_BPF ioctl. Either way the result is
an ``Attachment`` that owns every fd involved; ``close()`` (idempotent, or
leaving an ExitStack) leaves nothing attached behind.

A BPF program on a perf event opened with ``pid=-1, cpu=0`` for a
tracepoint or probe PMU runs on every CPU: such events are not per-CPU
samplers, they fire wherever the traced code runs (tests/kernel proves it).
"""
from __future__ import annotations

import ctypes
import os
from typing import Iterable

from ..base.diagnostics import RuntimeFailure
from . import bpf
from . import perf
from . import privileges
from .bpf_consts import AttachType
from .perf import PerfAttrFlag, PerfSwConfig, PerfType

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
PMU_DIR = "/sys/bus/event_source/devices"
_MOUNT_HINT = "mount it as root: mount -t tracefs nodev /sys/kernel/tracing"

_tracefs: str | None = None


def _is_tracefs(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "events"))


def _mount_tracefs() -> int:
    """mount("nodev", TRACEFS, "tracefs", 0, NULL); returns 0 or the errno."""
    mount = bpf.libc().mount
    mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                      ctypes.c_ulong, ctypes.c_void_p]
    mount.restype = ctypes.c_int
    if mount(b"nodev", TRACEFS.encode(), b"tracefs", 0, None) != 0:
        return ctypes.get_errno()
    return 0


def tracefs_dir() -> str:
    """The tracefs mount point, mounting tracefs at /sys/kernel/tracing when
    it is missing and we may (root). Raises RuntimeFailure when it cannot."""
    global _tracefs
    if _tracefs is not None:
        return _tracefs
    for path in (TRACEFS, DEBUGFS_TRACING):
        if _is_tracefs(path):
            _tracefs = path
            return path
    if not privileges.effective_capabilities() >> privileges.Capability.SYS_ADMIN & 1:
        raise RuntimeFailure(f"tracefs is not mounted at {TRACEFS}",
                             hint=f"run pytrace as root, or {_MOUNT_HINT}")
    err = _mount_tracefs()
    if err or not _is_tracefs(TRACEFS):
        why = f": {bpf.errno_text(err)} ({bpf.errno_name(err)})" if err else ""
        raise RuntimeFailure(f"tracefs is not mounted and mounting it at {TRACEFS} failed{why}",
                             hint=_MOUNT_HINT)
    _tracefs = TRACEFS
    return TRACEFS


# -- tracepoints ---------------------------------------------------------------

def tracepoint_dir(category: str, name: str) -> str:
    return os.path.join(tracefs_dir(), "events", category, name)


def tracepoint_id(category: str, name: str) -> int:
    """The perf config of tracepoint ``category:name`` (events/CAT/NAME/id)."""
    path = os.path.join(tracepoint_dir(category, name), "id")
    try:
        with open(path, "rb") as f:
            return int(f.read())
    except FileNotFoundError:
        raise RuntimeFailure(f"tracepoint {category}:{name} does not exist",
                             hint="list them with: pytrace -l 'tracepoint:*'") from None
    except OSError as e:
        raise RuntimeFailure(f"cannot read {path}: {e.strerror}") from None


def list_tracepoints() -> list[tuple[str, str]]:
    """Every (category, name) under events/, sorted."""
    out: list[tuple[str, str]] = []
    events = os.path.join(tracefs_dir(), "events")
    with os.scandir(events) as cats:
        for cat in cats:
            if not cat.is_dir():
                continue
            with os.scandir(cat.path) as names:
                out.extend((cat.name, n.name) for n in names if n.is_dir())
    out.sort()
    return out


# -- perf events ---------------------------------------------------------------

def open_perf_event(type_: int, config: int, cpu: int, pid: int = -1, *,
                    period: int = 0, freq: int = 0, config1: int = 0, config2: int = 0,
                    flags: int = 0) -> int:
    """A perf event that starts disabled (``attach_perf_event`` enables it).
    ``freq`` asks for that many samples a second instead of every ``period``."""
    attr = perf.PerfEventAttr(type=type_, config=config, config1=config1, config2=config2,
                             flags=flags | PerfAttrFlag.DISABLED, wakeup_events=1)
    if freq:
        attr.sample_freq = freq
        attr.flags |= PerfAttrFlag.FREQ
    else:
        attr.sample_period = period or 1
    return perf.perf_event_open(attr, pid, cpu)


def open_tracepoint(tp_id: int, cpu: int = 0, pid: int = -1) -> int:
    return open_perf_event(PerfType.TRACEPOINT, tp_id, cpu, pid, period=1)


def open_cpu_clock(cpu: int, period_ns: int) -> int:
    """A cpu-clock timer on ``cpu`` firing every ``period_ns`` (interval probes)."""
    return open_perf_event(PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK, cpu, period=period_ns)


def pmu_type(pmu: str) -> int | None:
    """The dynamic perf type of a PMU (``kprobe``, ``uprobe``), None when absent."""
    try:
        with open(os.path.join(PMU_DIR, pmu, "type"), "rb") as f:
            return int(f.read())
    except OSError:
        return None


def _pmu_format_bit(pmu: str, field: str) -> int:
    """The first config bit of a PMU format field (``config:0`` -> 0)."""
    with open(os.path.join(PMU_DIR, pmu, "format", field)) as f:
        spec = f.read().strip()
    return int(spec.partition(":")[2].split("-")[0])


def _open_probe_pmu(pmu: str, target: bytes, offset: int, retprobe: bool, pid: int,
                    extra_config: int = 0) -> int:
    type_ = pmu_type(pmu)
    if type_ is None:
        raise RuntimeFailure(f"this kernel has no {pmu} perf PMU ({PMU_DIR}/{pmu})")
    config = extra_config
    if retprobe:
        config |= 1 << _pmu_format_bit(pmu, "retprobe")
    buf = ctypes.create_string_buffer(target)      # alive through the syscall
    cpu = 0 if pid == -1 else -1
    return open_perf_event(type_, config, cpu, pid, period=1,
                           config1=ctypes.addressof(buf), config2=offset)


def open_uprobe(path: str, offset: int, retprobe: bool = False, pid: int = -1,
                ref_ctr_offset: int = 0) -> int:
    """A uprobe perf event at file offset ``offset`` of ``path`` (4.17).
    ``ref_ctr_offset`` is a USDT semaphore's file offset (4.20)."""
    extra = 0
    if ref_ctr_offset:
        extra = ref_ctr_offset << _pmu_format_bit("uprobe", "ref_ctr_offset")
    return _open_probe_pmu("uprobe", os.fsencode(path), offset, retprobe, pid, extra)


def open_kprobe(function: str, offset: int = 0, retprobe: bool = False) -> int:
    """A kprobe perf event on ``function+offset`` (4.17)."""
    return _open_probe_pmu("kprobe", function.encode(), offset, retprobe, -1)


# -- attachments ---------------------------------------------------------------

class Attachment:
    """A program attached somewhere, owning the fds that keep it there."""

    def __init__(self, what: str, perf_fd: int = -1, link_fd: int = -1):
        self.what = what
        self.perf_fd = perf_fd
        self.link_fd = link_fd

    @property
    def closed(self) -> bool:
        return self.perf_fd < 0 and self.link_fd < 0

    def disable(self) -> None:
        """Stop the perf event from counting (PERF_EVENT_IOC_DISABLE). This
        stops a timer's program, but NOT a program on a tracepoint's or
        kprobe's perf event, which runs whenever the tracepoint fires: to
        stop those, close the link (``detach.stop_now`` does both)."""
        if self.perf_fd >= 0:
            try:
                perf.perf_disable(self.perf_fd)
                return
            except bpf.BpfError:
                pass
        self.close()

    def close(self) -> None:
        if self.link_fd >= 0:
            fd, self.link_fd = self.link_fd, -1
            os.close(fd)
        if self.perf_fd >= 0:
            fd, self.perf_fd = self.perf_fd, -1
            try:
                perf.perf_disable(fd)
            except bpf.BpfError:
                pass
            os.close(fd)

    def __enter__(self) -> "Attachment":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Attachment({self.what!r}, perf_fd={self.perf_fd}, link_fd={self.link_fd})"


def attach_perf_event(perf_fd: int, prog_fd: int, use_link: bool, what: str = "",
                      cookie: int = 0) -> Attachment:
    """Run ``prog_fd`` on every sample of ``perf_fd`` and enable the event.

    Takes ownership of ``perf_fd``: it belongs to the returned Attachment,
    and is closed here when attaching fails."""
    att = Attachment(what or f"perf event fd {perf_fd}", perf_fd=perf_fd)
    try:
        if use_link:
            att.link_fd = bpf.link_create(prog_fd, perf_fd, AttachType.PERF_EVENT,
                                          bpf_cookie=cookie)
        else:
            perf.perf_set_bpf(perf_fd, prog_fd)
        perf.perf_enable(perf_fd)
    except BaseException:
        att.close()
        raise
    return att


def attach_raw_tracepoint(name: str | None, prog_fd: int) -> Attachment:
    fd = bpf.raw_tracepoint_open(name, prog_fd)
    return Attachment(f"raw tracepoint {name}", link_fd=fd)


def attach_link(prog_fd: int, target_fd: int, attach_type: int, what: str = "",
                **extra) -> Attachment:
    """BPF_LINK_CREATE wrapped as an Attachment (XDP, tcx, tracing...)."""
    fd = bpf.link_create(prog_fd, target_fd, attach_type, **extra)
    return Attachment(what or f"{AttachType(attach_type).name} link", link_fd=fd)


def close_all(attachments: Iterable[Attachment]) -> None:
    """Close every attachment, even when one of the closes fails."""
    first: BaseException | None = None
    for att in attachments:
        try:
            att.close()
        except BaseException as e:   # keep going; report the first
            first = first or e
    if first is not None:
        raise first
