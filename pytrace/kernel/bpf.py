"""The bpf(2) system call, through ctypes.

One named ``ctypes.Structure`` per ``union bpf_attr`` variant we use and one
function per command; every bpf.h constant is named once here, as an enum.
Layouts follow include/uapi/linux/bpf.h (tests/unit/test_sys_layout.py pins
sizes and offsets). perf_event_open(2) lives in perf.py, process limits and
privilege checks in privileges.py. Attr structures may
be shorter than the running kernel's union (it zero-fills) or longer (it
accepts trailing zeros), so one layout serves old and new kernels.

Everything takes and returns plain ints and bytes. A failed call raises
``BpfError`` naming the command and the errno; a failed program load carries
the verifier's log. Importing this module makes no syscall; libc is loaded
on first use.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
from ctypes import c_char, c_int32, c_uint8, c_uint32, c_uint64
from enum import IntEnum, IntFlag

from ..base.diagnostics import RuntimeFailure


# -- constants: bpf.h ------------------------------------------------------

class BpfCmd(IntEnum):
    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    OBJ_PIN = 6
    OBJ_GET = 7
    PROG_ATTACH = 8
    PROG_DETACH = 9
    PROG_TEST_RUN = 10
    PROG_GET_NEXT_ID = 11
    MAP_GET_NEXT_ID = 12
    PROG_GET_FD_BY_ID = 13
    MAP_GET_FD_BY_ID = 14
    OBJ_GET_INFO_BY_FD = 15
    PROG_QUERY = 16
    RAW_TRACEPOINT_OPEN = 17
    BTF_LOAD = 18
    BTF_GET_FD_BY_ID = 19
    TASK_FD_QUERY = 20
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_GET_NEXT_ID = 23
    MAP_LOOKUP_BATCH = 24             # 5.6
    MAP_LOOKUP_AND_DELETE_BATCH = 25
    MAP_UPDATE_BATCH = 26
    MAP_DELETE_BATCH = 27
    LINK_CREATE = 28                  # 5.7
    LINK_UPDATE = 29
    LINK_GET_FD_BY_ID = 30
    LINK_GET_NEXT_ID = 31
    ENABLE_STATS = 32
    ITER_CREATE = 33
    LINK_DETACH = 34
    PROG_BIND_MAP = 35
    TOKEN_CREATE = 36


class MapType(IntEnum):
    UNSPEC = 0
    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERF_EVENT_ARRAY = 4
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    STACK_TRACE = 7
    CGROUP_ARRAY = 8
    LRU_HASH = 9
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    ARRAY_OF_MAPS = 12
    HASH_OF_MAPS = 13
    DEVMAP = 14
    SOCKMAP = 15
    CPUMAP = 16
    XSKMAP = 17
    SOCKHASH = 18
    CGROUP_STORAGE = 19
    REUSEPORT_SOCKARRAY = 20
    PERCPU_CGROUP_STORAGE = 21
    QUEUE = 22
    STACK = 23
    SK_STORAGE = 24
    DEVMAP_HASH = 25
    STRUCT_OPS = 26
    RINGBUF = 27                      # 5.8
    INODE_STORAGE = 28
    TASK_STORAGE = 29
    BLOOM_FILTER = 30
    USER_RINGBUF = 31
    CGRP_STORAGE = 32
    ARENA = 33

    @property
    def is_percpu(self) -> bool:
        return self in (MapType.PERCPU_HASH, MapType.PERCPU_ARRAY,
                        MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE)

    @property
    def is_array(self) -> bool:
        """Every key below max_entries always exists; entries cannot be deleted."""
        return self in (MapType.ARRAY, MapType.PERCPU_ARRAY)


class ProgType(IntEnum):
    UNSPEC = 0
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    CGROUP_SOCK = 9
    LWT_IN = 10
    LWT_OUT = 11
    LWT_XMIT = 12
    SOCK_OPS = 13
    SK_SKB = 14
    CGROUP_DEVICE = 15
    SK_MSG = 16
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    LWT_SEG6LOCAL = 19
    LIRC_MODE2 = 20
    SK_REUSEPORT = 21
    FLOW_DISSECTOR = 22
    CGROUP_SYSCTL = 23
    RAW_TRACEPOINT_WRITABLE = 24
    CGROUP_SOCKOPT = 25
    TRACING = 26
    STRUCT_OPS = 27
    EXT = 28
    LSM = 29
    SK_LOOKUP = 30
    SYSCALL = 31
    NETFILTER = 32


class AttachType(IntEnum):
    CGROUP_INET_INGRESS = 0
    CGROUP_INET_EGRESS = 1
    CGROUP_INET_SOCK_CREATE = 2
    CGROUP_SOCK_OPS = 3
    SK_SKB_STREAM_PARSER = 4
    SK_SKB_STREAM_VERDICT = 5
    CGROUP_DEVICE = 6
    SK_MSG_VERDICT = 7
    CGROUP_INET4_BIND = 8
    CGROUP_INET6_BIND = 9
    CGROUP_INET4_CONNECT = 10
    CGROUP_INET6_CONNECT = 11
    CGROUP_INET4_POST_BIND = 12
    CGROUP_INET6_POST_BIND = 13
    CGROUP_UDP4_SENDMSG = 14
    CGROUP_UDP6_SENDMSG = 15
    LIRC_MODE2 = 16
    FLOW_DISSECTOR = 17
    CGROUP_SYSCTL = 18
    CGROUP_UDP4_RECVMSG = 19
    CGROUP_UDP6_RECVMSG = 20
    CGROUP_GETSOCKOPT = 21
    CGROUP_SETSOCKOPT = 22
    TRACE_RAW_TP = 23
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    MODIFY_RETURN = 26
    LSM_MAC = 27
    TRACE_ITER = 28
    CGROUP_INET4_GETPEERNAME = 29
    CGROUP_INET6_GETPEERNAME = 30
    CGROUP_INET4_GETSOCKNAME = 31
    CGROUP_INET6_GETSOCKNAME = 32
    XDP_DEVMAP = 33
    CGROUP_INET_SOCK_RELEASE = 34
    XDP_CPUMAP = 35
    SK_LOOKUP = 36
    XDP = 37
    SK_SKB_VERDICT = 38
    SK_REUSEPORT_SELECT = 39
    SK_REUSEPORT_SELECT_OR_MIGRATE = 40
    PERF_EVENT = 41                   # 5.15 (links on perf events)
    TRACE_KPROBE_MULTI = 42
    LSM_CGROUP = 43
    STRUCT_OPS = 44
    NETFILTER = 45
    TCX_INGRESS = 46                  # 6.6
    TCX_EGRESS = 47
    TRACE_UPROBE_MULTI = 48
    CGROUP_UNIX_CONNECT = 49
    CGROUP_UNIX_SENDMSG = 50
    CGROUP_UNIX_RECVMSG = 51
    CGROUP_UNIX_GETPEERNAME = 52
    CGROUP_UNIX_GETSOCKNAME = 53
    NETKIT_PRIMARY = 54
    NETKIT_PEER = 55
    TRACE_KPROBE_SESSION = 56
    TRACE_UPROBE_SESSION = 57


class MapFlag(IntFlag):
    """``map_flags`` of BPF_MAP_CREATE."""
    NO_PREALLOC = 1 << 0
    NO_COMMON_LRU = 1 << 1
    NUMA_NODE = 1 << 2
    RDONLY = 1 << 3
    WRONLY = 1 << 4
    STACK_BUILD_ID = 1 << 5
    ZERO_SEED = 1 << 6
    RDONLY_PROG = 1 << 7
    WRONLY_PROG = 1 << 8
    CLONE = 1 << 9
    MMAPABLE = 1 << 10
    PRESERVE_ELEMS = 1 << 11
    INNER_MAP = 1 << 12


class UpdateFlag(IntEnum):
    """``flags`` of BPF_MAP_UPDATE_ELEM (and bpf_map_update_elem())."""
    ANY = 0        # create or update
    NOEXIST = 1    # create only
    EXIST = 2      # update only
    LOCK = 4       # spin_lock-ed update


class ProgLoadFlag(IntFlag):
    STRICT_ALIGNMENT = 1 << 0
    ANY_ALIGNMENT = 1 << 1
    TEST_RND_HI32 = 1 << 2
    TEST_STATE_FREQ = 1 << 3
    SLEEPABLE = 1 << 4
    XDP_HAS_FRAGS = 1 << 5


class LogLevel(IntFlag):
    """``log_level`` of BPF_PROG_LOAD."""
    NONE = 0
    LOG = 1        # the instructions the verifier walked and the error
    VERBOSE = 2    # every state
    STATS = 4      # only the summary ("processed N insns ...")


class StatsType(IntEnum):
    """BPF_ENABLE_STATS types (``enum bpf_stats_type``)."""
    RUN_TIME = 0   # run_cnt / run_time_ns in bpf_prog_info, 5.8


class TestRunFlag(IntFlag):
    __test__ = False          # not a pytest class
    RUN_ON_CPU = 1 << 0               # run raw_tp programs on test.cpu
    XDP_LIVE_FRAMES = 1 << 1


#: ``flags`` of bpf_perf_event_output(): write to this CPU's ring
BPF_F_CURRENT_CPU = 0xFFFFFFFF


class RingbufFlag(IntFlag):
    """``flags`` of bpf_ringbuf_output()/submit()."""
    NO_WAKEUP = 1 << 0
    FORCE_WAKEUP = 1 << 1


class RingbufHeader(IntEnum):
    """The 8-byte header before each ring buffer record (u32 len, u32 pgoff)."""
    BUSY_BIT = 1 << 31                # the producer has not committed it yet
    DISCARD_BIT = 1 << 30             # committed but thrown away: skip
    SIZE = 8


BPF_OBJ_NAME_LEN = 16
BPF_TAG_SIZE = 8
#: errno the kernel uses internally for "not supported" (no libc name)
ENOTSUPP = 524


# -- attr structures ---------------------------------------------------------

class MapCreateAttr(ctypes.Structure):
    """BPF_MAP_CREATE."""
    _fields_ = [
        ("map_type", c_uint32), ("key_size", c_uint32), ("value_size", c_uint32),
        ("max_entries", c_uint32), ("map_flags", c_uint32), ("inner_map_fd", c_uint32),
        ("numa_node", c_uint32), ("map_name", c_char * BPF_OBJ_NAME_LEN),
        ("map_ifindex", c_uint32), ("btf_fd", c_uint32), ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32), ("btf_vmlinux_value_type_id", c_uint32),
        ("map_extra", c_uint64), ("value_type_btf_obj_fd", c_int32),
        ("map_token_fd", c_int32),
    ]


class _ValueOrNextKey(ctypes.Union):
    _fields_ = [("value", c_uint64), ("next_key", c_uint64)]


class MapElemAttr(ctypes.Structure):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM and BPF_MAP_GET_NEXT_KEY."""
    _anonymous_ = ("_u",)
    _fields_ = [("map_fd", c_uint32), ("key", c_uint64), ("_u", _ValueOrNextKey),
                ("flags", c_uint64)]


