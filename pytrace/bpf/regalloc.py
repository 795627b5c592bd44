"""Register allocation for the emitter: liveness, linear scan, spills.

Allocation is linear scan over live intervals computed from a proper
liveness analysis (loops included). A virtual register live across a helper
call may only sit in r6..r9 (calls clobber r0..r5). Hints (call arguments
want r1..r5, call results r0, the context r1) remove most moves. When
registers run out, the interval ending last is spilled to an 8-byte stack
slot and the function is rewritten with a reload before each use and a
store after each definition, then allocated again (emit.py drives the
rounds).
"""
from __future__ import annotations

from ..base.record import fields

from ..lang import ir
from .insn import ARG_REGS, CALLEE_SAVED, AluOp, Reg

_COMMUTATIVE = {AluOp.ADD, AluOp.MUL, AluOp.OR, AluOp.AND, AluOp.XOR}
#: preference order for registers that need not survive calls
_SCRATCH_ORDER = (Reg.R0, Reg.R1, Reg.R2, Reg.R3, Reg.R4, Reg.R5) + CALLEE_SAVED


# -- liveness ------------------------------------------------------------

def basic_blocks(ops: list[ir.Op]) -> list[tuple[int, int]]:
    """Basic blocks as (first, last) op indexes."""
    leaders = {0}
    for i, op in enumerate(ops):
        if isinstance(op, ir.Place):
            leaders.add(i)
        if isinstance(op, (ir.Jump, ir.Branch, ir.Return)) and i + 1 < len(ops):
            leaders.add(i + 1)
    starts = sorted(x for x in leaders if x < len(ops))
    return [(s, (starts[k + 1] - 1 if k + 1 < len(starts) else len(ops) - 1))
            for k, s in enumerate(starts)]


def _intervals(ops: list[ir.Op]) -> dict[ir.VReg, list[int]]:
    """vreg -> [start, end] in positions (op i uses at 2i, defines at 2i+1)."""
    blocks = basic_blocks(ops)
    block_of_label = {}
    for b, (s, _) in enumerate(blocks):
        if isinstance(ops[s], ir.Place):
            block_of_label[ops[s].label] = b
    succs: list[list[int]] = []
    for b, (s, e) in enumerate(blocks):
        last = ops[e]
        out = []
        if isinstance(last, ir.Jump):
            out.append(block_of_label[last.target])
        elif isinstance(last, ir.Return):
            pass
        else:
            if isinstance(last, ir.Branch):
                out.append(block_of_label[last.target])
            if b + 1 < len(blocks):
                out.append(b + 1)
        succs.append(out)
    use: list[set] = []
    dfn: list[set] = []
    for s, e in blocks:
        u, d = set(), set()
        for op in ops[s:e + 1]:
            for v in op.uses():
                if v not in d:
                    u.add(v)
            d.update(op.defs())
        use.append(u)
        dfn.append(d)
    live_in = [set() for _ in blocks]
    live_out = [set() for _ in blocks]
    changed = True
    while changed:
        changed = False
        for b in reversed(range(len(blocks))):
            out = set().union(*(live_in[x] for x in succs[b])) if succs[b] else set()
            inn = use[b] | (out - dfn[b])
            if out != live_out[b] or inn != live_in[b]:
                live_out[b], live_in[b] = out, inn
                changed = True
    iv: dict[ir.VReg, list[int]] = {}

    def extend(v, pos):
        r = iv.get(v)
        if r is None:
            iv[v] = [pos, pos]
        else:
            r[0] = min(r[0], pos)
            r[1] = max(r[1], pos)

    for b, (s, e) in enumerate(blocks):
        for v in live_in[b]:
            extend(v, 2 * s)
        for v in live_out[b]:
            extend(v, 2 * e + 1)
        for i in range(s, e + 1):
            op = ops[i]
            for v in op.uses():
                extend(v, 2 * i)
            for v in op.defs():
                extend(v, 2 * i + 1)
            # the second operand of a non-commutative op must not share the
            # result's register: the result is written before it is read
            if isinstance(op, ir.Alu) and isinstance(op.b, ir.VReg) and op.op not in _COMMUTATIVE:
                extend(op.b, 2 * i + 1)
    return iv


# -- allocation ----------------------------------------------------------

class NeedsSpill(Exception):
    """``allocate`` ran out of registers: these vregs must live on the stack."""

    def __init__(self, vregs: list[ir.VReg]):
        self.vregs = vregs


