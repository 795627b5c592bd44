"""Typed AST to IR, one probe (in one context) at a time.

Integers live in virtual registers. Strings, tuples and records live in
memory and are handled through ``Mem`` (a base and an offset); where a value
will end up is known, it is written there directly ("destination-driven"):
a printf argument straight into the ring buffer record, a string key straight
into the key buffer. Buffers that do not fit the 512-byte BPF stack go to a
per-CPU scratch map, so the stack is never the user's problem.
"""
from __future__ import annotations


from ..bpf.insn import AluOp, Helper, JmpOp
from ..base.diagnostics import NOWHERE, Loc
from . import ast as A
from . import ir
from .builtins import FnKind, registry
from .probes import ProbeContext, ProgKind
from .semantics import Group, ProbeTyping
from .types import (INT64, UINT64, Agg, Int, Ptr, Special, Str,
                    Struct, Tuple, Type, struct_of)

from .params import const_value, param_value
from .lower_memory import MemoryOps
from .resources import Resources
from .values import CtxStruct, ExtMem, ExtStr, Mem


class Lowerer(MemoryOps):
    """Lowers one probe group to an ``ir.Function``."""

    def __init__(self, group: Group, typing: ProbeTyping, res: Resources, name: str,
                 program_index: int, params: list[str], constants: dict[str, int]):
        self.group = group
        self.ctx_info: ProbeContext = group.context
        self.typing = typing
        self.res = res
        self.kernel = res.kernel
        self.limits = res.limits
        self.params = params
        self.constants = constants          # cpid, start time …
        self.program_index = program_index
        self.reg = registry()
        self.fn = ir.Function(name)
        self.loc: Loc = NOWHERE
        self.ctx = self.fn.vreg("ctx")
        self.fn.ops.append(ir.EntryCtx(self.ctx))
        self._entry_end = 1                 # where entry-time setup is inserted
        self.exit_label = self.fn.label("exit")
        self.scratch_base: ir.VReg | None = None
        self.scratch_used = 0
        self.stack_used = 0
        self.vars: dict[str, ir.VReg | Mem] = {}
        self.loops: list[tuple[ir.Label, ir.Label]] = []
        #: what the program returns at its exit label (a constant, or a vreg
        #: that actions such as ``drop;`` set)
        self.return_value: ir.Value = group.context.default_return
        #: per-program state of builtin modules (the net module's parsed headers)
        self.ext: dict = {}

    # -- building blocks ---------------------------------------------------
    def emit(self, op: ir.Op) -> ir.Op:
        if op.loc is NOWHERE:
            op.loc = self.loc
        self.fn.ops.append(op)
        return op

    def at_entry(self, op: ir.Op) -> None:
        op.loc = op.loc if op.loc is not NOWHERE else self.group.probe.loc
        self.fn.ops.insert(self._entry_end, op)
        self._entry_end += 1

    def vreg(self, hint: str = "") -> ir.VReg:
        return self.fn.vreg(hint)

    def label(self, name: str = "") -> ir.Label:
        return self.fn.label(name)

    def place(self, label: ir.Label) -> None:
        self.emit(ir.Place(label))

    def type_of(self, node: A.Node) -> Type:
        return self.typing.types[id(node)]

    def reg_of(self, v: ir.Value) -> ir.VReg:
        """A value in a register (constants are loaded)."""
        if isinstance(v, ir.VReg):
            return v
        r = self.vreg()
        self.emit(ir.Mov(r, v))
        return r

    def operand(self, v: ir.Value) -> ir.Value:
        """A value usable as an ALU/branch operand (immediates are 32-bit)."""
        if isinstance(v, int) and not -(1 << 31) <= v < (1 << 31):
            return self.reg_of(v)
        return v

    def alu(self, op: AluOp, a: ir.Value, b: ir.Value, bits32: bool = False) -> ir.Value:
        if b == 0 and not bits32 and op in (AluOp.ADD, AluOp.SUB, AluOp.OR, AluOp.XOR,
                                           AluOp.LSH, AluOp.RSH, AluOp.ARSH):
            return a
        if b == 1 and op in (AluOp.MUL, AluOp.DIV) and not bits32:
            return a
        dst = self.vreg()
        self.emit(ir.Alu(op, dst, self.reg_of(a), self.operand(b), bits32))
        return dst

    def call(self, helper: Helper, *args: ir.CallArg, result: bool = True) -> ir.VReg | None:
        dst = self.vreg(helper.name) if result else None
        self.emit(ir.Call(helper, tuple(self.operand(a) if isinstance(a, int) else a
                                        for a in args), dst))
        return dst

    def branch(self, op: JmpOp, a: ir.Value, b: ir.Value, target: ir.Label) -> None:
        if isinstance(a, int):
            if isinstance(b, int):
                a = self.reg_of(a)
            else:
                a, b, op = b, a, op.swapped
        self.emit(ir.Branch(op, a, self.operand(b), target))

    def jump(self, target: ir.Label) -> None:
        self.emit(ir.Jump(target))

    # -- statements ------------------------------------------------------------
    def lower_probe(self) -> ir.Function:
        probe = self.group.probe
        self.loc = probe.loc
        self._init_conditional_vars(probe.body)
        only = self.ctx_info.only_tgid
        if only is None and not self.ctx_info.runs_once and \
                self.ctx_info.kind not in (ProgKind.PERF_EVENT, ProgKind.XDP,
                                           ProgKind.SCHED_CLS):    # packets have no process
            only = self.constants.get("filter_pid")      # -p PID
        if only is not None:
            tgid = self.alu(AluOp.RSH, self.call(Helper.get_current_pid_tgid), 32)
            self.branch(JmpOp.JNE, tgid, only, self.exit_label)
        if probe.predicate is not None:
            self.loc = probe.predicate.loc
            self.cond(probe.predicate, self.exit_label)
        self.block(probe.body)
        self.loc = probe.loc
        self.place(self.exit_label)
        self.emit(ir.Return(self.return_value))
        return self.fn

    def _init_conditional_vars(self, body: A.Block) -> None:
        """Variables first assigned inside a branch or loop start at zero, so
        every path reads an initialised register or buffer."""
        first_depth: dict[str, int] = {}

        def visit(stmts, depth):
            for s in stmts:
                if isinstance(s, (A.AssignVar, A.DeclareVar)):
                    first_depth.setdefault(s.target.name, depth)
                for child in s.children():
                    if isinstance(child, A.Block):
                        visit(child.stmts, depth + 1)
                    elif isinstance(child, A.If):
                        visit([child], depth + 1)
        visit(body.stmts, 0)
        for name, depth in first_depth.items():
            if depth > 0 and name in self.typing.vars:
                slot = self._var_slot(name)
                if isinstance(slot, Mem):
                    self.zero(slot, slot.type.size)
                else:
                    self.emit(ir.Mov(slot, 0))

    def _var_slot(self, name: str) -> ir.VReg | Mem:
        slot = self.vars.get(name)
        if slot is None:
            t = self.typing.vars[name]
            if t.in_register:
                slot = self.vreg("$" + name)
            else:
                buf = self.buffer(t.size, "$" + name)
                slot = Mem(buf.base, buf.off, t)
            self.vars[name] = slot
        return slot

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

    # -- integer expressions -------------------------------------------------------
    def int_value(self, e: A.Expr) -> ir.Value:
        v = self.value(e)
        assert not isinstance(v, (Mem, ExtStr, CtxStruct, ExtMem)), (e, v)
        return v

    def value(self, e: A.Expr):
        self.loc = e.loc if e.loc is not NOWHERE else self.loc
        return getattr(self, "expr_" + type(e).__name__)(e)

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
        return self._str_const(p, e)

    def _str_const(self, text: str, e: A.Expr) -> Mem:
        t = self.type_of(e)
        buf = self.buffer(t.size, "str")
        mem = buf.at(0, t)
        self._write_literal(text, mem, full=True)
        return mem

    def expr_ParamCount(self, e: A.ParamCount) -> ir.Value:
        return len(self.params)

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
            return self._signed_divmod(alu, a, b)
        if alu is AluOp.RSH and _signed(lt):
            alu = AluOp.ARSH
        if isinstance(a, int) and alu in (AluOp.ADD, AluOp.MUL, AluOp.AND, AluOp.OR, AluOp.XOR):
            a, b = b, a
        return self.alu(alu, a, b)

    def _signed_divmod(self, alu: AluOp, a: ir.Value, b: ir.Value) -> ir.VReg:
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
