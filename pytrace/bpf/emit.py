"""IR to eBPF instructions: stack layout, labels, map and callback references.

regalloc.py chooses a register for every virtual register; ``emit`` runs it
(spilling and allocating again, up to ``max_rounds``), then turns each op
into instructions, lays out the stack slots, resolves jumps to labels and
appends the callbacks. ``relocate`` later puts map fds into the loads that
name maps.
"""
from __future__ import annotations

from ..base.arch import HOST_ORDER, ByteOrder
from ..base.record import field, record

from ..base.diagnostics import NOWHERE, CompileError, Diagnostic, Loc, Severity
from ..lang import ir
from .insn import (ARG_REGS, FP, AluOp, AtomicOp, Insn, JmpOp, PseudoSrc,
                   Reg, Size, call, exit_, ja, ld_map_fd, mov, mov_imm, slot_offsets, to_be, to_le,
                   Class, Mode)
from .regalloc import NeedsSpill, allocate, basic_blocks, spill_to_stack

STACK_LIMIT = 512


@record
class Program:
    """Emitted instructions with the source location of each."""
    name: str
    insns: list[Insn]
    locs: list[Loc]
    stack_size: int
    #: (name, first instruction, parameter count) of the entry and each callback
    funcs: list = field(default_factory=list)

    @property
    def nslots(self) -> int:
        return sum(i.slots for i in self.insns)


# -- emission ------------------------------------------------------------

