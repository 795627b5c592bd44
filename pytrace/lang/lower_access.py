"""The lowerer's reads: kernel memory behind BTF-typed pointers, the probe's
context (tracepoint records), indexing and dereferencing, and
probe_read of kernel/user memory. A mixin of ``Lowerer``."""
from __future__ import annotations

from ..bpf.insn import AluOp, Helper
from ..base.diagnostics import CompileError, Diagnostic, Severity
from . import ast as A
from . import ir
from .probes import ProgKind
from .types import AddrSpace, Array, Int, Ptr, Str, Struct, StructRef, Type
from .values import CtxArray, ExtMem, ExtStr, Mem


class AccessOps:
    """Mixed into ``Lowerer``: reading memory the program does not own."""

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
        if self._read_buf is None:
            self._read_buf = self.buffer(8, "read")
        buf = self._read_buf
        if not self._has_split_reads():
            helper = Helper.probe_read
        elif space is AddrSpace.USER:
            helper = Helper.probe_read_user
        else:
            helper = Helper.probe_read_kernel
        self.call(helper, self.addr(buf), size, ptr, result=False)
        return self._extend(self.load(buf, size), t)
