"""The runtime half of the backend against the real kernel: maps, program
loads, ring and perf buffers, tracepoint/cpu-clock/uprobe attachments,
feature probes and teardown. Every program is named ``pt<pid>_<tag>`` so
the last test can prove none of them outlives its fds."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import struct
import subprocess
import threading
import time

import pytest

from pytrace.kernel import attach, buffers as events, features, maps
from pytrace.kernel import bpf
from pytrace.bpf.insn import (FP, AluOp, AtomicOp, Helper, Insn, JmpOp, Reg, Size, call, encode,
                              exit_, ld_map_fd, mov, mov_imm)
from pytrace.kernel.bpf import BpfError
from pytrace.kernel.bpf_consts import MapType, ProgType
from pytrace.lang.kernelinfo import Feature

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to load BPF programs")]

PREFIX = f"pt{os.getpid() % 100000}"
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
RECORD = struct.Struct("<QI")      # what the output programs send: seq, magic (12 bytes)
MAGIC = 0x5EC0DE


def name(tag: str) -> str:
    assert len(tag) <= 7
    return f"{PREFIX}_{tag}"


# -- a few lines of assembler: labels and jumps to them ------------------------

class Jump:
    """``if reg op src goto label``; ``src`` is an immediate or, with ``by_reg``, a register."""

    def __init__(self, op: JmpOp, reg: Reg, src: int, label: str, by_reg: bool = False):
        self.op, self.reg, self.src, self.label, self.by_reg = op, reg, src, label, by_reg

    def resolve(self, off: int) -> Insn:
        if self.by_reg:
            return self.op.reg(self.reg, Reg(self.src), off)
        return self.op.imm(self.reg, self.src, off)


def asm(items: list) -> bytes:
    """Instructions, label strings and Jump(op, reg, imm, label)s -> bytes."""
    pcs, pc = {}, 0
    for item in items:
        if isinstance(item, str):
            pcs[item] = pc
        else:
            pc += item.slots if isinstance(item, Insn) else 1
    out, pc = [], 0
    for item in items:
        if isinstance(item, str):
            continue
        if isinstance(item, Jump):
            item = item.resolve(pcs[item.label] - pc - 1)
        out.append(item)
        pc += item.slots
    return encode(out)


def lookup_key0(map_fd: int, label_missing: str, index: int = 0) -> list:
    """r0 = &map[index] (u32 key at fp-4), or jump to ``label_missing``."""
    return [Size.W.store_imm(FP, -4, index), ld_map_fd(Reg.R1, "m", map_fd),
            mov(Reg.R2, FP), AluOp.ADD.imm(Reg.R2, -4), call(Helper.map_lookup_elem),
            Jump(JmpOp.JEQ, Reg.R0, 0, label_missing)]


def only_this_process(label_other: str) -> list:
    return [call(Helper.get_current_pid_tgid), AluOp.RSH.imm(Reg.R0, 32),
            Jump(JmpOp.JNE, Reg.R0, os.getpid(), label_other)]


def count_into(map_fd: int, atomic: bool = True) -> list:
    """map[0] += 1 (u64 value)."""
    if atomic:
        bump = [mov_imm(Reg.R1, 1), Size.DW.atomic(AtomicOp.ADD, Reg.R0, 0, Reg.R1)]
    else:
        bump = [Size.DW.load(Reg.R1, Reg.R0), AluOp.ADD.imm(Reg.R1, 1),
                Size.DW.store(Reg.R0, 0, Reg.R1)]
    return [*lookup_key0(map_fd, "out"), *bump, "out", mov_imm(Reg.R0, 0), exit_()]


def emitter(seq_fd: int, out_fd: int, use_perf: bool) -> bytes:
    """A raw_tp program sending ctx[0] (at most 1024) records of RECORD:
    a sequence number kept in seq_fd[0], and MAGIC. Sends that fail (the
    ring is full) are counted in seq_fd[1]."""
    if use_perf:
        send = [mov(Reg.R1, Reg.R6), ld_map_fd(Reg.R2, "out", out_fd),
                mov_imm(Reg.R3, bpf.BPF_F_CURRENT_CPU), mov(Reg.R4, FP),
                AluOp.ADD.imm(Reg.R4, -24), mov_imm(Reg.R5, RECORD.size),
                call(Helper.perf_event_output)]
    else:
        send = [ld_map_fd(Reg.R1, "out", out_fd), mov(Reg.R2, FP), AluOp.ADD.imm(Reg.R2, -24),
                mov_imm(Reg.R3, RECORD.size), mov_imm(Reg.R4, 0), call(Helper.ringbuf_output)]
    return asm([
        mov(Reg.R6, Reg.R1), Size.DW.load(Reg.R9, Reg.R1, 0),      # r9 = records to send
        Jump(JmpOp.JLE, Reg.R9, 1024, "ok"), mov_imm(Reg.R9, 1024),
        "ok", mov_imm(Reg.R7, 0),
        "loop", Jump(JmpOp.JGE, Reg.R7, 1024, "out"),
        *lookup_key0(seq_fd, "out"),
        Size.DW.load(Reg.R8, Reg.R0), AluOp.ADD.imm(Reg.R8, 1), Size.DW.store(Reg.R0, 0, Reg.R8),
        AluOp.ADD.imm(Reg.R8, -1),
        Size.DW.store(FP, -24, Reg.R8), Size.W.store_imm(FP, -16, MAGIC), *send,
        Jump(JmpOp.JEQ, Reg.R0, 0, "sent"),
        *lookup_key0(seq_fd, "sent", index=1),
        mov_imm(Reg.R1, 1), Size.DW.atomic(AtomicOp.ADD, Reg.R0, 0, Reg.R1),
        "sent", AluOp.ADD.imm(Reg.R7, 1), Jump(JmpOp.JLT, Reg.R7, Reg.R9, "loop", by_reg=True),
        "out", mov_imm(Reg.R0, 0), exit_(),
    ])


def seq_map(stack, tag: str) -> maps.Map:
    """The emitter's counters: [0] next sequence number, [1] failed sends."""
    return new_map(stack, MapType.ARRAY, 4, 8, 2, name=name(tag))


