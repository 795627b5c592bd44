"""perf_event_open(2) and its ioctls, through ctypes.

The constants of include/uapi/linux/perf_event.h as enums, ``PerfEventAttr``
(the whole struct; its ``size`` field filled in) and the mmap'ed ring's
header page, the system call and the enable/disable/SET_BPF ioctls. A failed
call raises ``BpfError`` like the bpf(2) calls do.
"""
from __future__ import annotations

import ctypes
from ctypes import c_int32, c_uint8, c_uint16, c_uint32, c_uint64
from enum import IntEnum, IntFlag

from ..base.arch import HOST_ORDER, ByteOrder
from .bpf import BpfError, libc

_nr = -1


def _syscall_number() -> int:
    global _nr
    if _nr < 0:
        from ..base import arch
        _nr = arch.current().nr_perf_event_open
    return _nr


# -- constants: perf_event.h -------------------------------------------------

class PerfType(IntEnum):
    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


class PerfHwConfig(IntEnum):
    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


class PerfSwConfig(IntEnum):
    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10
    CGROUP_SWITCHES = 11


class PerfSampleType(IntFlag):
    IP = 1 << 0
    TID = 1 << 1
    TIME = 1 << 2
    ADDR = 1 << 3
    READ = 1 << 4
    CALLCHAIN = 1 << 5
    ID = 1 << 6
    CPU = 1 << 7
    PERIOD = 1 << 8
    STREAM_ID = 1 << 9
    RAW = 1 << 10
    BRANCH_STACK = 1 << 11
    REGS_USER = 1 << 12
    STACK_USER = 1 << 13
    WEIGHT = 1 << 14
    DATA_SRC = 1 << 15
    IDENTIFIER = 1 << 16


class PerfAttrFlag(IntFlag):
    """The bits of perf_event_attr's bitfield word (``PerfEventAttr.flags``)."""
    DISABLED = 1 << 0
    INHERIT = 1 << 1
    PINNED = 1 << 2
    EXCLUSIVE = 1 << 3
    EXCLUDE_USER = 1 << 4
    EXCLUDE_KERNEL = 1 << 5
    EXCLUDE_HV = 1 << 6
    EXCLUDE_IDLE = 1 << 7
    MMAP = 1 << 8
    COMM = 1 << 9
    FREQ = 1 << 10                    # sample_freq, not sample_period
    INHERIT_STAT = 1 << 11
    ENABLE_ON_EXEC = 1 << 12
    TASK = 1 << 13
    WATERMARK = 1 << 14               # wakeup_watermark, not wakeup_events
    PRECISE_IP_1 = 1 << 15            # precise_ip is a 2-bit field
    PRECISE_IP_2 = 1 << 16
    MMAP_DATA = 1 << 17
    SAMPLE_ID_ALL = 1 << 18
    EXCLUDE_HOST = 1 << 19
    EXCLUDE_GUEST = 1 << 20
    EXCLUDE_CALLCHAIN_KERNEL = 1 << 21
    EXCLUDE_CALLCHAIN_USER = 1 << 22
    MMAP2 = 1 << 23
    COMM_EXEC = 1 << 24
    USE_CLOCKID = 1 << 25
    CONTEXT_SWITCH = 1 << 26
    WRITE_BACKWARD = 1 << 27
    NAMESPACES = 1 << 28
    KSYMBOL = 1 << 29
    BPF_EVENT = 1 << 30
    AUX_OUTPUT = 1 << 31
    CGROUP = 1 << 32
    TEXT_POKE = 1 << 33
    BUILD_ID = 1 << 34
    INHERIT_THREAD = 1 << 35
    REMOVE_ON_EXEC = 1 << 36
    SIGTRAP = 1 << 37


class PerfRecordType(IntEnum):
    """``perf_event_header.type`` of records in a perf ring."""
    MMAP = 1
    LOST = 2
    COMM = 3
    EXIT = 4
    THROTTLE = 5
    UNTHROTTLE = 6
    FORK = 7
    READ = 8
    SAMPLE = 9


class PerfFlag(IntFlag):
    """``flags`` argument of perf_event_open(2)."""
    FD_NO_GROUP = 1 << 0
    FD_OUTPUT = 1 << 1
    PID_CGROUP = 1 << 2
    FD_CLOEXEC = 1 << 3


_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _ioc(direction: int, kind: str, nr: int, size: int) -> int:
    # asm-generic/ioctl.h (x86, arm, arm64, riscv): dir:2 size:14 type:8 nr:8
    return direction << 30 | size << 16 | ord(kind) << 8 | nr


def _IO(kind: str, nr: int) -> int:
    return _ioc(_IOC_NONE, kind, nr, 0)


def _IOW(kind: str, nr: int, size: int) -> int:
    return _ioc(_IOC_WRITE, kind, nr, size)


class PerfIoctl(IntEnum):
    ENABLE = _IO("$", 0)
    DISABLE = _IO("$", 1)
    REFRESH = _IO("$", 2)
    RESET = _IO("$", 3)
    PERIOD = _IOW("$", 4, 8)          # __u64
    SET_OUTPUT = _IO("$", 5)
    SET_FILTER = _IOW("$", 6, 8)      # char *
    SET_BPF = _IOW("$", 8, 4)         # __u32 prog fd
    PAUSE_OUTPUT = _IOW("$", 9, 4)


class _PeriodOrFreq(ctypes.Union):
    _fields_ = [("sample_period", c_uint64), ("sample_freq", c_uint64)]


