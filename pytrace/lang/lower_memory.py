"""The lowerer's memory operations: buffers on the stack or in per-CPU
scratch, copies and zeroing, pytrace's counters, events to userspace, map
keys and updates. A mixin of ``Lowerer`` (one concern per module; reads
are in lower_access, writes of values in lower_copy)."""
from __future__ import annotations

from ..bpf.insn import AluOp, Helper, JmpOp
from .kernelinfo import Feature
from . import ast as A
from . import ir
from .program import Counter, EventSpec, MapSpec
from .resources import COUNTERS_MAP, EVENTS_MAP, SCRATCH_MAP
from .types import UINT64, Tuple
from .values import Mem, _align8, _chunks, _has_gaps

#: buffers up to this size go on the stack (while the stack has room)
STACK_BUFFER_MAX = 128
STACK_BUDGET = 320
BPF_ANY = 0
BPF_F_CURRENT_CPU = 0xFFFFFFFF


class MemoryOps:
    """Mixed into ``Lowerer``; uses its building blocks (emit, call, alu …)."""

    # -- memory ------------------------------------------------------------
    def buffer(self, size: int, name: str = "") -> Mem:
        """Fresh memory of ``size`` bytes: stack when small, else scratch."""
        size = max(size, 1)
        rounded = (size + 7) // 8 * 8
        if size <= STACK_BUFFER_MAX and self.stack_used + rounded <= STACK_BUDGET:
            self.stack_used += rounded
            return Mem(self.fn.slot(size, name=name), 0, UINT64)
        base = self._scratch()
        off = self.scratch_used
        self.scratch_used += rounded
        self.res.scratch_size = max(self.res.scratch_size, self.scratch_used)
        return Mem(base, off, UINT64)

    def _scratch(self) -> ir.VReg:
        if self.scratch_base is None:
            key = self.fn.slot(4, name="scratch_key")
            self.stack_used += 8
            base = self.scratch_base = self.vreg("scratch")
            self.at_entry(ir.Store(key, 0, self.program_index, 4))
            self.at_entry(ir.Call(Helper.map_lookup_elem,
                                  (ir.MapFd(SCRATCH_MAP), ir.SlotAddr(key)), base))
            self.at_entry(ir.Branch(JmpOp.JEQ, base, 0, self.exit_label))
        return self.scratch_base

    def addr(self, mem: Mem) -> ir.CallArg:
        """A pointer to ``mem`` usable as a call argument."""
        if isinstance(mem.base, ir.Slot):
            return ir.SlotAddr(mem.base, mem.off)
        if mem.off == 0:
            return mem.base
        return self.alu(AluOp.ADD, mem.base, mem.off)

    def addr_reg(self, mem: Mem) -> ir.VReg:
        a = self.addr(mem)
        if isinstance(a, ir.VReg):
            return a
        r = self.vreg()
        self.emit(ir.Addr(r, a))
        return r

    def store(self, mem: Mem, value: ir.Value, size: int = 8) -> None:
        self.emit(ir.Store(mem.base, mem.off, self.operand(value)
                           if not isinstance(value, int) or -(1 << 31) <= value < (1 << 31)
                           else self.reg_of(value), size))

    def load(self, mem: Mem, size: int = 8) -> ir.VReg:
        dst = self.vreg()
        self.emit(ir.Load(dst, mem.base, mem.off, size))
        return dst

    def zero(self, mem: Mem, size: int) -> None:
        if size > 64:
            # probe_read_kernel from NULL fails and zero-fills the destination
            self.call(Helper.probe_read_kernel if self._has_split_reads() else Helper.probe_read,
                      self.addr(mem), size, 0, result=False)
            return
        for pos, chunk in _chunks(mem.off, size):
            self.emit(ir.Store(mem.base, mem.off + pos, 0, chunk))

    def copy(self, dst: Mem, src: Mem, size: int) -> None:
        if size > 64:
            self.call(Helper.probe_read_kernel if self._has_split_reads() else Helper.probe_read,
                      self.addr(dst), size, self.addr(src), result=False)
            return
        for pos, chunk in _chunks(dst.off, size, src.off):
            v = self.load(src.at(pos, UINT64), chunk)
            self.emit(ir.Store(dst.base, dst.off + pos, v, chunk))

    def _has_split_reads(self) -> bool:
        return self.kernel.has(Feature.PROBE_READ_USER)

    # -- counters ------------------------------------------------------------
    def count(self, kind: Counter, amount: ir.Value = 1, map: str = "") -> None:
        index = self.res.counter(kind, map)
        ptr = self.vreg("counter")
        self.emit(ir.Addr(ptr, ir.MapValueAddr(COUNTERS_MAP, 8 * index)))
        self.emit(ir.AtomicAdd(ptr, 0, self.reg_of(amount)))

    def count_failed_update(self, result: ir.VReg, map: str) -> None:
        """Add 1 to the map's "full" counter when an update returned an error."""
        failed = self.alu(AluOp.RSH, result, 63)
        self.count(Counter.MAP_FULL, failed, map)

    # -- events --------------------------------------------------------------
    def send(self, spec: EventSpec, fill) -> None:
        """Send one record: ``fill(mem)`` writes the fields after the id."""
        size = spec.size
        if self.res.ringbuf:
            rec = self.call(Helper.ringbuf_reserve, ir.MapFd(EVENTS_MAP), size, 0)
            lost, done = self.label("lost"), self.label("sent")
            self.branch(JmpOp.JEQ, rec, 0, lost)
            self.emit(ir.Store(rec, 0, spec.id, 8))
            fill(Mem(rec, 8, spec.args))
            self.call(Helper.ringbuf_submit, rec, 0, result=False)
            self.jump(done)
            self.place(lost)
            self.count(Counter.LOST_EVENTS)
            self.place(done)
        else:
            buf = self.buffer(size, "event")
            self.emit(ir.Store(buf.base, buf.off, spec.id, 8))
            fill(buf.at(8, spec.args))
            # a full buffer makes the helper return -ENOSPC: counted here, as a
            # failed reserve is, so the count is exact even when the kernel's
            # own PERF_RECORD_LOST never gets room to be written
            sent = self.call(Helper.perf_event_output, self.ctx, ir.MapFd(EVENTS_MAP),
                             BPF_F_CURRENT_CPU, self.addr(buf), size)
            self.count(Counter.LOST_EVENTS, self.alu(AluOp.RSH, sent, 63))

    # -- maps ------------------------------------------------------------------
    def map_spec(self, name: str) -> MapSpec:
        return self.res.maps[name]

    def key(self, ref: A.MapRef, extra: ir.Value | None = None) -> ir.CallArg:
        """Build ``ref``'s key in memory (plus a trailing u64 ``extra``, the
        histogram bucket) and return its address."""
        spec = self.map_spec(ref.name)
        buf = self.buffer(spec.key_size, "key")
        if isinstance(buf.base, ir.Slot):
            # one register for the key's address, shared by the helper calls
            # that fill it, look it up and update it
            ptr = self.vreg("key")
            self.emit(ir.Addr(ptr, ir.SlotAddr(buf.base, buf.off)))
            buf = Mem(ptr, 0, buf.type)
        if not ref.keys:
            if extra is None:
                self.store(buf, 0)
        elif len(ref.keys) == 1:
            self.into(ref.keys[0], buf.at(0, spec.key), full=True)
        else:
            ktype: Tuple = spec.key  # type: ignore[assignment]
            if _has_gaps(ktype):
                self.zero(buf, ktype.size)
            for e, off, t in zip(ref.keys, ktype.offsets, ktype.elems):
                self.into(e, buf.at(off, t), full=True, zeroed=True)
        if extra is not None:
            user = spec.key.size if spec.key is not None and ref.keys else 0
            self.store(buf.at(_align8(user), UINT64), extra)
        return self.addr(buf)

    def lookup(self, name: str, key: ir.CallArg) -> ir.VReg:
        return self.call(Helper.map_lookup_elem, ir.MapFd(name), key)

    def update(self, name: str, key: ir.CallArg, value: ir.CallArg) -> None:
        r = self.call(Helper.map_update_elem, ir.MapFd(name), key, value, BPF_ANY)
        self.count_failed_update(r, name)