def _hints(ops: list[ir.Op]) -> dict[ir.VReg, Reg]:
    hints: dict[ir.VReg, Reg] = {}
    for op in ops:
        if isinstance(op, ir.Call):
            for k, a in enumerate(op.args):
                if isinstance(a, ir.VReg):
                    hints.setdefault(a, ARG_REGS[k])
            if op.dst is not None:
                hints.setdefault(op.dst, Reg.R0)
        elif isinstance(op, ir.EntryCtx):
            hints.setdefault(op.dst, Reg.R1)
        elif isinstance(op, ir.Return) and isinstance(op.value, ir.VReg):
            hints.setdefault(op.value, Reg.R0)
    return hints


def allocate(ops: list[ir.Op]) -> dict[ir.VReg, Reg]:
    """A register for every vreg of ``ops``; raises NeedsSpill when they do not fit."""
    iv = _intervals(ops)
    calls = [2 * i + 1 for i, op in enumerate(ops) if isinstance(op, ir.Call)]
    hints = _hints(ops)
    # follow moves: a vreg copied from another wants the same register
    for op in ops:
        if isinstance(op, ir.Mov) and isinstance(op.src, ir.VReg):
            if op.dst in hints and op.src not in hints:
                hints[op.src] = hints[op.dst]
        if isinstance(op, ir.Alu) and op.a in hints and op.dst not in hints:
            hints[op.dst] = hints[op.a]

    def crosses(v) -> bool:
        s, e = iv[v]
        return any(s < c < e for c in calls)

    order = sorted(iv, key=lambda v: (iv[v][0], v.id))
    active: list[tuple[int, ir.VReg]] = []   # (end, vreg)
    where: dict[ir.VReg, Reg] = {}
    spills: list[ir.VReg] = []
    for v in order:
        start, end = iv[v]
        active = [(e, a) for e, a in active if e >= start]
        busy = {where[a] for _, a in active}
        allowed = CALLEE_SAVED if crosses(v) else _SCRATCH_ORDER
        hint = hints.get(v)
        if hint in allowed and hint not in busy:
            choice = hint
        else:
            choice = next((r for r in allowed if r not in busy), None)
        if choice is None:
            # spill whichever competing interval ends last
            rivals = [(e, a) for e, a in active if where[a] in allowed]
            far_end, far = max(rivals, key=lambda x: (x[0], x[1].id))
            if far_end > end:
                spills.append(far)
            else:
                spills.append(v)
            continue
        where[v] = choice
        active.append((end, v))
    if spills:
        raise NeedsSpill(spills)
    return where


def _replace(op: ir.Op, mapping: dict[ir.VReg, ir.VReg], uses: bool) -> ir.Op:
    """A copy of ``op`` with vregs replaced in its uses (or its defs)."""
    defs = set(op.defs())
    changes = {}
    for f in fields(op):
        val = getattr(op, f.name)
        if isinstance(val, ir.VReg) and val in mapping:
            is_def = val in defs and f.name == "dst"
            if is_def != uses:
                changes[f.name] = mapping[val]
        elif isinstance(val, tuple) and uses:
            if any(isinstance(x, ir.VReg) and x in mapping for x in val):
                changes[f.name] = tuple(mapping.get(x, x) if isinstance(x, ir.VReg) else x
                                        for x in val)
    if not changes:
        return op
    kwargs = {f.name: getattr(op, f.name) for f in fields(op)}
    kwargs.update(changes)
    return type(op)(**kwargs)


def spill_to_stack(fn: ir.Function, vregs: list[ir.VReg]) -> None:
    """Rewrite ``fn`` so each of ``vregs`` lives in an 8-byte stack slot:
    a reload before every use, a store after every definition."""
    slots = {v: fn.slot(8, name=f"spill{v.id}") for v in vregs}
    out: list[ir.Op] = []
    for op in fn.ops:
        used = [v for v in op.uses() if v in slots]
        defined = [v for v in op.defs() if v in slots]
        if used:
            mapping = {}
            for v in dict.fromkeys(used):
                t = fn.vreg(f"reload{v.id}")
                out.append(ir.Load(t, slots[v], 0, 8, loc=op.loc))
                mapping[v] = t
            op = _replace(op, mapping, uses=True)
        if defined:
            mapping = {v: fn.vreg(f"def{v.id}") for v in defined}
            op = _replace(op, mapping, uses=False)
            out.append(op)
            for v, t in mapping.items():
                out.append(ir.Store(slots[v], 0, t, 8, loc=op.loc))
            continue
        out.append(op)
    fn.ops = out