def failed_sends(seq: maps.Map) -> int:
    return U64.unpack(seq.lookup(U32.pack(1)))[0]


@pytest.fixture
def stack():
    with contextlib.ExitStack() as s:
        yield s


def prog(stack, prog_type, code: bytes, tag: str, **kw) -> int:
    fd = bpf.prog_load(prog_type, code, name=name(tag), **kw)
    stack.callback(os.close, fd)
    return fd


def new_map(stack, *args, **kw) -> maps.Map:
    return stack.enter_context(maps.Map.create(*args, **kw))


def run_emitter(prog_fd: int, count: int, cpu: int | None = None, burst: int = 1024) -> None:
    while count > 0:
        n = min(count, burst)
        bpf.prog_test_run(prog_fd, ctx_in=U64.pack(n), cpu=cpu)
        count -= n


# -- maps ------------------------------------------------------------------------

def k(i: int) -> bytes:
    return U64.pack(i)


def test_hash_map_update_lookup_iterate_delete_clear(stack):
    m = new_map(stack, MapType.HASH, 8, 8, 4096, name=name("hash"))
    for i in range(3000):
        m.update(k(i), k(i * i))
    assert m.lookup(k(7)) == k(49)
    assert m.lookup(k(5000)) is None
    expected = {k(i): k(i * i) for i in range(3000)}
    assert dict(m.items()) == expected
    assert len(m.items()) == 3000
    assert m._batch_ok, "this kernel has batch lookup: the fast path must be taken"
    assert sorted(m._items_by_key()) == sorted(m._items_batched())
    with pytest.raises(BpfError) as e:
        m.update(k(1), k(0), bpf.UpdateFlag.NOEXIST)
    assert e.value.errno == errno.EEXIST
    assert m.delete(k(1)) is True and m.delete(k(1)) is False

    # deleting every key while walking them yields each key exactly once
    walked = []
    for key in m.keys():
        walked.append(key)
        if U64.unpack(key)[0] % 2:
            m.delete(key)
    assert sorted(walked) == sorted(set(expected) - {k(1)})
    assert len(m) == 1500

    m.zero()
    assert {v for _, v in m.items()} == {k(0)} and len(m) == 1500
    m.clear()
    assert m.items() == [] and m.lookup(k(0)) is None


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "one-by-one"])
@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH])
def test_items_zero_clear_batched_and_fallback(stack, map_type, batch):
    m = new_map(stack, map_type, 8, 8, 2048, name=name("zc"))
    m._batch_ok = batch            # False: as on kernels without batch operations
    ncpus = m.ncpus
    for i in range(1000):
        m.update(k(i), [k(i + c) for c in range(ncpus)] if m.percpu else k(i))
    want = {k(i): ([k(i + c) for c in range(ncpus)] if m.percpu else k(i)) for i in range(1000)}
    assert dict(m.items()) == want and len(m.items()) == 1000
    m.zero()
    zero = [k(0)] * ncpus if m.percpu else k(0)
    assert dict(m.items()) == {key: zero for key in want}
    m.clear()
    assert m.items() == [] and len(m) == 0
    assert m._batch_ok == batch


