"""The bpf(2) system call, through ctypes.

One function per command, filling the attr Structures of bpf_attrs.py with
the constants of bpf_consts.py (the enums callers pass are imported here by
name, so ``bpf.ProgType`` and ``bpf.prog_load`` come from one module).
perf_event_open(2) lives in perf.py, process limits and privilege checks
in privileges.py.

Everything takes and returns plain ints and bytes. A failed call raises
``BpfError`` naming the command and the errno; a failed program load carries
the verifier's log. Importing this module makes no syscall; libc is loaded
on first use.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import os
from ctypes import c_uint64

from ..base.diagnostics import RuntimeFailure
from .bpf_attrs import (BpfBtfInfo, BpfMapInfo, BpfProgInfo, BtfLoadAttr, EnableStatsAttr,
                        GetIdAttr, InfoAttr, LinkCreateAttr, LinkCreateKprobeMultiAttr,
                        MapBatchAttr, MapCreateAttr, MapElemAttr, ProgLoadAttr,
                        RawTracepointAttr, TestRunAttr)
from .bpf_consts import (BPF_OBJ_NAME_LEN, ENOTSUPP, AttachType, BpfCmd, KprobeMultiFlag,
                         LogLevel, StatsType, TestRunFlag, UpdateFlag)
# the vocabulary of this module's arguments, which callers name as bpf.X
from .bpf_consts import BPF_F_CURRENT_CPU, MapType, ProgType  # noqa: F401


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
    # string_at copies only the filled part (.raw would copy the whole buffer first)
    return Batch(ctypes.string_at(keys, n * key_size), ctypes.string_at(values, n * value_size),
                 n, out_token.raw, done)


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
