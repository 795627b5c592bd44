"""Typed AST to IR, one probe (in one context) at a time.

Integers live in virtual registers. Strings, tuples and records live in
memory and are handled through ``Mem`` (a base and an offset); where a value
will end up is known, it is written there directly ("destination-driven"):
a printf argument straight into the ring buffer record, a string key straight
into the key buffer. Buffers that do not fit the 512-byte BPF stack go to a
per-CPU scratch map, so the stack is never the user's problem.
"""
from __future__ import annotations

from ..record import record

from ..backend.insn import AluOp, Helper, JmpOp
from ..diagnostics import NOWHERE, CompileError, Diagnostic, Loc, Severity
from ..kernelinfo import Feature, KernelInfo
from . import ast as A
from . import ir
from .builtins import FnKind, registry
from .probes import ProbeContext, ProgKind
from .program import Counter, CounterSpec, EventKind, EventSpec, Limits, MapKind, MapSpec
from .semantics import Group, ProbeTyping
from .types import (INT64, UINT64, AddrSpace, Agg, AggKind, Array, Int, Ptr, Special, Str,
                    Struct, StructRef, Tuple, Type, struct_of)

#: buffers up to this size go on the stack (while the stack has room)
STACK_BUFFER_MAX = 128
STACK_BUDGET = 320
BPF_ANY = 0
BPF_F_CURRENT_CPU = 0xFFFFFFFF

EVENTS_MAP = "events"
SCRATCH_MAP = "scratch"
COUNTERS_MAP = "counters"


@record(frozen=True)
class Mem:
    """Memory a program can read and write: ``base`` (a pointer vreg or a
    stack slot) plus ``off``, holding a value of ``type``."""
    base: ir.VReg | ir.Slot
    off: int
    type: Type

    def at(self, off: int, type: Type) -> "Mem":
        return Mem(self.base, self.off + off, type)


@record(frozen=True)
class ExtStr:
    """A string outside program memory, to be read with a probe_read helper."""
    ptr: ir.VReg | int
    space: AddrSpace
    limit: int | None = None          # str(p, n)


@record(frozen=True)
class CtxStruct:
    """``args`` of a tracepoint: fields are read from the context."""
    type: Struct


@record(frozen=True)
class ExtMem:
    """A struct or array in kernel (or user) memory, at ``ptr + off``, not
    read yet: member access adds offsets and reads only the member, one
    probe_read per pointer hop (``curtask->real_parent->pid``)."""
    ptr: ir.VReg | int
    off: int
    type: Type
    space: AddrSpace

    def at(self, off: int, type: Type) -> "ExtMem":
        return ExtMem(self.ptr, self.off + off, type, self.space)


@record(frozen=True)
class CtxArray:
    """An array field of a tracepoint record, indexed later."""
    offset: int
    type: Array


class Resources:
    """What all probes of a script share: maps, events, counters, scratch."""

    def __init__(self, limits: Limits, kernel: KernelInfo):
        self.limits = limits
        self.kernel = kernel
        self.maps: dict[str, MapSpec] = {}
        self.events: list[EventSpec] = []
        self.counters: list[CounterSpec] = []
        self.scratch_size = 0
        self.ringbuf = kernel.has(Feature.RINGBUF)

    def event(self, kind: EventKind, fmt: str = "", args: Tuple = Tuple(()), map: str = "",
              loc: Loc | None = None) -> EventSpec:
        spec = EventSpec(len(self.events) + 1, kind, fmt, args, map, loc)
        self.events.append(spec)
        return spec

    def counter(self, kind: Counter, map: str = "") -> int:
        for c in self.counters:
            if c.kind is kind and c.map == map:
                return c.index
        c = CounterSpec(len(self.counters), kind, map)
        self.counters.append(c)
        return c.index

    def internal_maps(self, nprobes: int, ncpus: int) -> list[MapSpec]:
        out = []
        if self.events:
            if self.ringbuf:
                out.append(MapSpec(EVENTS_MAP, MapKind.RINGBUF, 0, 0,
                                   self.limits.ringbuf_size, user=False))
            else:
                out.append(MapSpec(EVENTS_MAP, MapKind.PERF_EVENT_ARRAY, 4, 4,
                                   max(ncpus, 1), user=False))
        if self.scratch_size:
            out.append(MapSpec(SCRATCH_MAP, MapKind.PERCPU_ARRAY, 4,
                               (self.scratch_size + 7) // 8 * 8, max(nprobes, 1), user=False))
        if self.counters:
            out.append(MapSpec(COUNTERS_MAP, MapKind.ARRAY, 4, 8 * len(self.counters), 1,
                               user=False))
        return out


class Lowerer:
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

    # -- statements ------------------------------------------------------------
    def lower_probe(self) -> ir.Function:
        probe = self.group.probe
        self.loc = probe.loc
        self._init_conditional_vars(probe.body)
        only = self.ctx_info.only_tgid
        if only is None and self.group.targets[0].provider != "special" and \
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
        n = _const(s.count, self.params) or 0
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
        p = _param(self.params, e.index)
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
            p = _param(self.params, e.index)
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
            # bpf_get_current_comm leaves the bytes after the NUL as they were
            # on kernels before 6.? (strscpy without padding: 6.1 does): a key
            # must be zeroed first, or one comm makes many keys
            if full and not zeroed:
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


def _chunks(off: int, size: int, other: int | None = None):
    """(position, width) pieces covering ``size`` bytes at ``off`` (and, for a
    copy, at ``other`` too), each naturally aligned at both places and as
    wide as possible: the verifier refuses misaligned stack accesses."""
    pos = 0
    other = off if other is None else other
    while pos < size:
        for chunk in (8, 4, 2, 1):
            if size - pos >= chunk and (off + pos) % chunk == 0 and (other + pos) % chunk == 0:
                yield pos, chunk
                pos += chunk
                break


def _align8(n: int) -> int:
    return (n + 7) // 8 * 8


def _has_gaps(t: Type) -> bool:
    """Whether writing every member of ``t`` may leave bytes unwritten."""
    if isinstance(t, Str):
        return True
    if isinstance(t, Tuple):
        pos = 0
        for off, e in zip(t.offsets, t.elems):
            if off != pos or _has_gaps(e):
                return True
            pos = off + e.size
        return pos != t.size
    return False


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


def _const(e: A.Expr, params: list[str]) -> int | None:
    if isinstance(e, A.IntLit):
        return e.value
    if isinstance(e, A.Positional):
        p = _param(params, e.index)
        return p if isinstance(p, int) else None
    return None


def _param(params: list[str], n: int) -> int | str:
    if not 1 <= n <= len(params):
        return 0
    try:
        return int(params[n - 1], 0)
    except ValueError:
        return params[n - 1]


_ALU = {"+": AluOp.ADD, "-": AluOp.SUB, "*": AluOp.MUL, "/": AluOp.DIV, "%": AluOp.MOD,
        "&": AluOp.AND, "|": AluOp.OR, "^": AluOp.XOR, "<<": AluOp.LSH, ">>": AluOp.RSH}
_CMP = {"==": JmpOp.JEQ, "!=": JmpOp.JNE, "<": JmpOp.JLT, ">": JmpOp.JGT,
        "<=": JmpOp.JLE, ">=": JmpOp.JGE}
_CMP_SIGNED = {"==": JmpOp.JEQ, "!=": JmpOp.JNE, "<": JmpOp.JSLT, ">": JmpOp.JSGT,
               "<=": JmpOp.JSLE, ">=": JmpOp.JSGE}