def test_array_map_zero_and_clear(stack):
    m = new_map(stack, MapType.ARRAY, 4, 8, 16, name=name("arr"))
    for i in range(16):
        m.update(U32.pack(i), k(100 + i))
    assert m.items() == [(U32.pack(i), k(100 + i)) for i in range(16)]
    m.clear()           # arrays cannot lose entries: clear zeroes them
    assert m.items() == [(U32.pack(i), k(0)) for i in range(16)]


def test_percpu_maps_one_value_per_cpu(stack):
    ncpus = len(maps.possible_cpus())
    m = new_map(stack, MapType.PERCPU_HASH, 8, 4, 64, name=name("pch"))
    assert m.raw_value_size == 8 * ncpus          # 4-byte values padded to 8
    for i in range(10):
        m.update(k(i), [U32.pack(i * 10 + c) for c in range(ncpus)])
    assert m.lookup(k(3)) == [U32.pack(30 + c) for c in range(ncpus)]
    assert dict(m.items()) == {k(i): [U32.pack(i * 10 + c) for c in range(ncpus)]
                               for i in range(10)}
    assert sorted(m._items_by_key()) == sorted(m._items_batched())
    m.zero()
    assert m.lookup(k(3)) == [U32.pack(0)] * ncpus
    m.clear()
    assert m.items() == []


def test_percpu_array_counts_where_the_program_ran(stack):
    """A program run on CPU c bumps CPU c's slot and no other."""
    cpus = maps.online_cpus()
    m = new_map(stack, MapType.PERCPU_ARRAY, 4, 8, 1, name=name("pca"))
    fd = prog(stack, ProgType.RAW_TRACEPOINT, asm(count_into(m.fd, atomic=False)), "pcnt")
    for c in cpus:
        for _ in range(c + 3):
            bpf.prog_test_run(fd, cpu=c)
    values = m.lookup(U32.pack(0))
    for c in cpus:
        assert U64.unpack(values[maps.possible_cpus().index(c)])[0] == c + 3


def test_map_and_prog_info(stack):
    m = new_map(stack, MapType.LRU_HASH, 4, 16, 128, name=name("info"))
    info = bpf.map_info(m.fd)
    assert (info.name_str, info.type, info.key_size, info.value_size, info.max_entries) == \
        (name("info"), MapType.LRU_HASH, 4, 16, 128)
    fd = prog(stack, ProgType.RAW_TRACEPOINT, encode([mov_imm(Reg.R0, 0), exit_()]), "info")
    pinfo = bpf.prog_info(fd)
    assert pinfo.name_str == name("info") and pinfo.type == ProgType.RAW_TRACEPOINT
    assert len(pinfo.tag_hex) == 16 and pinfo.id > 0
    ids, nxt = [], bpf.prog_get_next_id(0)
    while nxt is not None:
        ids.append(nxt)
        nxt = bpf.prog_get_next_id(nxt)
    assert pinfo.id in ids
    other = bpf.prog_get_fd_by_id(pinfo.id)
    try:
        assert bpf.prog_info(other).tag_hex == pinfo.tag_hex
    finally:
        os.close(other)


# -- program loads -------------------------------------------------------------------