class MapBatchAttr(ctypes.Structure):
    """BPF_MAP_*_BATCH (5.6)."""
    _fields_ = [
        ("in_batch", c_uint64), ("out_batch", c_uint64), ("keys", c_uint64),
        ("values", c_uint64), ("count", c_uint32), ("map_fd", c_uint32),
        ("elem_flags", c_uint64), ("flags", c_uint64),
    ]


class _AttachProgOrBtfObj(ctypes.Union):
    _fields_ = [("attach_prog_fd", c_uint32), ("attach_btf_obj_fd", c_uint32)]


class ProgLoadAttr(ctypes.Structure):
    """BPF_PROG_LOAD, up to ``log_true_size`` (6.4)."""
    _anonymous_ = ("_attach",)
    _fields_ = [
        ("prog_type", c_uint32), ("insn_cnt", c_uint32), ("insns", c_uint64),
        ("license", c_uint64), ("log_level", c_uint32), ("log_size", c_uint32),
        ("log_buf", c_uint64), ("kern_version", c_uint32), ("prog_flags", c_uint32),
        ("prog_name", c_char * BPF_OBJ_NAME_LEN), ("prog_ifindex", c_uint32),
        ("expected_attach_type", c_uint32), ("prog_btf_fd", c_uint32),
        ("func_info_rec_size", c_uint32), ("func_info", c_uint64),
        ("func_info_cnt", c_uint32), ("line_info_rec_size", c_uint32),
        ("line_info", c_uint64), ("line_info_cnt", c_uint32), ("attach_btf_id", c_uint32),
        ("_attach", _AttachProgOrBtfObj), ("core_relo_cnt", c_uint32),
        ("fd_array", c_uint64), ("core_relos", c_uint64),
        ("core_relo_rec_size", c_uint32), ("log_true_size", c_uint32),
    ]


