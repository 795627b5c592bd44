"""The lowerer's memory operations: buffers on the stack or in per-CPU
scratch, copies and zeroing, pytrace's counters, events to userspace, map
keys and updates, and reading kernel/user memory, strings and tracepoint
records. A mixin of ``Lowerer`` (one concern per module)."""
from __future__ import annotations

from ..bpf.insn import AluOp, Helper, JmpOp
from ..base.diagnostics import CompileError, Diagnostic, Severity
from .kernelinfo import Feature
from . import ast as A
from . import ir
from .probes import ProgKind
from .program import Counter, EventSpec, MapSpec
from .resources import COUNTERS_MAP, EVENTS_MAP, SCRATCH_MAP
from .types import (UINT64, AddrSpace, Array, Int, Ptr, Special, Str, Struct, StructRef,
                    Tuple, Type)
from .params import param_value
from .values import CtxArray, ExtMem, ExtStr, Mem, _align8, _chunks, _has_gaps

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
            self.call(Helper.perf_event_output, self.ctx, ir.MapFd(EVENTS_MAP),
                      BPF_F_CURRENT_CPU, self.addr(buf), size, result=False)

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

    # -- kernel memory (BTF structs) ---------------------------------------------
    def ext_target(self, ptr: ir.Value, t: Type) -> ExtMem:
        """What pointer ``ptr`` of type ``t`` points at, not read yet."""
        if isinstance(t, Ptr):
            return ExtMem(ptr, 0, t.target, t.space)
        return ExtMem(ptr, 0, t, AddrSpace.KERNEL)

    def ext_addr(self, m: ExtMem) -> ir.Value:
        return self.alu(AluOp.ADD, m.ptr, m.off) if m.off else m.ptr

    def ext_value(self, m: ExtMem, bits: tuple[int, int] | None = None):
        """Read a member: integers and pointers now (one probe_read), char
        arrays as strings to read where they go, structs and arrays later."""
        t = m.type
        if isinstance(t, Str):
            return ExtStr(self.ext_addr(m), m.space, t.cap)
        if isinstance(t, (Struct, StructRef, Array)):
            return m
        if bits is None:
            return self.read_mem(self.ext_addr(m), t, m.space)
        shift, width = bits
        unit = self.read_mem(self.ext_addr(m), Int(t.size * 8, False), m.space)
        if isinstance(t, Int) and t.signed:
            up = 64 - shift - width
            return self.alu(AluOp.ARSH, self.alu(AluOp.LSH, unit, up), 64 - width)
        v = self.alu(AluOp.RSH, unit, shift)
        return self.alu(AluOp.AND, v, (1 << width) - 1) if shift + width < t.size * 8 else v

    def ctx_load(self, offset: int, size: int, hint: str = "") -> ir.VReg:
        """Read ``size`` bytes of the context at ``offset``. Tracepoint
        programs may not load the record's first 8 bytes (its common_*
        header) directly: those are copied out with probe_read_kernel."""
        dst = self.vreg(hint)
        if offset >= 8 or self.ctx_info.kind is not ProgKind.TRACEPOINT:
            self.emit(ir.Load(dst, self.ctx, offset, size))
            return dst
        buf = self.buffer(8, "header")
        self.store(buf, 0)
        src = self.alu(AluOp.ADD, self.ctx, offset) if offset else self.ctx
        self.call(Helper.probe_read_kernel if self._has_split_reads() else Helper.probe_read,
                  self.addr(buf), size, src, result=False)
        self.emit(ir.Load(dst, buf.base, buf.off, size))
        return dst

    def ctx_field(self, struct: Struct, name: str):
        f = struct.field(name)
        if f.data_loc:
            loc = self.vreg("data_loc")
            self.emit(ir.Load(loc, self.ctx, f.offset, 4))
            off = self.alu(AluOp.AND, loc, 0xFFFF)
            if f.data_loc == "rel":
                off = self.alu(AluOp.ADD, off, f.offset + 4)
            ptr = self.alu(AluOp.ADD, self.ctx, off)
            return ExtStr(ptr, AddrSpace.KERNEL)
        t = f.type
        if isinstance(t, Str):
            ptr = self.alu(AluOp.ADD, self.ctx, f.offset)
            return ExtStr(ptr, AddrSpace.KERNEL, t.cap)
        if isinstance(t, Array):
            return CtxArray(f.offset, t)
        if isinstance(t, (Int, Ptr)) and t.size in (1, 2, 4, 8):
            dst = self.ctx_load(f.offset, t.size, name)
            if isinstance(t, Int) and t.signed and t.bits < 64:
                return self.convert(dst, t)
            return dst
        raise NotImplementedError(f"tracepoint field of type {t}")

    def mem_field(self, mem: Mem):
        t = mem.type
        if t.in_register:
            v = self.load(mem, t.size)
            if isinstance(t, Int) and t.signed and t.bits < 64:
                return self.convert(v, t)
            return v
        return mem

    def expr_Index(self, e: A.Index):
        base = self.value(e.operand)
        elem = self.type_of(e)
        idx = self.int_value(e.index)
        if isinstance(base, CtxArray):
            if isinstance(idx, int):
                if not 0 <= idx < base.type.count:
                    raise CompileError(Diagnostic(
                        Severity.ERROR, f"index {idx} is outside the array "
                        f"({base.type.count} elements)", e.index.loc))
                return self._extend(self.ctx_load(base.offset + idx * elem.size, elem.size),
                                    elem)
            ptr = self.alu(AluOp.ADD, self.ctx, base.offset)
            return self.read_mem(self._scaled(ptr, idx, elem.size), elem, AddrSpace.KERNEL)
        if isinstance(base, Mem):          # a string (or array) in program memory
            ptr = self.addr_reg(base)
            return self.read_mem(self._scaled(ptr, idx, elem.size), elem, AddrSpace.KERNEL)
        if isinstance(base, ExtStr):
            return self.read_mem(self._scaled(base.ptr, idx, 1), elem, base.space)
        if isinstance(base, ExtMem):       # an array member of a kernel struct
            if isinstance(idx, int):
                return self.ext_value(base.at(idx * elem.size, elem))
            ptr = self._scaled(self.ext_addr(base), idx, elem.size)
            return self.ext_value(ExtMem(ptr, 0, elem, base.space))
        ptr_t = self.type_of(e.operand)
        space = ptr_t.space if isinstance(ptr_t, Ptr) else AddrSpace.UNKNOWN
        if isinstance(elem, (Struct, StructRef)):
            return ExtMem(self._scaled(base, idx, elem.size), 0, elem, space)
        return self.read_mem(self._scaled(base, idx, elem.size), elem, space)

    def expr_Deref(self, e: A.Deref):
        ptr = self.int_value(e.operand)
        t = self.type_of(e)
        ptr_t = self.type_of(e.operand)
        space = ptr_t.space if isinstance(ptr_t, Ptr) else AddrSpace.UNKNOWN
        if isinstance(t, (Struct, StructRef, Array, Str)):
            return self.ext_value(ExtMem(ptr, 0, t, space))
        return self.read_mem(ptr, t, space)

    def _scaled(self, ptr: ir.Value, idx: ir.Value, size: int) -> ir.Value:
        if isinstance(idx, int):
            return self.alu(AluOp.ADD, ptr, idx * size) if idx else ptr
        off = self.alu(AluOp.MUL, idx, size) if size != 1 else idx
        return self.alu(AluOp.ADD, ptr, off)

    def _extend(self, v: ir.VReg, t: Type) -> ir.Value:
        if isinstance(t, Int) and t.signed and t.bits < 64:
            return self.convert(v, t)
        return v

    def read_mem(self, ptr: ir.Value, t: Type, space: AddrSpace) -> ir.Value:
        """Read an integer of type ``t`` from kernel or user memory (a failed
        read gives 0, as probe_read zero-fills)."""
        size = t.size if t.size in (1, 2, 4, 8) else 8
        # one 8-byte buffer serves every read: each is loaded at once
        buf = self._read_buf = getattr(self, "_read_buf", None) or self.buffer(8, "read")
        if not self._has_split_reads():
            helper = Helper.probe_read
        elif space is AddrSpace.USER:
            helper = Helper.probe_read_user
        else:
            helper = Helper.probe_read_kernel
        self.call(helper, self.addr(buf), size, ptr, result=False)
        return self._extend(self.load(buf, size), t)

    # -- writing values into memory --------------------------------------------------
    def into(self, e: A.Expr, dest: Mem, full: bool = False, zeroed: bool = False) -> None:
        """Evaluate ``e`` into ``dest`` (typed as the destination wants it).
        ``full``: every byte of dest must be written (keys, map values);
        ``zeroed``: dest is known to be zero already."""
        t = dest.type
        if t.in_register or isinstance(t, (Int, Ptr, Special)):
            v = self.int_value(e)
            self.store(dest, v, t.size if t.size in (1, 2, 4, 8) else 8)
            return
        if isinstance(t, Str):
            self.str_into(e, dest, full, zeroed)
            return
        if isinstance(t, Tuple):
            if isinstance(e, A.TupleExpr):
                if full and not zeroed and _has_gaps(t):
                    self.zero(dest, t.size)
                    zeroed = True
                for x, off, et in zip(e.elems, t.offsets, t.elems):
                    self.into(x, dest.at(off, et), full, zeroed)
                return
            src = self.value(e)
            self.copy_converting(dest, src)
            return
        src = self.value(e)
        if isinstance(src, Mem) and src.type == t:     # other memory values (lpm keys)
            self.copy(dest, src, t.size)
            return
        raise NotImplementedError(f"cannot write {t}")

    def copy_converting(self, dest: Mem, src: Mem) -> None:
        """Copy a tuple whose layout may differ (narrower ints, shorter strings)."""
        if src.type == dest.type:
            self.copy(dest, src, dest.type.size)
            return
        dt, st = dest.type, src.type
        if isinstance(dt, Tuple) and isinstance(st, Tuple):
            for off_d, et_d, off_s, et_s in zip(dt.offsets, dt.elems, st.offsets, st.elems):
                self.copy_converting(dest.at(off_d, et_d), src.at(off_s, et_s))
            return
        if isinstance(dt, Str) and isinstance(st, Str):
            n = min(dt.cap, st.cap)
            self.copy(dest, src, n)
            if dt.cap > n:
                self.zero(dest.at(n, dt), dt.cap - n)
            return
        v = self.mem_field(src)
        self.store(dest, v, dt.size)

    def str_into(self, e: A.Expr, dest: Mem, full: bool, zeroed: bool) -> None:
        cap = dest.type.size
        if isinstance(e, A.StrLit):
            self._write_literal(e.value, dest, full and not zeroed)
            return
        if isinstance(e, A.Positional):
            p = param_value(self.params, e.index)
            self._write_literal(str(p), dest, full and not zeroed)
            return
        if isinstance(e, A.Ternary):
            orelse, done = self.label("else"), self.label("endif")
            self.cond(e.cond, orelse)
            self.str_into(e.then, dest, full, zeroed)
            self.jump(done)
            self.place(orelse)
            self.str_into(e.orelse, dest, full, zeroed)
            self.place(done)
            return
        if isinstance(e, A.Builtin) and e.name == "comm":
            n = min(16, cap)
            # where bpf_get_current_comm leaves the bytes after the NUL as they
            # were (strscpy without padding: 6.1 does), a key must be zeroed
            # first, or one comm makes many keys
            if full and not zeroed and not (cap <= 16 and self.kernel.has(Feature.COMM_PAD)):
                self.zero(dest, cap)
            self.call(Helper.get_current_comm, self.addr(dest), n, result=False)
            return
        v = self.value(e)
        if isinstance(v, ExtStr):
            self.read_str(v, dest, full and not zeroed)
        elif isinstance(v, Mem):
            src_cap = v.type.size
            n = min(cap, src_cap)
            self.copy(dest, v, n)
            if full and cap > n and not zeroed:
                self.zero(dest.at(n, dest.type), cap - n)
            elif cap > n:
                self.store(dest.at(n - 1, dest.type), 0, 1)
        else:
            raise NotImplementedError(f"string from {v}")

    def _write_literal(self, text: str, dest: Mem, full: bool) -> None:
        data = text.encode("utf-8", "surrogateescape")[:dest.type.size - 1] + b"\0"
        if full:
            data = data.ljust(dest.type.size, b"\0")
        pos = 0
        while pos < len(data):
            chunk = 4 if len(data) - pos >= 4 else (2 if len(data) - pos >= 2 else 1)
            value = int.from_bytes(data[pos:pos + chunk], "little", signed=True)
            self.emit(ir.Store(dest.base, dest.off + pos, value, chunk))
            pos += chunk

    def read_str(self, s: ExtStr, dest: Mem, full: bool) -> None:
        """Read a NUL-terminated string from kernel or user memory into dest."""
        size = dest.type.size if s.limit is None else s.limit
        size = min(size, dest.type.size)
        if full:
            self.zero(dest, dest.type.size)
        if isinstance(s.limit, ir.VReg):
            raise NotImplementedError
        split = self._has_split_reads()
        if not split:
            self.call(Helper.probe_read_str, self.addr(dest), size, s.ptr, result=False)
            return
        if s.space is AddrSpace.USER:
            self.call(Helper.probe_read_user_str, self.addr(dest), size, s.ptr, result=False)
        elif s.space is AddrSpace.KERNEL:
            self.call(Helper.probe_read_kernel_str, self.addr(dest), size, s.ptr, result=False)
        else:
            r = self.call(Helper.probe_read_kernel_str, self.addr(dest), size, s.ptr)
            done = self.label("read")
            self.branch(JmpOp.JSGE, r, 0, done)
            self.call(Helper.probe_read_user_str, self.addr(dest), size, s.ptr, result=False)
            self.place(done)