def test_failed_load_carries_the_verifier_log():
    code = encode([mov(Reg.R0, Reg.R2), exit_()])       # r2 was never written
    with pytest.raises(BpfError) as e:
        bpf.prog_load(ProgType.RAW_TRACEPOINT, code, name=name("bad"))
    err = e.value
    assert str(err) == "BPF_PROG_LOAD failed: Permission denied (EACCES)"
    assert err.call == "BPF_PROG_LOAD" and err.errno == errno.EACCES
    assert "R2 !read_ok" in err.verifier_log
    assert "R2 !read_ok" in err.render() and err.exit_code == 1


def test_log_grows_for_long_verifier_logs():
    # 3000 instructions of log_level=1 trace overflow a 1 KiB start buffer
    body = [mov_imm(Reg.R0, 0)] + [AluOp.ADD.imm(Reg.R0, 1)] * 3000 + [mov(Reg.R0, Reg.R3),
                                                                       exit_()]
    with pytest.raises(BpfError) as e:
        bpf.prog_load(ProgType.RAW_TRACEPOINT, encode(body), name=name("biglog"), log_size=1024)
    assert e.value.errno == errno.EACCES
    assert e.value.verifier_log.rstrip().endswith("peak_states 0 mark_read 0") or \
        "R3 !read_ok" in e.value.verifier_log
    assert "R3 !read_ok" in e.value.verifier_log


def test_stats_log_on_request():
    res = bpf.prog_load_logged(ProgType.RAW_TRACEPOINT, encode([mov_imm(Reg.R0, 3), exit_()]),
                               bpf.LogLevel.STATS, name=name("stats"))
    try:
        assert "processed 2 insns" in res.log
        assert bpf.prog_test_run(res.fd).retval == 3
    finally:
        os.close(res.fd)


# -- ring buffer ---------------------------------------------------------------------

def records_of(received: list[bytes]) -> list[int]:
    out = []
    for data in received:
        seq, magic = RECORD.unpack_from(data)
        assert magic == MAGIC
        out.append(seq)
    return out


def test_ring_buffer_exact_records_with_wraparound(stack):
    size = 16 * 4096                 # 24-byte slots: records straddle the ring end
    rb = new_map(stack, MapType.RINGBUF, 0, 0, size, name=name("rb"))
    seq = seq_map(stack, "seq")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, rb.fd, use_perf=False), "rbemit")
    received: list[bytes] = []
    reader = stack.enter_context(events.RingBufferReader(rb.fd, size, received.append))
    assert reader.poll(0) == 0
    total = 0
    for burst in (1, 7, 1000, 2000, 2500, 333, 2730, 2730):  # 2730 x 24 B fit at once
        run_emitter(fd, burst)
        total += burst
        got = reader.poll(100)
        assert got == burst
    assert records_of(received) == list(range(total))
    assert all(len(d) == RECORD.size for d in received)
    assert reader.lost == 0 and failed_sends(seq) == 0


def test_ring_buffer_wakes_epoll_and_poll_waits(stack):
    size = 4096
    rb = new_map(stack, MapType.RINGBUF, 0, 0, size, name=name("rbw"))
    seq = seq_map(stack, "seqw")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, rb.fd, use_perf=False), "rbwake")
    received: list[bytes] = []
    reader = stack.enter_context(events.RingBufferReader(rb.fd, size, received.append))
    import select
    ep = select.epoll()
    ep.register(reader.fileno(), select.EPOLLIN)
    assert ep.poll(0) == []
    run_emitter(fd, 3)
    assert ep.poll(1.0) != []          # the session can wait on the reader's fd
    ep.close()
    t0 = time.monotonic()
    assert reader.poll(-1) == 3
    assert reader.poll(50) == 0 and time.monotonic() - t0 >= 0.04