class BtfLoadAttr(ctypes.Structure):
    """BPF_BTF_LOAD."""
    _fields_ = [("btf", c_uint64), ("btf_log_buf", c_uint64), ("btf_size", c_uint32),
                ("btf_log_size", c_uint32), ("btf_log_level", c_uint32)]


class TestRunAttr(ctypes.Structure):
    """BPF_PROG_TEST_RUN (``attr.test``)."""
    __test__ = False          # not a pytest class
    _fields_ = [
        ("prog_fd", c_uint32), ("retval", c_uint32), ("data_size_in", c_uint32),
        ("data_size_out", c_uint32), ("data_in", c_uint64), ("data_out", c_uint64),
        ("repeat", c_uint32), ("duration", c_uint32), ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32), ("ctx_in", c_uint64), ("ctx_out", c_uint64),
        ("flags", c_uint32), ("cpu", c_uint32), ("batch_size", c_uint32),
    ]


class GetIdAttr(ctypes.Structure):
    """BPF_{PROG,MAP}_GET_NEXT_ID and BPF_{PROG,MAP}_GET_FD_BY_ID (start_id = the id)."""
    _fields_ = [("start_id", c_uint32), ("next_id", c_uint32), ("open_flags", c_uint32)]


class InfoAttr(ctypes.Structure):
    """BPF_OBJ_GET_INFO_BY_FD (``attr.info``)."""
    _fields_ = [("bpf_fd", c_uint32), ("info_len", c_uint32), ("info", c_uint64)]


class EnableStatsAttr(ctypes.Structure):
    """BPF_ENABLE_STATS (``attr.enable_stats``)."""
    _fields_ = [("type", c_uint32)]


class RawTracepointAttr(ctypes.Structure):
    """BPF_RAW_TRACEPOINT_OPEN (``attr.raw_tracepoint``)."""
    _fields_ = [("name", c_uint64), ("prog_fd", c_uint32), ("_pad", c_uint32),
                ("cookie", c_uint64)]


class _LinkPerfEvent(ctypes.Structure):
    _fields_ = [("bpf_cookie", c_uint64)]


