"""Readers for the records BPF programs send to userspace.

Both readers share one interface::

    reader.poll(timeout_ms, limit) -> int   # records handled; 0 = wait none, -1 = forever;
                                            # at most ``limit`` (None: all waiting)
    reader.discard() -> int          # skip every record waiting; how many were skipped
    reader.lost                      # records the kernel dropped (counted)
    reader.fileno()                  # an epoll fd: readable when records wait
    reader.close()

and call ``callback(data: bytes)`` once per record, in ring order. ``data``
is a copy, so the callback may keep it. Records are read in batches: the
records waiting (up to ``limit``) are copied out, the consumer position is
written once for the batch (handing the space back to the kernel), then the
callbacks run; an exception in a callback propagates without replaying the
record, and the rest of its batch is dropped. ``limit`` lets a caller under
a flood look at other things (a signal) between batches: without it a
reader whose producer is faster would never return.

``RingBufferReader``: BPF_MAP_TYPE_RINGBUF (Linux 5.8), one ring for all
CPUs, records in commit order. Drops happen in the program
(bpf_ringbuf_output() fails), so ``lost`` stays 0 here: count them there.

``PerfBufferReader``: BPF_MAP_TYPE_PERF_EVENT_ARRAY (4.4), one ring per CPU;
records of different CPUs are not ordered. The kernel counts drops and
reports them as PERF_RECORD_LOST once there is room again (``lost``; pytrace's
programs also count their failed outputs, which is exact). Payloads are
what the program passed to bpf_perf_event_output(), followed by up to 7
bytes of padding (perf rounds the sample up to 8 bytes).

Word sizes: the ring buffer's consumer and producer positions are the
kernel's ``unsigned long`` (kernel/bpf/ringbuf.c): 4 bytes on 32-bit
machines, where the next 4 bytes after producer_pos are pending_pos
(Linux 6.9, and 6.1.y since 6.1.9x), not the high half of a 64-bit
position. They are read as the architecture's word (``Arch.long_format``)
and compared modulo its width, so they may wrap. A producer further ahead
than the ring is long can only be a misread layout: it is an error, never
a loop. The perf ring's data_head and data_tail are __u64 everywhere.

Memory ordering: Python reads and writes the ring positions as aligned
words, which is exactly what the kernel's protocol needs on x86-64
(TSO); weakly ordered CPUs rely on the interpreter's own barriers.
"""
from __future__ import annotations

import errno
import mmap
import os
import select
import struct
from typing import Callable

from ..base import arch
from ..base.arch import STRUCT_ORDER
from . import bpf

from .bpf_consts import RingbufHeader

Callback = Callable[[bytes], object]

PAGE_SIZE = mmap.PAGESIZE
_BUSY = int(RingbufHeader.BUSY_BIT)
_DISCARD = int(RingbufHeader.DISCARD_BIT)
_LEN_MASK = ~(_BUSY | _DISCARD) & 0xFFFFFFFF
_RB_HDR = int(RingbufHeader.SIZE)
#: records copied out per step of discard()
_DISCARD_BATCH = 65536


def _epoll_wait(ep: select.epoll, timeout_ms: int) -> list[tuple[int, int]]:
    try:
        return ep.poll(-1 if timeout_ms < 0 else timeout_ms / 1000.0)
    except InterruptedError:  # pragma: no cover - PEP 475 retries for us
        return []


