"""Lowering statements (assignments, if, while, unroll, break, return) and
conditions (branches on a value, && and ||). A mixin of ``Lowerer``."""
from __future__ import annotations

from ..bpf.insn import AluOp, JmpOp
from . import ast as A
from . import ir
from .builtins import FnKind
from .types import INT64, Str
from .params import const_value
from .values import Mem
from .lower_expressions import _signed, _unsigned64, _ALU, _CMP, _CMP_SIGNED


class StatementLowering:
    """Mixed into ``Lowerer``: statements and conditions."""

    def block(self, block: A.Block) -> None:
        for s in block.stmts:
            self.stmt(s)

    def stmt(self, s: A.Stmt) -> None:
        self.loc = s.loc
        getattr(self, "stmt_" + type(s).__name__)(s)

    def stmt_Block(self, s: A.Block) -> None:
        self.block(s)

    def stmt_ExprStmt(self, s: A.ExprStmt) -> None:
        self.value(s.expr)

    def stmt_AssignMap(self, s: A.AssignMap) -> None:
        value = s.value
        if isinstance(value, A.Call):
            fn = self.reg.function(value.name)
            if fn is not None and fn.kind is FnKind.AGG:
                from .builtins.aggregations import lower_update
                lower_update(self, s.target, value, fn)
                return
        spec = self.map_spec(s.target.name)
        vbuf = self.buffer(spec.value_size, "value")
        self.into(value, vbuf.at(0, spec.value), full=True)
        key = self.key(s.target)
        self.update(s.target.name, key, self.addr(vbuf))

    def stmt_AssignVar(self, s: A.AssignVar) -> None:
        slot = self._var_slot(s.target.name)
        if isinstance(slot, Mem):
            self.into(s.value, slot, full=True)
        else:
            v = self.int_value(s.value)
            self.emit(ir.Mov(slot, v))

    def stmt_DeclareVar(self, s: A.DeclareVar) -> None:
        if s.value is not None:
            self.stmt_AssignVar(A.AssignVar(s.target, s.value, s.loc))
        else:
            slot = self._var_slot(s.target.name)
            if isinstance(slot, ir.VReg):
                self.emit(ir.Mov(slot, 0))

    def stmt_CompoundAssign(self, s: A.CompoundAssign) -> None:
        op = _ALU[s.op]
        if isinstance(s.target, A.Var):
            slot = self._var_slot(s.target.name)
            v = self.int_value(s.value)
            vt, rt = self.typing.vars[s.target.name], self.type_of(s.value)
            if op in (AluOp.ADD, AluOp.SUB, AluOp.OR, AluOp.XOR, AluOp.AND, AluOp.LSH) or (
                    op in (AluOp.MUL, AluOp.RSH) and not (_signed(vt) and op is AluOp.RSH)):
                self.emit(ir.Alu(op, slot, slot, self.operand(v)))
            else:
                self.emit(ir.Mov(slot, self.arith(s.op, slot, v, vt, rt)))
            return
        ref = s.target
        key = self.key(ref)
        v = self.int_value(s.value)
        p = self.lookup(ref.name, key)
        init, done = self.label("init"), self.label("done")
        self.branch(JmpOp.JEQ, p, 0, init)
        if op in (AluOp.ADD, AluOp.SUB):
            amount = v if op is AluOp.ADD else self._neg(v)
            self.emit(ir.AtomicAdd(p, 0, self.reg_of(amount)))
        else:
            cur = self.load(Mem(p, 0, INT64))
            new = self.arith(s.op, cur, v, INT64, self.type_of(s.value))
            self.emit(ir.Store(p, 0, new, 8))
        self.jump(done)
        self.place(init)
        first = self.arith(s.op, 0, v, INT64, self.type_of(s.value))
        vbuf = self.buffer(8, "value")
        self.store(vbuf, first)
        self.update(ref.name, key, self.addr(vbuf))
        self.place(done)

    def _neg(self, v: ir.Value) -> ir.Value:
        if isinstance(v, int):
            return -v
        dst = self.vreg()
        self.emit(ir.Neg(dst, v))
        return dst

    def stmt_If(self, s: A.If) -> None:
        orelse, done = self.label("else"), self.label("endif")
        self.cond(s.cond, orelse if s.orelse is not None else done)
        self.block(s.then)
        if s.orelse is not None:
            self.jump(done)
            self.place(orelse)
            self.stmt(s.orelse)
        self.place(done)

    def stmt_Unroll(self, s: A.Unroll) -> None:
        n = const_value(s.count, self.params) or 0
        for _ in range(n):
            self.block(s.body)

    def stmt_While(self, s: A.While) -> None:
        top, end = self.label("while"), self.label("endwhile")
        self.place(top)
        self.loc = s.cond.loc
        self.cond(s.cond, end)
        self.loops.append((top, end))
        self.block(s.body)
        self.loops.pop()
        self.jump(top)
        self.place(end)

    def stmt_ForRange(self, s: A.ForRange) -> None:
        """``for ($i : a..b)``: ``$i = a``, ``b`` evaluated once, then while
        ``$i < b`` the body and ``$i++`` (where ``continue`` goes)."""
        slot = self._var_slot(s.var.name)
        self.emit(ir.Mov(slot, self.int_value(s.start)))
        end = self.vreg("end")
        self.emit(ir.Mov(end, self.int_value(s.end)))
        top, step, done = self.label("for"), self.label("next"), self.label("endfor")
        self.place(top)
        self.branch(JmpOp.JSGE, slot, end, done)
        self.loops.append((step, done))
        self.block(s.body)
        self.loops.pop()
        self.place(step)
        self.emit(ir.Alu(AluOp.ADD, slot, slot, 1))
        self.jump(top)
        self.place(done)

    def stmt_Break(self, s: A.Break) -> None:
        self.jump(self.loops[-1][1])

    def stmt_Continue(self, s: A.Continue) -> None:
        self.jump(self.loops[-1][0])

    def stmt_Return(self, s: A.Return) -> None:
        self.jump(self.exit_label)

    # -- conditions --------------------------------------------------------------
    def cond(self, e: A.Expr, false: ir.Label) -> None:
        """Jump to ``false`` when ``e`` is false; fall through when true."""
        if isinstance(e, A.Binary):
            if e.op == "&&":
                self.cond(e.left, false)
                self.cond(e.right, false)
                return
            if e.op == "||":
                true = self.label("or")
                self.cond_true(e.left, true)
                self.cond(e.right, false)
                self.place(true)
                return
            if e.op in _CMP and not self._is_str_cmp(e):
                a, b, op = self._compare(e)
                self.branch(op.negated, a, b, false)
                return
        if isinstance(e, A.Unary) and e.op == "!":
            self.cond_true(e.operand, false)
            return
        v = self.int_value(e)
        self.branch(JmpOp.JEQ, v, 0, false)

    def cond_true(self, e: A.Expr, true: ir.Label) -> None:
        """Jump to ``true`` when ``e`` is true."""
        skip = self.label("skip")
        self.cond(e, skip)
        self.jump(true)
        self.place(skip)

    def _is_str_cmp(self, e: A.Binary) -> bool:
        return isinstance(self.type_of(e.left), Str)

    def _compare(self, e: A.Binary) -> tuple[ir.Value, ir.Value, JmpOp]:
        lt, rt = self.type_of(e.left), self.type_of(e.right)
        a, b = self.int_value(e.left), self.int_value(e.right)
        signed = not (_unsigned64(lt, e.left) or _unsigned64(rt, e.right))
        return a, b, (_CMP_SIGNED if signed else _CMP)[e.op]
