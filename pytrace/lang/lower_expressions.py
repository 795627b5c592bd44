"""Lowering expressions: integer arithmetic (with constant folding), literals,
names, calls, casts, tuples, field access, sizeof/offsetof. A mixin of
``Lowerer``."""
from __future__ import annotations

from ..bpf.insn import AluOp, JmpOp
from ..base.diagnostics import NOWHERE
from . import ast as A
from . import ir
from .types import UINT64, Agg, Int, Ptr, Special, Struct, Tuple, Type, struct_of
from .params import param_value, positional
from .values import CtxStruct, ExtMem, ExtStr, Mem


class ExpressionLowering:
    """Mixed into ``Lowerer``: expressions to values."""

    # -- integer expressions -------------------------------------------------------
    def int_value(self, e: A.Expr) -> ir.Value:
        v = self.value(e)
        assert not isinstance(v, (Mem, ExtStr, CtxStruct, ExtMem)), (e, v)
        return v

    def value(self, e: A.Expr):
        self.loc = e.loc if e.loc is not NOWHERE else self.loc
        return getattr(self, "expr_" + type(e).__name__)(e)

    def expr_BlockExpr(self, e: A.BlockExpr):
        for s in e.stmts:
            self.stmt(s)
        return self.value(e.value)

    def expr_IncDec(self, e: A.IncDec) -> ir.Value:
        """``x++`` gives x before, ``++x`` after; maps start at 0."""
        before = self.vreg("old")
        self.emit(ir.Mov(before, self.int_value(e.target)))
        self.stmt_CompoundAssign(e.assign)
        if e.post:
            return before
        self.emit(ir.Alu(AluOp.ADD if e.op == "+" else AluOp.SUB, before, before, 1))
        return before

    def expr_IntLit(self, e: A.IntLit) -> ir.Value:
        return e.value if e.value < 1 << 63 else e.value - (1 << 64)

    def in_new_buffer(self, e: A.Expr, name: str) -> Mem:
        """Evaluate a memory-typed expression into fresh memory of its type."""
        t = self.type_of(e)
        mem = self.buffer(t.size, name).at(0, t)
        self.into(e, mem, full=True)
        return mem

    def expr_StrLit(self, e: A.StrLit) -> Mem:
        return self.in_new_buffer(e, "str")

    def expr_Positional(self, e: A.Positional):
        p = param_value(self.params, e.index)
        if isinstance(p, int):
            return p
        return self.str_const(p, e)

    def str_const(self, text: str, e: A.Expr) -> Mem:
        """``text`` in a new buffer of ``e``'s string type (a constant string)."""
        t = self.type_of(e)
        buf = self.buffer(t.size, "str")
        mem = buf.at(0, t)
        self._write_literal(text, mem, full=True)
        return mem

    def expr_ParamCount(self, e: A.ParamCount) -> ir.Value:
        return len(positional(self.params))

    def expr_Var(self, e: A.Var):
        return self._var_slot(e.name)

    def expr_Builtin(self, e: A.Builtin):
        return self.reg.variable(e.name).lower(self, e)

    def expr_Call(self, e: A.Call):
        return self.reg.function(e.name).lower(self, e)

    def expr_MapRef(self, e: A.MapRef):
        spec = self.map_spec(e.name)
        if isinstance(spec.value, Agg):
            from .builtins.aggregations import lower_read
            return lower_read(self, e, spec)
        key = self.key(e)
        p = self.lookup(e.name, key)
        if spec.value.in_register:
            v = self.vreg(e.name)
            done = self.label("read")
            self.emit(ir.Mov(v, 0))
            self.branch(JmpOp.JEQ, p, 0, done)
            self.emit(ir.Load(v, p, 0, 8))
            self.place(done)
            return v
        buf = self.buffer(spec.value.size, "value")
        mem = buf.at(0, spec.value)
        missing, done = self.label("missing"), self.label("read")
        self.branch(JmpOp.JEQ, p, 0, missing)
        self.copy(mem, Mem(p, 0, spec.value), spec.value.size)
        self.jump(done)
        self.place(missing)
        self.zero(mem, spec.value.size)
        self.place(done)
        return mem

    def expr_Binary(self, e: A.Binary) -> ir.Value:
        if e.op in ("&&", "||") or e.op in _CMP:
            return self.bool_value(e)
        a, b = self.int_value(e.left), self.int_value(e.right)
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        if isinstance(lt, Ptr) and e.op in ("+", "-") and lt.target.size > 1:
            b = self.arith("*", b, lt.target.size, UINT64, UINT64)
        return self.arith(e.op, a, b, lt, rt)

    def bool_value(self, e: A.Expr) -> ir.VReg:
        if isinstance(e, A.Binary) and e.op in ("==", "!=") and self._is_str_cmp(e):
            from .builtins.functions import lower_str_equal
            eq = lower_str_equal(self, e.left, e.right)
            return eq if e.op == "==" else self.alu(AluOp.XOR, eq, 1)
        dst = self.vreg("bool")
        false = self.label("false")
        self.emit(ir.Mov(dst, 0))
        self.cond(e, false)
        self.emit(ir.Mov(dst, 1))
        self.place(false)
        return dst

    def arith(self, op: str, a: ir.Value, b: ir.Value, lt: Type, rt: Type) -> ir.Value:
        if isinstance(a, int) and isinstance(b, int):
            folded = _fold(op, a, b, _signed(lt) and _signed(rt))
            if folded is not None:
                return folded
        alu = _ALU[op]
        signed = _signed(lt) and _signed(rt)
        if alu in (AluOp.DIV, AluOp.MOD) and signed:
            return self.signed_divmod(alu, a, b)
        if alu is AluOp.RSH and _signed(lt):
            alu = AluOp.ARSH
        if isinstance(a, int) and alu in (AluOp.ADD, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR):
            a, b = b, a
        return self.alu(alu, a, b)

    def signed_divmod(self, alu: AluOp, a: ir.Value, b: ir.Value) -> ir.VReg:
        """Signed division on unsigned BPF ALU ops: divide magnitudes, fix signs
        (the quotient takes the xor of the signs, the remainder the dividend's)."""
        ua, ub = self.vreg(), self.vreg()
        self.emit(ir.Mov(ua, a))
        self.emit(ir.Mov(ub, b))
        neg_a, neg_b = self.vreg("neg_a"), self.vreg("neg_b")
        for src, neg in ((ua, neg_a), (ub, neg_b)):
            pos = self.label("pos")
            self.emit(ir.Mov(neg, 0))
            self.branch(JmpOp.JSGE, src, 0, pos)
            self.emit(ir.Mov(neg, 1))
            self.emit(ir.Neg(src, src))
            self.place(pos)
        result = self.alu(alu, ua, ub)
        sign = neg_a if alu is AluOp.MOD else self.alu(AluOp.XOR, neg_a, neg_b)
        done = self.label("signed")
        self.branch(JmpOp.JEQ, sign, 0, done)
        self.emit(ir.Neg(result, result))
        self.place(done)
        return result

    def expr_Unary(self, e: A.Unary) -> ir.Value:
        if e.op == "!":
            return self.bool_value(e)
        v = self.int_value(e.operand)
        if e.op == "+":
            return v
        if isinstance(v, int):
            return -v if e.op == "-" else ~v
        if e.op == "-":
            return self._neg(v)
        return self.alu(AluOp.XOR, v, -1)

    def expr_Ternary(self, e: A.Ternary):
        t = self.type_of(e)
        orelse, done = self.label("else"), self.label("endif")
        if t.in_register:
            dst = self.vreg("ternary")
            self.cond(e.cond, orelse)
            self.emit(ir.Mov(dst, self.int_value(e.then)))
            self.jump(done)
            self.place(orelse)
            self.emit(ir.Mov(dst, self.int_value(e.orelse)))
            self.place(done)
            return dst
        return self.in_new_buffer(e, "ternary")

    def expr_Cast(self, e: A.Cast) -> ir.Value:
        v = self.int_value(e.operand)
        t = self.type_of(e)
        if isinstance(t, Int):
            return self.convert(v, t)
        return v

    def convert(self, v: ir.Value, t: Int) -> ir.Value:
        """Truncate (and sign-extend) a 64-bit value to ``t``."""
        if t.bits >= 64:
            return v
        if isinstance(v, int):
            v &= (1 << t.bits) - 1
            if t.signed and v >> (t.bits - 1):
                v -= 1 << t.bits
            return v
        if t.signed:
            shift = 64 - t.bits
            return self.alu(AluOp.ARSH, self.alu(AluOp.LSH, v, shift), shift)
        if t.bits == 32:
            dst = self.vreg()
            self.emit(ir.Alu(AluOp.MOV, dst, v, v, bits32=True))
            return dst
        return self.alu(AluOp.AND, v, (1 << t.bits) - 1)

    def expr_FieldAccess(self, e: A.FieldAccess):
        base = self.value(e.operand)
        if isinstance(base, CtxStruct):
            return self.ctx_field(base.type, e.name)
        if isinstance(base, Mem) and isinstance(base.type, Struct):
            f = base.type.field(e.name)
            return self.mem_field(base.at(f.offset, f.type))
        # a kernel struct: through a pointer, or already in memory (a.b.c)
        ext = base if isinstance(base, ExtMem) else self.ext_target(base, self.type_of(e.operand))
        f = struct_of(ext.type).field(e.name)
        return self.ext_value(ext.at(f.offset, f.type), f.bits)

    def expr_TupleIndex(self, e: A.TupleIndex):
        base = self.value(e.operand)
        tt: Tuple = base.type if isinstance(base, Mem) else self.type_of(e.operand)
        return self.mem_field(base.at(tt.offsets[e.index], tt.elems[e.index]))

    def expr_TupleExpr(self, e: A.TupleExpr) -> Mem:
        return self.in_new_buffer(e, "tuple")

    def expr_Sizeof(self, e: A.Sizeof) -> int:
        if isinstance(e.what, A.TypeName):
            name = e.what.name
            if e.what.pointers:
                return 8
            if name.startswith(("struct ", "union ", "enum ")):
                from .kernel_types import lookup
                return lookup(self.kernel, name).size
            return 1 if name == "bool" else int(name.lstrip("uint")) // 8
        return self.type_of(e.what).size

    def expr_Offsetof(self, e: A.Offsetof) -> int:
        from .kernel_types import lookup
        return struct_of(lookup(self.kernel, e.type.name, e.type.pointers)).field(e.member).offset