def test_ring_buffer_100k_records_throughput(stack, record_property):
    size = 256 * 1024
    rb = new_map(stack, MapType.RINGBUF, 0, 0, size, name=name("rb100k"))
    seq = seq_map(stack, "seq100k")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, rb.fd, use_perf=False), "rbperf")
    count = 0
    last = -1
    ordered = True

    def on_record(data: bytes) -> None:
        nonlocal count, last, ordered
        s = RECORD.unpack_from(data)[0]
        ordered &= s == last + 1
        last = s
        count += 1

    reader = stack.enter_context(events.RingBufferReader(rb.fd, size, on_record))
    n = 100_000
    read_time = 0.0
    done = 0
    while done < n:                    # 10k records (240 KB) per round fill the ring
        run_emitter(fd, 10_000)
        done += 10_000
        t0 = time.perf_counter()
        while reader.poll(0):
            pass
        read_time += time.perf_counter() - t0
    assert count == n and ordered
    record_property("ringbuf_100k_read_seconds", round(read_time, 4))
    print(f"\nring buffer: read 100k records in {read_time * 1000:.1f} ms")


# -- perf buffer ---------------------------------------------------------------------

def test_perf_buffer_exact_records_on_every_cpu(stack):
    cpus = maps.online_cpus()
    pa = new_map(stack, MapType.PERF_EVENT_ARRAY, 4, 4, len(maps.possible_cpus()),
                 name=name("pa"))
    seq = seq_map(stack, "pseq")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, pa.fd, use_perf=True), "pemit")
    received: list[bytes] = []
    reader = stack.enter_context(events.PerfBufferReader(pa.fd, cpus, received.append,
                                                         pages_per_cpu=8))
    assert reader.cpus == cpus
    total = 0
    for burst in (1, 1000, 1300, 7, 1200) * 4:      # 1365 x 24 B fill a 32 KiB ring
        for cpu in cpus:
            # one CPU's burst at a time keeps the global order in the records
            run_emitter(fd, burst, cpu=cpu)
            total += burst
            assert reader.poll(0) == burst
    assert records_of(received) == list(range(total))
    assert all(len(d) == RECORD.size for d in received)   # 4 + 12 is 8-aligned: no padding
    assert reader.lost == 0 and failed_sends(seq) == 0


def test_perf_buffer_counts_lost_records(stack):
    pa = new_map(stack, MapType.PERF_EVENT_ARRAY, 4, 4, len(maps.possible_cpus()),
                 name=name("plost"))
    seq = seq_map(stack, "plseq")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, pa.fd, use_perf=True), "plost")
    received: list[bytes] = []
    reader = stack.enter_context(events.PerfBufferReader(pa.fd, [0], received.append,
                                                         pages_per_cpu=1))
    run_emitter(fd, 1000, cpu=0)       # 4096 bytes hold 170 records of 24 bytes
    reader.poll(0)
    assert 100 < len(received) < 1000
    run_emitter(fd, 1, cpu=0)          # the kernel reports the loss before this one
    reader.poll(0)
    assert len(received) + reader.lost == 1001
    assert reader.lost == failed_sends(seq)     # the kernel's count is the program's
    assert records_of(received)[:len(received) - 1] == list(range(len(received) - 1))
    assert records_of(received)[-1] == 1000


def produce_in_thread(fd: int, total: int, cpu: int | None = None) -> threading.Thread:
    """Run the emitter from another thread (ctypes drops the GIL in the
    syscall), so records arrive while the reader reads, 64 at a time."""
    t = threading.Thread(target=run_emitter, args=(fd, total, cpu, 64), daemon=True)
    t.start()
    return t


