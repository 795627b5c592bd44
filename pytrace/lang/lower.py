"""Typed AST to IR, one probe (in one context) at a time.

Integers live in virtual registers. Strings, tuples and records live in
memory and are handled through ``Mem`` (a base and an offset); where a value
will end up is known, it is written there directly ("destination-driven"):
a printf argument straight into the ring buffer record, a string key straight
into the key buffer. Buffers that do not fit the 512-byte BPF stack go to a
per-CPU scratch map, so the stack is never the user's problem.
"""
from __future__ import annotations

from typing import Callable

from ..bpf.insn import AluOp, Helper, JmpOp
from ..base.diagnostics import NOWHERE, Loc
from ..base.nesting import deep_stack
from . import ast as A
from . import ir
from .builtins import registry
from .probes import ProbeContext, ProgKind
from .resources import Resources
from .semantics import Group, ProbeTyping
from .types import Type
from .values import Mem
from .lower_access import AccessOps
from .lower_copy import CopyOps
from .lower_expressions import ExpressionLowering
from .lower_memory import MemoryOps
from .lower_statements import StatementLowering


class Lowerer(StatementLowering, ExpressionLowering, AccessOps, CopyOps, MemoryOps):
    """Lowers one probe group to an ``ir.Function``.

    Builtins (lang/builtins) lower through the members named in ``PUBLIC``
    and no others (tests/unit/test_builtin_records.py checks it):

    * building blocks: ``emit(op)``, ``at_entry(op)``, ``emit_at_entry(build)``,
      ``vreg()``, ``label()``, ``place(label)``, ``jump(label)``,
      ``branch(op, a, b, label)``, ``alu(op, a, b)``, ``call(helper, *args)``,
      ``operand(v)``, ``reg_of(v)``, ``convert(v, int_type)``,
      ``signed_divmod(op, a, b)``, ``callback(suffix, make)``;
    * expressions: ``value(e)``, ``int_value(e)``, ``type_of(node)``,
      ``into(e, mem)``, ``str_const(text, e)``;
    * memory: ``buffer(size)``, ``stack_slot(size)``, ``addr(mem)``,
      ``store``/``load``, ``ctx_load(offset, size)``, ``read_mem``,
      ``read_str``, maps (``map_spec``, ``key``, ``lookup``, ``update``) and
      events (``send(spec, fill)``);
    * what the program is for (read them, do not rebind them): ``group``,
      ``ctx`` (the context register), ``ctx_info`` (the probe's context),
      ``kernel``, ``limits``, ``params``, ``constants``, ``res`` (maps and
      events: the resources), ``exit_label``, ``loc`` (the source being
      lowered) and ``ext`` (per-program state of builtin modules).
    """

    PUBLIC = frozenset({
        "emit", "at_entry", "emit_at_entry", "vreg", "label", "place", "jump", "branch",
        "alu", "call", "operand", "reg_of", "convert", "signed_divmod", "callback",
        "value", "int_value", "type_of", "into", "str_const",
        "buffer", "stack_slot", "addr", "store", "load", "ctx_load", "read_mem", "read_str",
        "map_spec", "key", "lookup", "update", "send",
        "group", "ctx", "ctx_info", "kernel", "limits", "params", "constants", "res",
        "exit_label", "loc", "ext",
    })

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
        #: the 8-byte buffer every read_mem() reads into (made on first use)
        self._read_buf: Mem | None = None
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

    def emit_at_entry(self, build: Callable[[], object], loc: Loc) -> None:
        """Run ``build``, which emits ops (located at ``loc``), and move what
        it emitted to the program's entry: setup that every later use of
        its result may rely on (the net module's parsed headers)."""
        saved, self.fn.ops = self.fn.ops, []
        saved_loc, self.loc = self.loc, loc
        try:
            build()
            built = self.fn.ops
        finally:
            self.fn.ops, self.loc = saved, saved_loc
        for op in built:
            self.at_entry(op)

    def stack_slot(self, size: int, name: str = "") -> ir.Slot:
        """A stack slot of ``size`` bytes for the whole program (not shared
        with scratch buffers), counted against the stack budget."""
        slot = self.fn.slot(max(size, 8), name=name)
        self.stack_used += size
        return slot

    def callback(self, suffix: str, make: Callable[[str], ir.Function]) -> str:
        """The name of this program's BPF-to-BPF callback ``<program>_<suffix>``
        (for helpers such as bpf_for_each_map_elem), made by ``make(name)``
        the first time it is asked for."""
        name = f"{self.fn.name}_{suffix}"
        if not any(cb.name == name for cb in self.fn.callbacks):
            self.fn.callbacks.append(make(name))
        return name

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
    @deep_stack()
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