class _LinkTracing(ctypes.Structure):
    _fields_ = [("target_btf_id", c_uint32), ("cookie", c_uint64)]


class _LinkTcx(ctypes.Structure):
    _fields_ = [("relative_fd", c_uint32), ("expected_revision", c_uint64)]


class _LinkExtra(ctypes.Union):
    _fields_ = [("target_btf_id", c_uint32), ("perf_event", _LinkPerfEvent),
                ("tracing", _LinkTracing), ("tcx", _LinkTcx)]


class LinkCreateAttr(ctypes.Structure):
    """BPF_LINK_CREATE (``attr.link_create``); ``target_fd`` is the ifindex for XDP/tcx."""
    _anonymous_ = ("_extra",)
    _fields_ = [("prog_fd", c_uint32), ("target_fd", c_uint32), ("attach_type", c_uint32),
                ("flags", c_uint32), ("_extra", _LinkExtra)]


class KprobeMultiFlag(IntFlag):
    """``link_create.kprobe_multi.flags``."""
    RETURN = 1 << 0                   # kretprobes
    UNIQUE_MATCH = 1 << 1             # 6.12


class LinkCreateKprobeMultiAttr(ctypes.Structure):
    """BPF_LINK_CREATE for BPF_TRACE_KPROBE_MULTI (5.18): the fixed part and
    ``attr.link_create.kprobe_multi``; ``syms`` points at ``cnt`` C strings,
    sorted (the kernel looks them up in order), ``cookies`` at ``cnt`` u64s."""
    _fields_ = [("prog_fd", c_uint32), ("target_fd", c_uint32), ("attach_type", c_uint32),
                ("flags", c_uint32), ("kprobe_flags", c_uint32), ("cnt", c_uint32),
                ("syms", c_uint64), ("addrs", c_uint64), ("cookies", c_uint64)]


class BpfProgInfo(ctypes.Structure):
    """struct bpf_prog_info (BPF_OBJ_GET_INFO_BY_FD on a program)."""
    _fields_ = [
        ("type", c_uint32), ("id", c_uint32), ("tag", c_uint8 * BPF_TAG_SIZE),
        ("jited_prog_len", c_uint32), ("xlated_prog_len", c_uint32),
        ("jited_prog_insns", c_uint64), ("xlated_prog_insns", c_uint64),
        ("load_time", c_uint64), ("created_by_uid", c_uint32), ("nr_map_ids", c_uint32),
        ("map_ids", c_uint64), ("name", c_char * BPF_OBJ_NAME_LEN), ("ifindex", c_uint32),
        ("gpl_compatible", c_uint32), ("netns_dev", c_uint64), ("netns_ino", c_uint64),
        ("nr_jited_ksyms", c_uint32), ("nr_jited_func_lens", c_uint32),
        ("jited_ksyms", c_uint64), ("jited_func_lens", c_uint64), ("btf_id", c_uint32),
        ("func_info_rec_size", c_uint32), ("func_info", c_uint64), ("nr_func_info", c_uint32),
        ("nr_line_info", c_uint32), ("line_info", c_uint64), ("jited_line_info", c_uint64),
        ("nr_jited_line_info", c_uint32), ("line_info_rec_size", c_uint32),
        ("jited_line_info_rec_size", c_uint32), ("nr_prog_tags", c_uint32),
        ("prog_tags", c_uint64), ("run_time_ns", c_uint64), ("run_cnt", c_uint64),
        ("recursion_misses", c_uint64), ("verified_insns", c_uint32),
        ("attach_btf_obj_id", c_uint32), ("attach_btf_id", c_uint32), ("_pad", c_uint32),
    ]

    @property
    def name_str(self) -> str:
        return self.name.decode(errors="replace")

    @property
    def tag_hex(self) -> str:
        return bytes(self.tag).hex()


class BpfMapInfo(ctypes.Structure):
    """struct bpf_map_info (BPF_OBJ_GET_INFO_BY_FD on a map)."""
    _fields_ = [
        ("type", c_uint32), ("id", c_uint32), ("key_size", c_uint32),
        ("value_size", c_uint32), ("max_entries", c_uint32), ("map_flags", c_uint32),
        ("name", c_char * BPF_OBJ_NAME_LEN), ("ifindex", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32), ("netns_dev", c_uint64),
        ("netns_ino", c_uint64), ("btf_id", c_uint32), ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32), ("btf_vmlinux_id", c_uint32),
        ("map_extra", c_uint64), ("hash", c_uint64), ("hash_size", c_uint32),
        ("_pad", c_uint32),
    ]

    @property
    def name_str(self) -> str:
        return self.name.decode(errors="replace")


class BpfBtfInfo(ctypes.Structure):
    """struct bpf_btf_info (BPF_OBJ_GET_INFO_BY_FD on a BTF object); ``name``
    is set by the caller to a buffer of ``name_len`` bytes (kernel BTF: 5.11)."""
    _fields_ = [("btf", c_uint64), ("btf_size", c_uint32), ("id", c_uint32),
                ("name", c_uint64), ("name_len", c_uint32), ("kernel_btf", c_uint32)]