def test_ring_buffer_concurrent_producer_and_reader(stack):
    size = 64 * 1024
    rb = new_map(stack, MapType.RINGBUF, 0, 0, size, name=name("rbconc"))
    seq = seq_map(stack, "rbcseq")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, rb.fd, use_perf=False), "rbconc")
    received: list[bytes] = []
    reader = stack.enter_context(events.RingBufferReader(rb.fd, size, received.append))
    total = 200_000
    producer = produce_in_thread(fd, total)
    while producer.is_alive():
        reader.poll(10)
    producer.join()
    while reader.poll(0):
        pass
    seqs = records_of(received)
    assert all(a < b for a, b in zip(seqs, seqs[1:]))       # in order, no repeats
    assert len(seqs) + failed_sends(seq) == total            # every record read or refused
    assert len(seqs) > 3 * (size // 24)     # more than the ring holds: read while written
    print(f"\nring buffer concurrent: {len(seqs)} read, {failed_sends(seq)} refused (ring full)")


def test_perf_buffer_concurrent_producer_and_reader(stack):
    cpu = maps.online_cpus()[-1]
    pa = new_map(stack, MapType.PERF_EVENT_ARRAY, 4, 4, len(maps.possible_cpus()),
                 name=name("pconc"))
    seq = seq_map(stack, "pcseq")
    fd = prog(stack, ProgType.RAW_TRACEPOINT, emitter(seq.fd, pa.fd, use_perf=True), "pconc")
    received: list[bytes] = []
    reader = stack.enter_context(events.PerfBufferReader(pa.fd, maps.online_cpus(),
                                                         received.append, pages_per_cpu=16))
    total = 200_000
    producer = produce_in_thread(fd, total, cpu)
    while producer.is_alive():
        reader.poll(10)
    producer.join()
    while reader.poll(0):
        pass
    run_emitter(fd, 1, cpu)            # flushes the kernel's pending loss report
    reader.poll(0)
    seqs = records_of(received)
    assert all(a < b for a, b in zip(seqs, seqs[1:]))
    assert len(seqs) + reader.lost == total + 1
    assert reader.lost == failed_sends(seq)
    assert len(seqs) > 3 * (16 * 4096 // 24)   # more than a ring holds: read while written
    print(f"\nperf buffer concurrent: {len(seqs)} read, {reader.lost} lost")


# -- attachments --------------------------------------------------------------------

@pytest.mark.parametrize("use_link", [True, False], ids=["link", "ioctl"])
def test_tracepoint_counts_exact_calls_on_every_cpu(stack, use_link):
    cpus = maps.online_cpus()
    counts = new_map(stack, MapType.PERCPU_ARRAY, 4, 8, 1, name=name("tpcnt"))
    code = asm([*only_this_process("out"), *count_into(counts.fd, atomic=False)[:-3],
                "out", mov_imm(Reg.R0, 0), exit_()])
    fd = prog(stack, ProgType.TRACEPOINT, code, "getppid")
    tp = attach.tracepoint_id("syscalls", "sys_enter_getppid")
    att = stack.enter_context(attach.attach_perf_event(attach.open_tracepoint(tp), fd, use_link))
    assert (att.link_fd >= 0) == use_link
    before = os.sched_getaffinity(0)
    calls = {}
    try:
        for i, cpu in enumerate(cpus):       # one perf event (cpu 0) sees every CPU
            os.sched_setaffinity(0, {cpu})
            calls[cpu] = 100 + 37 * i
            for _ in range(calls[cpu]):
                os.getppid()
    finally:
        os.sched_setaffinity(0, before)
    att.close()
    os.getppid()                                 # detached: no longer counted
    values = counts.lookup(U32.pack(0))
    per_cpu = {cpu: U64.unpack(values[maps.possible_cpus().index(cpu)])[0] for cpu in cpus}
    assert per_cpu == calls
    att.close()                                  # idempotent


def test_cpu_clock_interval_fires(stack):
    counts = new_map(stack, MapType.ARRAY, 4, 8, 1, name=name("clk"))
    fd = prog(stack, ProgType.PERF_EVENT, asm(count_into(counts.fd)), "clock")
    period = 10_000_000                           # 10 ms
    att = attach.attach_perf_event(attach.open_cpu_clock(0, period), fd, use_link=True)
    with att:
        t0 = time.monotonic()
        time.sleep(0.5)
        elapsed = time.monotonic() - t0
    n = U64.unpack(counts.lookup(U32.pack(0)))[0]
    expected = elapsed * 1e9 / period
    assert 0.6 * expected <= n <= 1.2 * expected, (n, expected)


def test_uprobe_on_libc_getppid(stack):
    """The uprobe PMU primitive: a probe on libc's getppid at its file offset."""
    lib = bpf.libc()
    addr = ctypes.cast(lib.getppid, ctypes.c_void_p).value
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if lo <= addr < hi:
                path, file_off = fields[5], int(fields[2], 16) + addr - lo
                break
    counts = new_map(stack, MapType.ARRAY, 4, 8, 1, name=name("upcnt"))
    code = asm([*only_this_process("out"), *count_into(counts.fd)[:-3],
                "out", mov_imm(Reg.R0, 0), exit_()])
    fd = prog(stack, ProgType.KPROBE, code, "uprobe")
    with attach.attach_perf_event(attach.open_uprobe(path, file_off), fd, use_link=True):
        for _ in range(123):
            lib.getppid()
    lib.getppid()
    assert U64.unpack(counts.lookup(U32.pack(0)))[0] == 123


def test_attach_failure_closes_the_perf_fd():
    perf = attach.open_cpu_clock(0, 1_000_000_000)
    with pytest.raises(BpfError) as e:
        attach.attach_perf_event(perf, 999_999, use_link=False)   # not a program fd
    assert e.value.call == "PERF_EVENT_IOC_SET_BPF"
    with pytest.raises(OSError):
        os.fstat(perf)


def test_tracefs_and_tracepoint_listing():
    d = attach.tracefs_dir()
    assert os.path.isdir(os.path.join(d, "events"))
    tps = attach.list_tracepoints()
    assert ("syscalls", "sys_enter_getppid") in tps and tps == sorted(tps)
    assert attach.tracepoint_id("sched", "sched_switch") > 0
    with pytest.raises(attach.RuntimeFailure) as e:
        attach.tracepoint_id("syscalls", "no_such_tracepoint")
    assert str(e.value) == "tracepoint syscalls:no_such_tracepoint does not exist"


# -- features --------------------------------------------------------------------------

def test_probe_features_cold_and_cached(tmp_path, monkeypatch, record_property):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path))
    t0 = time.perf_counter()
    cold = features.probe_features()
    t1 = time.perf_counter()
    cached = features.probe_features()
    t2 = time.perf_counter()
    assert cold == cached
    # this machine: Linux 6.18, no kprobes (see the common brief)
    for f in (Feature.RINGBUF, Feature.PERF_BUFFER, Feature.TEST_RUN, Feature.PROBE_READ_USER,
              Feature.PERCPU_LOOKUP, Feature.LINK, Feature.BTF, Feature.RAW_TRACEPOINT,
              Feature.BOUNDED_LOOPS, Feature.UPROBE):
        assert f in cold, f
    assert Feature.KPROBE not in cold
    assert Feature.FENTRY not in cold        # not probed here
    assert features.probe_features(masked=frozenset({Feature.RINGBUF})) == \
        cold - {Feature.RINGBUF}
    text = (tmp_path / "features").read_text().splitlines()
    assert text[:2] == [features.CACHE_FORMAT, f"boot {features.boot_id()}"]
    assert "ringbuf 1" in text and "kprobe 0" in text
    record_property("probe_features_cold_ms", round((t1 - t0) * 1000, 2))
    record_property("probe_features_cached_ms", round((t2 - t1) * 1000, 3))
    print(f"\nprobe_features: cold {(t1 - t0) * 1000:.1f} ms, cached {(t2 - t1) * 1000:.2f} ms")
    assert t2 - t1 < 0.005