class _Emitter:
    def __init__(self, fn: ir.Function, where: dict[ir.VReg, Reg]):
        self.fn = fn
        self.where = where
        self.insns: list[Insn] = []
        self.locs: list[Loc] = []
        self.fixups: list[tuple[int, ir.Label]] = []
        self.labels: dict[ir.Label, int] = {}
        self.slot_off: dict[ir.Slot, int] = {}
        self.swap_slot: int | None = None
        pos = 0
        for s in fn.slots:
            pos += (s.size + 7) // 8 * 8
            self.slot_off[s] = -pos
        self.stack_size = pos
        self.loc: Loc = NOWHERE

    def reg(self, v: ir.VReg) -> Reg:
        return self.where[v]

    def put(self, insn: Insn) -> None:
        self.insns.append(insn)
        self.locs.append(self.loc)

    def base(self, b: ir.Base, off: int) -> tuple[Reg, int]:
        if isinstance(b, ir.Slot):
            return FP, self.slot_off[b] + off
        return self.reg(b), off

    def materialize(self, dst: Reg, value) -> None:
        if isinstance(value, ir.VReg):
            if self.reg(value) != dst:
                self.put(mov(dst, self.reg(value)))
        elif isinstance(value, int):
            self.put(mov_imm(dst, value))
        elif isinstance(value, ir.SlotAddr):
            self.put(mov(dst, FP))
            self.put(AluOp.ADD.imm(dst, self.slot_off[value.slot] + value.off))
        elif isinstance(value, ir.MapFd):
            self.put(ld_map_fd(dst, value.name))
        elif isinstance(value, ir.FuncAddr):
            self.put(Insn(Class.LD | Mode.IMM | Size.DW, dst, PseudoSrc.FUNC, 0, 0,
                          "func:" + value.name))
        elif isinstance(value, ir.MapValueAddr):
            self.put(Insn(Class.LD | Mode.IMM | Size.DW, dst, PseudoSrc.MAP_VALUE, 0,
                          value.off << 32, value.name))
        else:
            raise TypeError(value)

    def parallel_moves(self, moves: dict[Reg, Reg]) -> None:
        moves = {d: s for d, s in moves.items() if d != s}
        while moves:
            sources = set(moves.values())
            ready = [d for d in moves if d not in sources]
            if ready:
                for d in ready:
                    self.put(mov(d, moves.pop(d)))
                continue
            # only cycles remain: park one value, then the chain unwinds
            d, s = next(iter(moves.items()))
            if Reg.R0 not in sources and Reg.R0 not in moves:
                self.put(mov(Reg.R0, s))
                temp = Reg.R0
                moves = {dd: (temp if ss == s else ss) for dd, ss in moves.items()}
            else:
                if self.swap_slot is None:
                    self.stack_size += 8
                    self.swap_slot = -self.stack_size
                self.put(Size.DW.store(FP, self.swap_slot, s))
                moves.pop(d)
                rest = {dd: ss for dd, ss in moves.items()}
                self.parallel_moves(rest)
                self.put(Size.DW.load(d, FP, self.swap_slot))
                return

    def op(self, op: ir.Op) -> None:
        self.loc = op.loc
        if isinstance(op, ir.Mov):
            self.materialize(self.reg(op.dst), op.src)
        elif isinstance(op, ir.Alu):
            self.alu(op)
        elif isinstance(op, ir.ToBe):
            rd, ra = self.reg(op.dst), self.reg(op.a)
            if rd != ra:
                self.put(mov(rd, ra))
            swap_le = op.swap and HOST_ORDER is ByteOrder.BIG
            self.put(to_le(rd, op.bits) if swap_le else to_be(rd, op.bits))
        elif isinstance(op, ir.Neg):
            rd, ra = self.reg(op.dst), self.reg(op.a)
            if rd != ra:
                self.put(mov(rd, ra))
            self.put(AluOp.NEG.imm(rd, 0))
        elif isinstance(op, ir.Load):
            rb, off = self.base(op.base, op.off)
            self.put(Size.of(op.size).load(self.reg(op.dst), rb, off))
        elif isinstance(op, ir.Store):
            rb, off = self.base(op.base, op.off)
            size = Size.of(op.size)
            if isinstance(op.value, int):
                self.put(size.store_imm(rb, off, op.value))
            else:
                self.put(size.store(rb, off, self.reg(op.value)))
        elif isinstance(op, ir.AtomicAdd):
            rb, off = self.base(op.base, op.off)
            self.put(Size.of(op.size).atomic(AtomicOp.ADD, rb, off, self.reg(op.value)))
        elif isinstance(op, ir.Addr):
            self.materialize(self.reg(op.dst), op.what)
        elif isinstance(op, ir.Call):
            self.call(op)
        elif isinstance(op, ir.Jump):
            self.fixups.append((len(self.insns), op.target))
            self.put(ja(0))
        elif isinstance(op, ir.Branch):
            self.fixups.append((len(self.insns), op.target))
            ra = self.reg(op.a)
            if isinstance(op.b, int):
                self.put(op.op.imm(ra, op.b, 0))
            else:
                self.put(op.op.reg(ra, self.reg(op.b), 0))
        elif isinstance(op, ir.Place):
            self.labels[op.label] = len(self.insns)
        elif isinstance(op, ir.Return):
            self.materialize(Reg.R0, op.value)
            self.put(exit_())
        elif isinstance(op, ir.EntryCtx):
            rd = self.reg(op.dst)
            if rd != Reg.R1:
                self.put(mov(rd, Reg.R1))
        else:
            raise TypeError(op)

    def alu(self, op: ir.Alu) -> None:
        rd, ra = self.reg(op.dst), self.reg(op.a)
        imm_form = op.op.imm32 if op.bits32 else op.op.imm
        reg_form = op.op.reg32 if op.bits32 else op.op.reg
        b = op.b
        if op.op is AluOp.MOV:       # dst = b (with 32-bit zero extension when bits32)
            self.put(reg_form(rd, self.reg(b)) if isinstance(b, ir.VReg) else imm_form(rd, b))
            return
        if isinstance(b, ir.VReg):
            rb = self.reg(b)
            if rd == rb and rd != ra:
                # only commutative ops get here (see regalloc._intervals)
                self.put(reg_form(rd, ra))
                return
            if rd != ra:
                self.put(mov(rd, ra))
            self.put(reg_form(rd, rb))
        else:
            if rd != ra:
                self.put(mov(rd, ra))
            self.put(imm_form(rd, b))

    def call(self, op: ir.Call) -> None:
        moves = {}
        later = []
        for k, a in enumerate(op.args):
            if isinstance(a, ir.VReg):
                moves[ARG_REGS[k]] = self.reg(a)
            else:
                later.append((ARG_REGS[k], a))
        self.parallel_moves(moves)
        for r, a in later:
            self.materialize(r, a)
        self.put(call(op.helper))
        if op.dst is not None and self.reg(op.dst) != Reg.R0:
            self.put(mov(self.reg(op.dst), Reg.R0))

    def finish(self) -> tuple[list[Insn], list[Loc]]:
        # drop jumps to the very next instruction, then resolve offsets
        insns, locs, fix = self.insns, self.locs, dict(self.fixups)
        keep = []
        for i, insn in enumerate(insns):
            if i in fix and insn.code == (Class.JMP | JmpOp.JA) and self.labels[fix[i]] == i + 1:
                continue
            keep.append(i)
        newpos = {old: new for new, old in enumerate(keep)}
        label_at = {}
        for lab, old in self.labels.items():
            # a label may stand after the last kept instruction it preceded
            target = old
            while target not in newpos and target < len(insns):
                target += 1
            label_at[lab] = newpos.get(target, len(keep))
        out = [insns[i] for i in keep]
        out_locs = [locs[i] for i in keep]
        slot_of = slot_offsets(out) + [sum(x.slots for x in out)]
        for old, lab in self.fixups:
            if old not in newpos:
                continue
            n = newpos[old]
            off = slot_of[label_at[lab]] - (slot_of[n] + 1)
            out[n] = out[n].with_off(off)
        return out, out_locs