# -- errors ------------------------------------------------------------------

def errno_name(err: int) -> str:
    if err == ENOTSUPP:
        return "ENOTSUPP"
    return _errno.errorcode.get(err, f"errno {err}")


def errno_text(err: int) -> str:
    if err == ENOTSUPP:
        return "Operation not supported by this kernel"
    return os.strerror(err)


class BpfError(RuntimeFailure):
    """A bpf()/perf_event_open()/ioctl call failed.

    ``call`` names the command (``BPF_PROG_LOAD``), ``errno`` is the error,
    ``verifier_log`` the verifier's text for a failed program load (rendered
    under the message).
    """

    def __init__(self, call: str, err: int, verifier_log: str | None = None,
                 hint: str | None = None):
        super().__init__(f"{call} failed: {errno_text(err)} ({errno_name(err)})",
                         hint=hint, detail=verifier_log or None)
        self.call = call
        self.errno = err
        self.verifier_log = verifier_log


# -- libc --------------------------------------------------------------------

_libc: ctypes.CDLL | None = None
_nr_bpf = _nr_perf_event_open = -1


def libc() -> ctypes.CDLL:
    """The C library (loaded once), for the few calls Python lacks."""
    global _libc, _nr_bpf, _nr_perf_event_open
    if _libc is None:
        from ..base import arch
        a = arch.current()
        try:
            lib = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        lib.ioctl.restype = ctypes.c_int
        _nr_bpf, _nr_perf_event_open = a.nr_bpf, a.nr_perf_event_open
        _libc = lib
    return _libc


def _addr(data: bytes) -> int:
    """Address of a bytes object's buffer (valid while ``data`` is referenced)."""
    return ctypes.cast(data, ctypes.c_void_p).value or 0


def _bpf(cmd: BpfCmd, attr: ctypes.Structure) -> int:
    lib = libc()
    ret = lib.syscall(ctypes.c_long(_nr_bpf), ctypes.c_long(cmd), ctypes.byref(attr),
                      ctypes.c_long(ctypes.sizeof(attr)))
    if ret < 0:
        raise BpfError(f"BPF_{cmd.name}", ctypes.get_errno())
    return ret


def _obj_name(name: str) -> bytes:
    """The kernel accepts [A-Za-z0-9_.] and 15 characters in object names."""
    out = bytes(c if (chr(c).isalnum() and c < 128) or c in b"_." else ord("_")
                for c in name.encode()[:BPF_OBJ_NAME_LEN - 1])
    return out


# -- maps --------------------------------------------------------------------

def map_create(map_type: int, key_size: int, value_size: int, max_entries: int,
               flags: int = 0, name: str = "", btf_fd: int = 0,
               btf_key_type_id: int = 0, btf_value_type_id: int = 0,
               inner_map_fd: int = 0, map_extra: int = 0) -> int:
    attr = MapCreateAttr(map_type=map_type, key_size=key_size, value_size=value_size,
                         max_entries=max_entries, map_flags=flags,
                         inner_map_fd=inner_map_fd, map_name=_obj_name(name),
                         btf_fd=btf_fd, btf_key_type_id=btf_key_type_id,
                         btf_value_type_id=btf_value_type_id, map_extra=map_extra)
    return _bpf(BpfCmd.MAP_CREATE, attr)


def map_lookup(fd: int, key: bytes, value_size: int, flags: int = 0) -> bytes | None:
    """The value under ``key`` (``value_size`` bytes: the whole per-CPU array
    for per-CPU maps), or None when there is no such key."""
    buf = ctypes.create_string_buffer(value_size)
    attr = MapElemAttr(map_fd=fd, key=_addr(key), flags=flags)
    attr.value = ctypes.addressof(buf)
    try:
        _bpf(BpfCmd.MAP_LOOKUP_ELEM, attr)
    except BpfError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return buf.raw


def map_update(fd: int, key: bytes, value: bytes, flags: int = UpdateFlag.ANY) -> None:
    attr = MapElemAttr(map_fd=fd, key=_addr(key), flags=flags)
    attr.value = _addr(value)
    _bpf(BpfCmd.MAP_UPDATE_ELEM, attr)


def map_delete(fd: int, key: bytes) -> bool:
    """Delete ``key``; False when it was not there."""
    attr = MapElemAttr(map_fd=fd, key=_addr(key))
    try:
        _bpf(BpfCmd.MAP_DELETE_ELEM, attr)
    except BpfError as e:
        if e.errno == _errno.ENOENT:
            return False
        raise
    return True


def map_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """The key after ``key`` (the first key for None); None at the end.

    For hash maps a ``key`` that is no longer in the map yields the first key
    again; callers iterating a changing map must expect repeats."""
    buf = ctypes.create_string_buffer(key_size)
    attr = MapElemAttr(map_fd=fd, key=_addr(key) if key is not None else 0)
    attr.next_key = ctypes.addressof(buf)
    try:
        _bpf(BpfCmd.MAP_GET_NEXT_KEY, attr)
    except BpfError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return buf.raw