def test_describe_features_lists_every_feature():
    rows = features.describe_features(frozenset({Feature.RINGBUF}))
    assert [r[0] for r in rows] == [f.value for f in Feature]
    assert ("ringbuf", True, "BPF ring buffer for printf/events output (Linux 5.8)") in rows
    assert all(text for _, _, text in rows)


# -- nothing left behind (keep this test last) --------------------------------------------

def our_programs() -> list[str]:
    names = []
    pid = bpf.prog_get_next_id(0)
    while pid is not None:
        try:
            fd = bpf.prog_get_fd_by_id(pid)
        except BpfError:                 # gone between the two calls
            pid = bpf.prog_get_next_id(pid)
            continue
        try:
            n = bpf.prog_info(fd).name_str
        finally:
            os.close(fd)
        if n.startswith(PREFIX + "_"):
            names.append(n)
        pid = bpf.prog_get_next_id(pid)
    return names


def test_zz_nothing_left_behind():
    deadline = time.monotonic() + 2.0
    while our_programs() and time.monotonic() < deadline:
        time.sleep(0.05)                 # the kernel frees programs after an RCU grace period
    assert our_programs() == []
    if shutil.which("bpftool"):
        out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                             text=True, check=True).stdout
        left = [p.get("name", "") for p in json.loads(out)
                if p.get("name", "").startswith(PREFIX + "_")]
        assert left == []
