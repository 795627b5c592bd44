"""The lowerer's writes: a value into its destination buffer (strings,
tuples, records, converting integer sizes), string literals and
probe_read_str. A mixin of ``Lowerer``."""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
from ..bpf.insn import Helper, JmpOp
from .kernelinfo import Feature
from . import ast as A
from . import ir
from .types import AddrSpace, Int, Ptr, Special, Str, Tuple
from .params import param_value
from .values import ExtStr, Mem, _has_gaps


class CopyOps:
    """Mixed into ``Lowerer``: writing values into memory."""

    # -- writing values into memory --------------------------------------------------
    def into(self, e: A.Expr, dest: Mem, full: bool = False, zeroed: bool = False) -> None:
        """Evaluate ``e`` into ``dest`` (typed as the destination wants it).
        ``full``: every byte of dest must be written (keys, map values);
        ``zeroed``: dest is known to be zero already."""
        while isinstance(e, A.BlockExpr):
            for s in e.stmts:
                self.stmt(s)
            e = e.value
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
            value = int.from_bytes(data[pos:pos + chunk], BYTE_ORDER, signed=True)
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