class _Reader:
    """What both readers share: an epoll fd to wait on, and a poll() that
    handles what is waiting or waits for the kernel's wakeup. Subclasses
    set ``_epoll`` and implement ``_consume`` and ``close``."""
    _epoll: select.epoll | None = None

    def fileno(self) -> int:
        assert self._epoll is not None, "reader is closed"
        return self._epoll.fileno()

    def poll(self, timeout_ms: int = -1, limit: int | None = None) -> int:
        """Handle the records waiting (at most ``limit``); when there is
        none, wait up to ``timeout_ms`` for the kernel's wakeup and handle
        what came."""
        n = self._run(self._consume(limit))
        if n or timeout_ms == 0:
            return n
        _epoll_wait(self._epoll, timeout_ms)
        return self._run(self._consume(limit))

    #: when set, called with each batch (a list of records) instead of
    #: ``callback`` once per record: the caller's loop, not ours
    batch_callback: Callable[[list], None] | None = None

    def _run(self, batch: list) -> int:
        if self.batch_callback is not None:
            if batch:
                self.batch_callback(batch)
            return len(batch)
        callback = self.callback
        for data in batch:
            callback(data)
        return len(batch)

    def _consume(self, limit: int | None) -> list:
        """Copy out up to ``limit`` waiting records (None: all), handing
        their space back to the kernel."""
        raise NotImplementedError

    def discard(self) -> int:
        """Skip every record waiting without handling it; how many."""
        n = 0
        while batch := self._consume(_DISCARD_BATCH):
            n += len(batch)
        return n

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RingBufferReader(_Reader):
    """Consume a BPF ring buffer map through its mmap'ed pages.

    Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos (we write it),
    page 1 producer_pos, then the data pages, mapped twice in a row so a
    record crossing the end of the ring reads as one contiguous slice.
    """

    def __init__(self, map_fd: int, size: int, callback: Callback):
        if size <= 0 or size & (size - 1) or size % PAGE_SIZE:
            raise ValueError(f"ring buffer size {size} is not a power-of-2 multiple of the page size")
        self._epoll: select.epoll | None = None
        consumer = mmap.mmap(map_fd, PAGE_SIZE, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        try:
            producer = mmap.mmap(map_fd, PAGE_SIZE + 2 * size, mmap.MAP_SHARED,
                                 mmap.PROT_READ, offset=PAGE_SIZE)
        except BaseException:
            consumer.close()
            raise
        self._setup(consumer, producer, size, callback, arch.current().long_format)
        self._epoll = select.epoll()
        self._epoll.register(map_fd, select.EPOLLIN)

    @classmethod
    def over(cls, consumer, producer, size: int, callback: Callback,
             long_format: str) -> "RingBufferReader":
        """A reader of rings already in memory (``consumer``: the consumer
        page, ``producer``: the producer page and the data twice), their
        positions ``long_format`` words ("I" on 32-bit machines): for tests,
        which fake other machines' layouts. ``poll`` needs an epoll fd:
        call ``_consume``."""
        self = cls.__new__(cls)
        self._epoll = None
        self._setup(consumer, producer, size, callback, long_format)
        return self

    def _setup(self, consumer, producer, size: int, callback: Callback,
               long_format: str) -> None:
        self.callback = callback
        self.size = size
        self.lost = 0
        self._mask = size - 1
        self._consumer, self._producer = consumer, producer
        #: positions are unsigned long: they wrap at this mask's width
        self._pos_mask = (1 << 8 * struct.calcsize(long_format)) - 1
        self._cons_pos = memoryview(consumer).cast(long_format)
        self._prod_words = memoryview(producer).cast(long_format)   # [0] = producer_pos
        self._words32 = memoryview(producer).cast("I")     # record headers

    def _consume(self, limit: int | None) -> list:
        cons_pos, prod_words, words32 = self._cons_pos, self._prod_words, self._words32
        data_map, mask, pos_mask, size = self._producer, self._mask, self._pos_mask, self.size
        start = cons = cons_pos[0]
        prod = prod_words[0]
        left = -1 if limit is None else limit
        batch: list = []
        append = batch.append
        while left:
            ahead = (prod - cons) & pos_mask
            if not ahead:
                prod = prod_words[0]
                ahead = (prod - cons) & pos_mask
                if not ahead:
                    break
            if ahead > size:
                raise RuntimeError(f"corrupt ring buffer: producer {prod:#x} is {ahead} bytes "
                                   f"ahead of consumer {cons:#x} in a ring of {size}")
            off = PAGE_SIZE + (cons & mask)
            header = words32[off >> 2]
            if header & _BUSY:             # reserved, not yet committed
                break
            length = header & _LEN_MASK
            cons = (cons + ((length + _RB_HDR + 7) & ~7)) & pos_mask
            if header & _DISCARD:
                continue
            append(data_map[off + _RB_HDR:off + _RB_HDR + length])
            left -= 1
        if cons != start:
            cons_pos[0] = cons
        return batch

    def close(self) -> None:
        if self._epoll is None:
            return
        self._epoll.close()
        self._epoll = None
        self._release()

    def _release(self) -> None:
        for view in (self._cons_pos, self._prod_words, self._words32):
            view.release()
        self._consumer.close()
        self._producer.close()

_PERF_HEADER = struct.Struct(STRUCT_ORDER + "IHH")      # struct perf_event_header
_U32 = struct.Struct(STRUCT_ORDER + "I")
_U64 = struct.Struct(STRUCT_ORDER + "Q")
#: the perf ring's layout, read from ``perf`` on first use (``_perf()``):
#: a script that sends nothing through a perf buffer, the common case with
#: a ring buffer, never imports perf's enums and Structures at start-up
_PERF_LAYOUT = ("_HEAD", "_TAIL", "_DATA_OFFSET", "_SAMPLE", "_LOST")


def _perf():
    """The ``perf`` module, with the ring layout constants set as globals
    of this module (they are read in the hot loop of ``_consume``)."""
    from . import perf
    if "_HEAD" not in globals():
        page = perf.PerfEventMmapPage
        globals().update(_HEAD=page.data_head.offset // 8, _TAIL=page.data_tail.offset // 8,
                         _DATA_OFFSET=page.data_offset.offset // 8,
                         _SAMPLE=int(perf.PerfRecordType.SAMPLE),
                         _LOST=int(perf.PerfRecordType.LOST))
    return perf


def __getattr__(name: str):
    if name in _PERF_LAYOUT:        # ``from .buffers import _HEAD`` before any ring
        _perf()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PerfRing:
    """One CPU's perf ring: the control page and 2^n data pages."""

    @classmethod
    def open(cls, attr, cpu: int, pages: int) -> "PerfRing | None":
        """Open a perf event on ``cpu`` with ``attr`` and map its ring; None
        when the CPU is offline."""
        try:
            fd = _perf().perf_event_open(attr, -1, cpu)
        except bpf.BpfError as e:
            if e.errno == errno.ENODEV:   # the CPU is offline
                return None
            raise
        try:
            return cls(cpu, fd, pages)
        except BaseException:
            os.close(fd)
            raise

    def __init__(self, cpu: int, fd: int, pages: int):
        self.cpu = cpu
        _perf()
        self.fd = fd
        self.size = pages * PAGE_SIZE
        self.mm = mmap.mmap(fd, PAGE_SIZE + self.size, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)
        self.words = memoryview(self.mm).cast("Q")
        self.base = self.words[_DATA_OFFSET] or PAGE_SIZE     # data_offset: 4.1+

    def read(self, off: int, length: int) -> bytes:
        """``length`` bytes at ring offset ``off``, joining across the ring end."""
        start = self.base + off
        end = off + length
        if end <= self.size:
            return self.mm[start:start + length]
        return self.mm[start:self.base + self.size] + self.mm[self.base:self.base + end - self.size]

    def close(self) -> None:
        self.words.release()
        self.mm.close()
        os.close(self.fd)


class PerfBufferReader(_Reader):
    """Consume a BPF_MAP_TYPE_PERF_EVENT_ARRAY through per-CPU perf rings.

    For each CPU it opens a PERF_COUNT_SW_BPF_OUTPUT event that samples raw
    data and wakes on every record, maps 1 + ``pages_per_cpu`` pages and puts
    the event in ``map[cpu]``, where bpf_perf_event_output(BPF_F_CURRENT_CPU)
    finds it. CPUs that are offline (ENODEV) are skipped.
    """

    def __init__(self, map_fd: int, cpus: list[int] | None, callback: Callback,
                 pages_per_cpu: int = 64):
        if pages_per_cpu <= 0 or pages_per_cpu & (pages_per_cpu - 1):
            raise ValueError(f"pages_per_cpu must be a power of 2, not {pages_per_cpu}")
        if cpus is None:
            from .maps import online_cpus
            cpus = online_cpus()
        self.callback = callback
        self.lost = 0
        self.map_fd = map_fd
        self._rings: list[PerfRing] = []
        self._epoll: select.epoll | None = select.epoll()
        try:
            for cpu in cpus:
                self._open_cpu(cpu, pages_per_cpu)
        except BaseException:
            self.close()
            raise

    def _open_cpu(self, cpu: int, pages: int) -> None:
        perf = _perf()
        attr = perf.PerfEventAttr(type=perf.PerfType.SOFTWARE,
                                 config=perf.PerfSwConfig.BPF_OUTPUT,
                                 sample_type=perf.PerfSampleType.RAW,
                                 sample_period=1, wakeup_events=1)
        ring = PerfRing.open(attr, cpu, pages)
        if ring is None:
            return
        fd = ring.fd
        self._rings.append(ring)
        bpf.map_update(self.map_fd, _U32.pack(cpu), _U32.pack(fd))
        perf.perf_enable(fd)
        assert self._epoll is not None
        self._epoll.register(fd, select.EPOLLIN)

    @property
    def cpus(self) -> list[int]:
        return [ring.cpu for ring in self._rings]

    def _consume(self, limit: int | None) -> list:
        batch: list = []
        for ring in self._rings:
            words = ring.words
            head = words[_HEAD]
            tail = words[_TAIL]
            if tail == head:
                continue
            self._drain(ring, head, tail, batch,
                        -1 if limit is None else limit - len(batch))
            if limit is not None and len(batch) >= limit:
                break
        return batch

    def _drain(self, ring: PerfRing, head: int, tail: int, batch: list, left: int) -> None:
        mm, base, mask, words = ring.mm, ring.base, ring.size - 1, ring.words
        append = batch.append
        start = tail
        while left:
            if tail >= head:
                head = words[_HEAD]
                if tail >= head:
                    break
            off = tail & mask
            rtype, _misc, rsize = _PERF_HEADER.unpack_from(mm, base + off)
            if rsize < 8:                       # never written by the kernel
                raise RuntimeError(f"corrupt perf ring on CPU {ring.cpu}: record size {rsize}")
            if off + rsize <= ring.size:
                rec, at = mm, base + off
            else:
                rec, at = ring.read(off, rsize), 0
            tail += rsize
            if rtype == _SAMPLE:
                (raw_size,) = _U32.unpack_from(rec, at + 8)
                append(rec[at + 12:at + 12 + raw_size])
                left -= 1
            elif rtype == _LOST:
                self.lost += _U64.unpack_from(rec, at + 16)[0]   # after u64 id
        if tail != start:
            words[_TAIL] = tail

    def close(self) -> None:
        if self._epoll is None:
            return
        self._epoll.close()
        self._epoll = None
        for ring in self._rings:
            try:   # the map holds the event file too: let it go
                bpf.map_delete(self.map_fd, _U32.pack(ring.cpu))
            except bpf.BpfError:
                pass
            ring.close()
        self._rings = []

