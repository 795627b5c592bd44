"""Learn the mappings of processes as they are made, so stacks of processes
that have exited still symbolize — the way ``perf record`` does it.

A PERF_COUNT_SW_DUMMY event per CPU counts nothing but asks the kernel for
side-band records: PERF_RECORD_MMAP2 for every executable mapping any
process makes (the program and ld.so at exec, each library, dlopen),
PERF_RECORD_COMM with the exec flag when a process replaces its program,
PERF_RECORD_FORK when one starts. They are read from the events' rings
while tracing runs (and before maps print) into a ``UserSymbols``.
"""
from __future__ import annotations

from ..base.arch import STRUCT_ORDER
import os
import select
import struct

from .procmaps import Mapping
from .usersyms import UserSymbols

#: PERF_RECORD_MMAP2 (not in every perf.PerfRecordType listing)
RECORD_MMAP2 = 10
#: perf_event_header.misc: a COMM record caused by exec
MISC_COMM_EXEC = 1 << 13
#: perf_event_header.misc: an MMAP2 record carries a build id, not dev/inode
MISC_MMAP_BUILD_ID = 1 << 14
PROT_EXEC = 0x4
_HEADER = struct.Struct(STRUCT_ORDER + "IHH")
_MMAP2 = struct.Struct(STRUCT_ORDER + "IIQQQIIQQII")      # pid tid addr len pgoff maj min ino ino_gen prot flags
_PIDS = struct.Struct(STRUCT_ORDER + "II")
_FORK = struct.Struct(STRUCT_ORDER + "IIII")


class MmapTracker:
    """Dummy perf events on every online CPU feeding ``symbols``."""

    def __init__(self, symbols: UserSymbols, cpus: list[int], pages: int = 32):
        from ..kernel import perf
        from ..kernel.buffers import PerfRing
        self.symbols = symbols
        self.lost = 0
        self._rings: list = []
        self._epoll: select.epoll | None = select.epoll()
        flags = (perf.PerfAttrFlag.MMAP | perf.PerfAttrFlag.MMAP2 | perf.PerfAttrFlag.COMM |
                 perf.PerfAttrFlag.COMM_EXEC | perf.PerfAttrFlag.TASK |
                 perf.PerfAttrFlag.WATERMARK)
        size = pages * os.sysconf("SC_PAGE_SIZE")
        try:
            for cpu in cpus:
                attr = perf.PerfEventAttr(type=perf.PerfType.SOFTWARE,
                                         config=perf.PerfSwConfig.DUMMY, flags=flags,
                                         sample_period=1, wakeup_watermark=size // 2)
                ring = PerfRing.open(attr, cpu, pages)
                if ring is None:
                    continue
                self._rings.append(ring)
                self._epoll.register(ring.fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        assert self._epoll is not None
        return self._epoll.fileno()

    def poll(self) -> int:
        """Read every waiting record; returns how many."""
        n = 0
        for ring in self._rings:
            n += self._drain(ring)
        return n

    def _drain(self, ring) -> int:
        from ..kernel.buffers import _HEAD, _TAIL
        words, size = ring.words, ring.size
        head, tail = words[_HEAD], words[_TAIL]
        n = 0
        while tail < head:
            off = tail & (size - 1)
            rtype, misc, rsize = _HEADER.unpack_from(ring.read(off, 8))
            if rsize < 8:
                break
            rec = ring.read(off, rsize)
            tail += rsize
            self._record(rtype, misc, rec)
            n += 1
            if tail >= head:
                head = words[_HEAD]
        words[_TAIL] = tail
        return n

    def _record(self, rtype: int, misc: int, rec: bytes) -> None:
        from ..kernel.perf import PerfRecordType
        syms = self.symbols
        if rtype == RECORD_MMAP2:
            (pid, _tid, addr, length, pgoff, major, minor, ino, _gen, prot,
             _flags) = _MMAP2.unpack_from(rec, 8)
            if not prot & PROT_EXEC:
                return
            name_at = 8 + _MMAP2.size
            path = rec[name_at:rec.index(b"\0", name_at)].decode("utf-8", "surrogateescape")
            if not (path.startswith("/") or path == "[vdso]"):
                return
            if misc & MISC_MMAP_BUILD_ID:
                major = minor = ino = 0
            syms.add_mapping(pid, Mapping(addr, addr + length, pgoff, path, (major, minor), ino))
        elif rtype == PerfRecordType.COMM:
            if misc & MISC_COMM_EXEC:
                pid, _tid = _PIDS.unpack_from(rec, 8)
                syms.exec_(pid)
        elif rtype == PerfRecordType.FORK:
            pid, ppid, _tid, _ptid = _FORK.unpack_from(rec, 8)
            syms.fork(pid, ppid)
        elif rtype == PerfRecordType.LOST:
            self.lost += struct.unpack_from(STRUCT_ORDER + "Q", rec, 16)[0]

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        for ring in self._rings:
            ring.close()
        self._rings = []