def emit(fn: ir.Function, max_rounds: int = 8) -> Program:
    """The function, then its callbacks; each callback's address load gets
    the callback's offset (relative to the instruction after the load)."""
    main = _emit_one(fn, max_rounds)
    main.funcs = [(fn.name, 0, 1)]
    if not fn.callbacks:
        return main
    insns, locs = list(main.insns), list(main.locs)
    starts: dict[str, int] = {}
    funcs = list(main.funcs)
    for cb in fn.callbacks:
        sub = _emit_one(cb, max_rounds)
        starts[cb.name] = sum(i.slots for i in insns)
        funcs.append((cb.name, starts[cb.name], CALLBACK_PARAMS))
        insns += sub.insns
        locs += sub.locs
    out, pc = [], 0
    for insn in insns:
        if insn.ref is not None and insn.ref.startswith("func:"):
            insn = Insn(insn.code, insn.dst, insn.src, insn.off,
                        starts[insn.ref[5:]] - pc - 1, None)
        out.append(insn)
        pc += insn.slots
    return Program(fn.name, out, locs, main.stack_size, funcs)


#: bpf_for_each_map_elem's callback: (map, key, value, ctx)
CALLBACK_PARAMS = 4


def _drop_unreachable(ops: list[ir.Op]) -> list[ir.Op]:
    """Only the ops control can reach from the entry: statements after
    ``exit()``, ``return`` or a packet verdict (``drop;``) are dead, and the
    verifier refuses programs with unreachable instructions."""
    blocks = basic_blocks(ops)
    block_of_label = {ops[s].label: b for b, (s, _) in enumerate(blocks)
                      if isinstance(ops[s], ir.Place)}
    seen: set[int] = set()
    todo = [0] if blocks else []
    while todo:
        b = todo.pop()
        if b in seen:
            continue
        seen.add(b)
        last = ops[blocks[b][1]]
        if isinstance(last, (ir.Jump, ir.Branch)):
            todo.append(block_of_label[last.target])
        if not isinstance(last, (ir.Jump, ir.Return)) and b + 1 < len(blocks):
            todo.append(b + 1)
    if len(seen) == len(blocks):
        return ops
    return [op for b, (s, e) in enumerate(blocks) if b in seen for op in ops[s:e + 1]]


def _emit_one(fn: ir.Function, max_rounds: int) -> Program:
    fn.ops = _drop_unreachable(fn.ops)
    for _ in range(max_rounds):
        try:
            where = allocate(fn.ops)
            break
        except NeedsSpill as spill:
            spill_to_stack(fn, spill.vregs)
    else:
        raise CompileError(Diagnostic(Severity.ERROR,
                                      f"probe {fn.name} needs more registers than BPF has"))
    em = _Emitter(fn, where)
    for op in fn.ops:
        em.op(op)
    insns, locs = em.finish()
    if em.stack_size > STACK_LIMIT:
        raise CompileError(Diagnostic(
            Severity.ERROR,
            f"probe {fn.name} needs {em.stack_size} bytes of BPF stack (the kernel allows "
            f"{STACK_LIMIT})", hint="use fewer or smaller variables in one probe"))
    return Program(fn.name, insns, locs, em.stack_size)


def relocate(insns: list[Insn], map_fds: dict[str, int]) -> list[Insn]:
    """Put each referenced map's fd into the instruction that loads it."""
    out = []
    for insn in insns:
        if insn.ref is not None and insn.is_wide and insn.src in (PseudoSrc.MAP_FD,
                                                                  PseudoSrc.MAP_VALUE):
            fd = map_fds[insn.ref]
            insn = insn.with_imm((insn.imm & ~0xFFFFFFFF) | fd)
        out.append(insn)
    return out