class _Record:
    """A small result record (plain class: dataclasses cost ~0.4 ms of start-up each)."""
    __slots__ = ()

    def __init__(self, *values):
        for slot, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, slot, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other):
        return type(other) is type(self) and all(
            getattr(self, s) == getattr(other, s) for s in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{s}={getattr(self, s)!r}" for s in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Batch(_Record):
    """One BPF_MAP_LOOKUP_BATCH answer: the raw ``keys``/``values`` arrays,
    ``count`` elements in them, the ``next_token`` for the next call, and
    whether the map is exhausted (``done``)."""
    __slots__ = ("keys", "values", "count", "next_token", "done")
    keys: bytes
    values: bytes
    count: int
    next_token: bytes
    done: bool


def map_lookup_batch(fd: int, token: bytes | None, key_size: int, value_size: int,
                     count: int, delete: bool = False) -> Batch:
    """BPF_MAP_LOOKUP_BATCH (5.6) or, with ``delete``, _AND_DELETE_BATCH.

    ``token`` is None for the first call, then the previous ``next_token``.
    ``value_size`` is the per-element size the kernel copies (the whole
    per-CPU array for per-CPU maps). Raises BpfError (EINVAL, ENOTSUPP,
    EOPNOTSUPP) where the kernel or map type has no batch operations, and
    ENOSPC when ``count`` is smaller than one hash bucket."""
    token_size = max(key_size, 8)
    keys = ctypes.create_string_buffer(key_size * count)
    values = ctypes.create_string_buffer(value_size * count)
    out_token = ctypes.create_string_buffer(token_size)
    in_token = ctypes.create_string_buffer(token, token_size) if token is not None else None
    attr = MapBatchAttr(in_batch=ctypes.addressof(in_token) if in_token is not None else 0,
                        out_batch=ctypes.addressof(out_token), keys=ctypes.addressof(keys),
                        values=ctypes.addressof(values), count=count, map_fd=fd)
    cmd = BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else BpfCmd.MAP_LOOKUP_BATCH
    done = False
    try:
        _bpf(cmd, attr)
    except BpfError as e:
        if e.errno != _errno.ENOENT:
            raise
        done = True
    n = attr.count
    return Batch(keys.raw[:n * key_size], values.raw[:n * value_size], n,
                 out_token.raw, done)


def map_delete_batch(fd: int, keys: bytes, count: int) -> int:
    """BPF_MAP_DELETE_BATCH of ``count`` packed keys; returns how many went.
    Stops with BpfError(ENOENT) at the first key that is not there."""
    attr = MapBatchAttr(keys=_addr(keys), count=count, map_fd=fd)
    _bpf(BpfCmd.MAP_DELETE_BATCH, attr)
    return attr.count


def map_update_batch(fd: int, keys: bytes, values: bytes, count: int,
                     elem_flags: int = 0) -> int:
    """BPF_MAP_UPDATE_BATCH of ``count`` packed keys and values (create or
    update: the kernel takes no NOEXIST/EXIST here); returns how many went."""
    attr = MapBatchAttr(keys=_addr(keys), values=_addr(values), count=count, map_fd=fd,
                        elem_flags=elem_flags)
    _bpf(BpfCmd.MAP_UPDATE_BATCH, attr)
    return attr.count


# -- programs ----------------------------------------------------------------

class LoadResult(_Record):
    """A loaded program's fd and the verifier's log text."""
    __slots__ = ("fd", "log")
    fd: int
    log: str


_LOG_START = 256 * 1024
#: kernels before 5.2 reject log_size > UINT_MAX >> 8 (EINVAL); since 6.4 a
#: full log keeps its tail, where the error is
_LOG_MAX = (1 << 24) - 1


def _prog_load_once(attr: ProgLoadAttr, log_level: int, log_size: int
                    ) -> tuple[int, int, str, int]:
    """One BPF_PROG_LOAD: (fd or -1, errno, log, log_true_size)."""
    buf = ctypes.create_string_buffer(log_size) if log_level else None
    attr.log_level = log_level
    attr.log_size = log_size if log_level else 0
    attr.log_buf = ctypes.addressof(buf) if buf is not None else 0
    attr.log_true_size = 0
    for _ in range(5):       # the verifier may ask to be retried (EAGAIN)
        try:
            fd = _bpf(BpfCmd.PROG_LOAD, attr)
            err = 0
        except BpfError as e:
            fd, err = -1, e.errno
        if err != _errno.EAGAIN:
            break
    log = buf.value.decode(errors="replace") if buf is not None else ""
    return fd, err, log, attr.log_true_size


FUNC_INFO_REC_SIZE = 8      # struct bpf_func_info { u32 insn_off; u32 type_id; }


def _prog_load(prog_type: int, insns: bytes, license: str, name: str,
               expected_attach_type: int, attach_btf_id: int, attach_prog_fd: int,
               prog_flags: int, kern_version: int, log_level: int, log_size: int,
               btf_fd: int = 0, func_info: bytes = b"") -> LoadResult:
    lic = license.encode() + b"\0"
    attr = ProgLoadAttr(prog_type=prog_type, insn_cnt=len(insns) // 8,
                        insns=_addr(insns), license=_addr(lic),
                        kern_version=kern_version, prog_flags=prog_flags,
                        prog_name=_obj_name(name),
                        expected_attach_type=expected_attach_type,
                        attach_btf_id=attach_btf_id, attach_prog_fd=attach_prog_fd)
    if func_info:
        attr.prog_btf_fd = btf_fd
        attr.func_info_rec_size = FUNC_INFO_REC_SIZE
        attr.func_info = _addr(func_info)
        attr.func_info_cnt = len(func_info) // FUNC_INFO_REC_SIZE
    first_err = 0
    if not log_level:
        fd, first_err, _, _ = _prog_load_once(attr, 0, 0)
        if fd >= 0:
            return LoadResult(fd, "")
        log_level = LogLevel.LOG     # again, for the verifier's explanation
    size = log_size
    while True:
        fd, err, log, true_size = _prog_load_once(attr, log_level, size)
        if fd >= 0:
            return LoadResult(fd, log)
        if err == _errno.ENOSPC and size < _LOG_MAX:
            size = min(_LOG_MAX, max(size * 4, true_size + 1))
            continue
        raise BpfError("BPF_PROG_LOAD", first_err or err, verifier_log=log.rstrip("\n"))


def prog_load(prog_type: int, insns: bytes, license: str = "GPL", name: str = "",
              expected_attach_type: int = 0, attach_btf_id: int = 0,
              attach_prog_fd: int = 0, prog_flags: int = 0, kern_version: int = 0,
              log_size: int = _LOG_START, btf_fd: int = 0, func_info: bytes = b"") -> int:
    """Load a program; returns its fd.

    Loads without a log first (fast); when that fails it loads again with
    ``log_level=1`` and a buffer that grows on ENOSPC, so the BpfError
    carries the verifier's explanation and the first attempt's errno."""
    return _prog_load(prog_type, insns, license, name, expected_attach_type,
                      attach_btf_id, attach_prog_fd, prog_flags, kern_version,
                      0, log_size, btf_fd, func_info).fd


def btf_load(data: bytes, log_size: int = 64 * 1024) -> int:
    """Load a BTF blob (a program's own type information); returns its fd."""
    buf = ctypes.create_string_buffer(log_size)
    attr = BtfLoadAttr(btf=_addr(data), btf_size=len(data), btf_log_buf=ctypes.addressof(buf),
                       btf_log_size=log_size, btf_log_level=1)
    try:
        return _bpf(BpfCmd.BTF_LOAD, attr)
    except BpfError as err:
        raise BpfError("BPF_BTF_LOAD", err.errno,
                       verifier_log=buf.value.decode(errors="replace").rstrip("\n")) from None


def prog_load_logged(prog_type: int, insns: bytes, log_level: int = LogLevel.STATS,
                     license: str = "GPL", name: str = "", expected_attach_type: int = 0,
                     attach_btf_id: int = 0, attach_prog_fd: int = 0, prog_flags: int = 0,
                     kern_version: int = 0, log_size: int = _LOG_START, btf_fd: int = 0,
                     func_info: bytes = b"") -> LoadResult:
    """Load with the verifier log on (``LogLevel.STATS`` for the summary only)
    and return the fd with the log text."""
    return _prog_load(prog_type, insns, license, name, expected_attach_type,
                      attach_btf_id, attach_prog_fd, prog_flags, kern_version,
                      int(log_level) or LogLevel.LOG, log_size, btf_fd, func_info)


class RunResult(_Record):
    """BPF_PROG_TEST_RUN's answer: the program's return value and the mean
    run time (0 for raw tracepoint programs)."""
    __slots__ = ("retval", "duration_ns")
    retval: int
    duration_ns: int


def prog_test_run(prog_fd: int, ctx_in: bytes = b"", data_in: bytes = b"",
                  repeat: int = 0, cpu: int | None = None,
                  data_out_size: int = 0) -> RunResult:
    """BPF_PROG_TEST_RUN: run the program once (``repeat`` times) in the kernel.

    Raw tracepoint programs (5.10) take their arguments as ``ctx_in`` (u64s),
    need ``data_in`` empty and ``repeat`` 0, and may run on a chosen ``cpu``."""
    out = ctypes.create_string_buffer(data_out_size) if data_out_size else None
    attr = TestRunAttr(prog_fd=prog_fd, repeat=repeat,
                       data_in=_addr(data_in) if data_in else 0, data_size_in=len(data_in),
                       ctx_in=_addr(ctx_in) if ctx_in else 0, ctx_size_in=len(ctx_in),
                       data_out=ctypes.addressof(out) if out is not None else 0,
                       data_size_out=data_out_size)
    if cpu is not None:
        attr.flags = TestRunFlag.RUN_ON_CPU
        attr.cpu = cpu
    _bpf(BpfCmd.PROG_TEST_RUN, attr)
    return RunResult(attr.retval, attr.duration)


def enable_stats(stats: int = StatsType.RUN_TIME) -> int:
    """Count every program's runs (bpf_prog_info run_cnt) while the returned
    fd is open; the kernel stops counting when the last such fd closes (5.8).
    The sysctl kernel.bpf_stats_enabled does the same system-wide."""
    return _bpf(BpfCmd.ENABLE_STATS, EnableStatsAttr(type=stats))


def raw_tracepoint_open(name: str | None, prog_fd: int) -> int:
    """Attach a raw tracepoint program (``name`` None for tp_btf/fentry/fexit/lsm,
    which name their target by attach_btf_id at load time); returns a link fd."""
    cname = name.encode() + b"\0" if name is not None else None
    attr = RawTracepointAttr(name=_addr(cname) if cname else 0, prog_fd=prog_fd)
    return _bpf(BpfCmd.RAW_TRACEPOINT_OPEN, attr)


def link_create(prog_fd: int, target_fd: int, attach_type: int, flags: int = 0, *,
                target_btf_id: int = 0, bpf_cookie: int = 0, relative_fd: int = 0,
                expected_revision: int = 0) -> int:
    """BPF_LINK_CREATE (5.7). ``target_fd``: a perf event fd (PERF_EVENT, with
    an optional ``bpf_cookie``), an ifindex (XDP, TCX_*; tcx takes
    ``relative_fd``/``expected_revision``), or 0 for tracing programs (whose
    ``target_btf_id`` is optional). Returns the link fd."""
    attr = LinkCreateAttr(prog_fd=prog_fd, target_fd=target_fd,
                          attach_type=attach_type, flags=flags)
    if attach_type == AttachType.PERF_EVENT:
        attr.perf_event.bpf_cookie = bpf_cookie
    elif attach_type in (AttachType.TCX_INGRESS, AttachType.TCX_EGRESS):
        attr.tcx.relative_fd = relative_fd
        attr.tcx.expected_revision = expected_revision
    elif target_btf_id:
        attr.target_btf_id = target_btf_id
    return _bpf(BpfCmd.LINK_CREATE, attr)


def link_create_kprobe_multi(prog_fd: int, symbols: list[str], cookies: list[int] | None = None,
                             retprobe: bool = False) -> int:
    """One link putting a BPF_TRACE_KPROBE_MULTI program on every function in
    ``symbols`` (5.18), each with its cookie; returns the link fd."""
    order = sorted(range(len(symbols)), key=lambda i: symbols[i].encode())
    names = [ctypes.create_string_buffer(symbols[i].encode()) for i in order]
    syms = (c_uint64 * len(names))(*(ctypes.addressof(n) for n in names))
    attr = LinkCreateKprobeMultiAttr(prog_fd=prog_fd, attach_type=AttachType.TRACE_KPROBE_MULTI,
                                     kprobe_flags=KprobeMultiFlag.RETURN if retprobe else 0,
                                     cnt=len(names), syms=ctypes.addressof(syms))
    if cookies is not None:
        values = (c_uint64 * len(order))(*(cookies[i] for i in order))
        attr.cookies = ctypes.addressof(values)
    return _bpf(BpfCmd.LINK_CREATE, attr)


def _get_info(fd: int, info: ctypes.Structure) -> None:
    attr = InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    _bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr)