class _WakeupEventsOrWatermark(ctypes.Union):
    _fields_ = [("wakeup_events", c_uint32), ("wakeup_watermark", c_uint32)]


class _Config1(ctypes.Union):
    _fields_ = [("config1", c_uint64), ("bp_addr", c_uint64),
                ("kprobe_func", c_uint64), ("uprobe_path", c_uint64)]


class _Config2(ctypes.Union):
    _fields_ = [("config2", c_uint64), ("bp_len", c_uint64),
                ("kprobe_addr", c_uint64), ("probe_offset", c_uint64)]


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr up to ``config3`` (PERF_ATTR_SIZE_VER8, 136 bytes).

    The bitfield word is ``flags`` (``PerfAttrFlag``); the unions are plain
    u64 fields under all their names (``sample_period``/``sample_freq``,
    ``config1``/``kprobe_func``/``uprobe_path``, ``config2``/``probe_offset``...).
    ``size`` is filled in by the constructor.
    """
    _anonymous_ = ("_period", "_wakeup", "_config1", "_config2")
    _fields_ = [
        ("type", c_uint32), ("size", c_uint32), ("config", c_uint64),
        ("_period", _PeriodOrFreq), ("sample_type", c_uint64), ("read_format", c_uint64),
        ("_bits", c_uint64), ("_wakeup", _WakeupEventsOrWatermark), ("bp_type", c_uint32),
        ("_config1", _Config1), ("_config2", _Config2), ("branch_sample_type", c_uint64),
        ("sample_regs_user", c_uint64), ("sample_stack_user", c_uint32),
        ("clockid", c_int32), ("sample_regs_intr", c_uint64), ("aux_watermark", c_uint32),
        ("sample_max_stack", c_uint16), ("_reserved_2", c_uint16),
        ("aux_sample_size", c_uint32), ("aux_action", c_uint32), ("sig_data", c_uint64),
        ("config3", c_uint64),
    ]

    def __init__(self, **fields):
        super().__init__(**fields)
        self.size = ctypes.sizeof(self)

    # C allocates bitfields from the word's low bit on little-endian ABIs and
    # from its high bit on big-endian ones (s390x: ``disabled`` is bit 63);
    # ``flags`` is always PerfAttrFlag's numbering, ``_bits`` the word as stored
    @property
    def flags(self) -> int:
        return bitfield_word(self._bits, self._order)

    @flags.setter
    def flags(self, value: int) -> None:
        self._bits = bitfield_word(int(value), self._order)

    _order = HOST_ORDER


def bitfield_word(value: int, order: ByteOrder) -> int:
    """PerfAttrFlag bits <-> the u64 a compiler for ``order`` lays the
    bitfields out in (an involution: the same call converts back)."""
    if order is ByteOrder.LITTLE:
        return value
    return int(f"{value:064b}"[::-1], 2)


class PerfEventMmapPage(ctypes.Structure):
    """struct perf_event_mmap_page: the first page of a perf ring mapping."""
    _fields_ = [
        ("version", c_uint32), ("compat_version", c_uint32), ("lock", c_uint32),
        ("index", c_uint32), ("offset", ctypes.c_int64), ("time_enabled", c_uint64),
        ("time_running", c_uint64), ("capabilities", c_uint64), ("pmc_width", c_uint16),
        ("time_shift", c_uint16), ("time_mult", c_uint32), ("time_offset", c_uint64),
        ("time_zero", c_uint64), ("size", c_uint32), ("_reserved_1", c_uint32),
        ("time_cycles", c_uint64), ("time_mask", c_uint64),
        ("_reserved", c_uint8 * (116 * 8)),
        ("data_head", c_uint64), ("data_tail", c_uint64), ("data_offset", c_uint64),
        ("data_size", c_uint64), ("aux_head", c_uint64), ("aux_tail", c_uint64),
        ("aux_offset", c_uint64), ("aux_size", c_uint64),
    ]


class PerfEventHeader(ctypes.Structure):
    """struct perf_event_header: the start of every record in a perf ring."""
    _fields_ = [("type", c_uint32), ("misc", c_uint16), ("size", c_uint16)]


# -- perf events -------------------------------------------------------------

def perf_event_open(attr: PerfEventAttr, pid: int, cpu: int, group_fd: int = -1,
                    flags: int = PerfFlag.FD_CLOEXEC) -> int:
    lib = libc()
    ret = lib.syscall(ctypes.c_long(_syscall_number()), ctypes.byref(attr),
                      ctypes.c_long(pid), ctypes.c_long(cpu), ctypes.c_long(group_fd),
                      ctypes.c_long(flags))
    if ret < 0:
        raise BpfError("perf_event_open", ctypes.get_errno())
    return ret


def _perf_ioctl(fd: int, request: PerfIoctl, arg: int = 0) -> None:
    from ..base import arch
    number = arch.current().ioctl.convert(int(request))     # ppc64le: another _IOC
    ret = libc().ioctl(ctypes.c_int(fd), ctypes.c_ulong(number), ctypes.c_long(arg))
    if ret < 0:
        raise BpfError(f"PERF_EVENT_IOC_{request.name}", ctypes.get_errno())


def perf_enable(fd: int) -> None:
    _perf_ioctl(fd, PerfIoctl.ENABLE)


def perf_disable(fd: int) -> None:
    _perf_ioctl(fd, PerfIoctl.DISABLE)


def perf_set_bpf(fd: int, prog_fd: int) -> None:
    """Attach a program to a perf event the pre-link way (4.1+)."""
    _perf_ioctl(fd, PerfIoctl.SET_BPF, prog_fd)