def _signed(t: Type, node: A.Expr | None = None) -> bool:
    if isinstance(node, A.IntLit) and node.value >= 0:
        return True
    if isinstance(t, Int):
        return t.signed
    if isinstance(t, Agg):
        return True
    return False


def _unsigned64(t: Type, node: A.Expr | None = None) -> bool:
    """Whether a comparison with this operand is unsigned: C promotes
    narrower integers to a signed 64-bit value, so only unsigned 64-bit
    integers (and pointers) compare unsigned."""
    if isinstance(node, A.IntLit):
        return node.value >= 1 << 63
    if isinstance(t, Int):
        return not t.signed and t.bits == 64
    return isinstance(t, (Ptr, Special))


def _fold(op: str, a: int, b: int, signed: bool) -> int | None:
    mask = (1 << 64) - 1
    try:
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op in ("/", "%"):
            if b == 0:
                return None
            if signed:
                q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
                r = q if op == "/" else a - q * b
            else:
                r = (a & mask) // (b & mask) if op == "/" else (a & mask) % (b & mask)
        elif op == "&":
            r = a & b
        elif op == "|":
            r = a | b
        elif op == "^":
            r = a ^ b
        elif op == "<<":
            r = a << (b & 63)
        elif op == ">>":
            r = (a if signed else a & mask) >> (b & 63)
        else:
            return None
    except (OverflowError, ValueError):
        return None
    r &= mask
    return r - (1 << 64) if r >> 63 else r


_ALU = {"+": AluOp.ADD, "-": AluOp.SUB, "*": AluOp.MUL, "/": AluOp.DIV, "%": AluOp.MOD,
        "&": AluOp.AND, "|": AluOp.OR, "^": AluOp.XOR, "<<": AluOp.LSH, ">>": AluOp.RSH}
_CMP = {"==": JmpOp.JEQ, "!=": JmpOp.JNE, "<": JmpOp.JLT, ">": JmpOp.JGT,
        "<=": JmpOp.JLE, ">=": JmpOp.JGE}
_CMP_SIGNED = {"==": JmpOp.JEQ, "!=": JmpOp.JNE, "<": JmpOp.JSLT, ">": JmpOp.JSGT,
               "<=": JmpOp.JSLE, ">=": JmpOp.JSGE}