def prog_info(fd: int) -> BpfProgInfo:
    info = BpfProgInfo()
    _get_info(fd, info)
    return info


def map_info(fd: int) -> BpfMapInfo:
    info = BpfMapInfo()
    _get_info(fd, info)
    return info


def _next_id(cmd: BpfCmd, start_id: int) -> int | None:
    attr = GetIdAttr(start_id=start_id)
    try:
        _bpf(cmd, attr)
    except BpfError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return attr.next_id


def prog_get_next_id(start_id: int = 0) -> int | None:
    """The id of the loaded program after ``start_id``; None after the last."""
    return _next_id(BpfCmd.PROG_GET_NEXT_ID, start_id)


def btf_get_next_id(start_id: int = 0) -> int | None:
    """The id of the loaded BTF object after ``start_id`` (vmlinux, modules,
    programs'); None after the last."""
    return _next_id(BpfCmd.BTF_GET_NEXT_ID, start_id)


def btf_get_fd_by_id(btf_id: int) -> int:
    return _bpf(BpfCmd.BTF_GET_FD_BY_ID, GetIdAttr(start_id=btf_id))


def btf_name(fd: int) -> tuple[str, bool]:
    """(name, is kernel BTF) of a BTF object: "vmlinux", a module's name, or ""."""
    buf = ctypes.create_string_buffer(64)
    info = BpfBtfInfo(name=ctypes.addressof(buf), name_len=len(buf))
    _get_info(fd, info)
    return buf.value.decode(errors="replace"), bool(info.kernel_btf)


def prog_get_fd_by_id(prog_id: int) -> int:
    return _bpf(BpfCmd.PROG_GET_FD_BY_ID, GetIdAttr(start_id=prog_id))


def map_get_fd_by_id(map_id: int) -> int:
    return _bpf(BpfCmd.MAP_GET_FD_BY_ID, GetIdAttr(start_id=map_id))
