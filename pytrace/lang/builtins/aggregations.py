"""Aggregations: ``@m[k] = count()`` and friends, on per-CPU maps.

Each CPU updates its own slot (an uncontended ``lock add`` where that is one
instruction instead of three); userspace folds the slots
when it reads the map (``decode.fold_percpu``). Value layouts are documented
on ``types.Agg``; histogram buckets are the last u64 of the key, computed
exactly as ``decode.hist_index``/``lhist_index`` compute them.
"""
from __future__ import annotations

from ...bpf.insn import AluOp, Helper, JmpOp
from .. import ast as A
from .. import ir
from ..types import INT64, Agg, AggKind
from . import FnKind, Function


def _check(kind: AggKind, nargs: tuple[int, int]):
    def check(ck, e: A.Call) -> Agg:
        if not ck.expect_args(e, *nargs):
            return Agg(kind, _default_params(kind))
        for a in e.args[:1]:
            ck.expect_int(a, f"{e.name}()'s value")
        params: tuple[int, ...] = ()
        if kind is AggKind.HIST:
            bits = 0
            if len(e.args) == 2:
                bits = ck.const_int(e.args[1])
                ck.expr(e.args[1])
                if bits is None or not 0 <= bits <= 5:
                    ck.error("hist()'s second argument (bits per power of two) must be a "
                             "constant from 0 to 5", e.args[1].loc)
                    bits = 0
            params = (bits,)
        elif kind is AggKind.LHIST:
            consts = []
            for a in e.args[1:]:
                ck.expr(a)
                v = ck.const_int(a)
                if v is None:
                    ck.error("lhist()'s min, max and step must be constant integers", a.loc)
                    v = 0
                consts.append(v)
            lo, hi, step = consts
            if step <= 0:
                ck.error("lhist()'s step must be positive", e.args[3].loc)
                step = 1
            elif hi <= lo:
                ck.error("lhist()'s max must be greater than its min", e.args[2].loc)
            elif (hi - lo) // step > 1000:
                ck.error(f"lhist() would have {(hi - lo) // step} buckets; at most 1000",
                         e.loc, "use a larger step")
            params = (lo, hi, step)
        return Agg(kind, params)
    return check


def _default_params(kind: AggKind) -> tuple[int, ...]:
    return {AggKind.HIST: (0,), AggKind.LHIST: (0, 1, 1)}.get(kind, ())


# -- updating ------------------------------------------------------------------

def lower_update(lw, ref: A.MapRef, call: A.Call, fn: Function) -> None:
    spec = lw.map_spec(ref.name)
    agg: Agg = spec.value
    kind = agg.kind
    x = lw.int_value(call.args[0]) if call.args else None
    bucket = None
    if kind is AggKind.HIST:
        bucket = hist_bucket(lw, x, agg.params[0])
    elif kind is AggKind.LHIST:
        bucket = lhist_bucket(lw, x, *agg.params)
    key = lw.key(ref, extra=bucket)
    p = lw.lookup(ref.name, key)
    init, done = lw.label("init"), lw.label("updated")
    lw.branch(JmpOp.JEQ, p, 0, init)
    if kind in (AggKind.COUNT, AggKind.HIST, AggKind.LHIST):
        lw.emit(ir.AtomicAdd(p, 0, lw.reg_of(1)))
    elif kind is AggKind.SUM:
        lw.emit(ir.AtomicAdd(p, 0, lw.reg_of(x)))
    elif kind in (AggKind.MIN, AggKind.MAX):
        # another CPU created the key: this CPU's slot is zero-filled, "set" off
        take = lw.label("take")
        flag = lw.vreg("set")
        lw.emit(ir.Load(flag, p, 8, 8))
        lw.branch(JmpOp.JEQ, flag, 0, take)
        cur = lw.vreg("cur")
        lw.emit(ir.Load(cur, p, 0, 8))
        keep = JmpOp.JSLE if kind is AggKind.MIN else JmpOp.JSGE
        lw.branch(keep, cur, x, done)
        lw.place(take)
        lw.emit(ir.Store(p, 0, lw.operand(x), 8))
        lw.emit(ir.Store(p, 8, 1, 8))
    else:  # AVG, STATS: count, total
        lw.emit(ir.AtomicAdd(p, 0, lw.reg_of(1)))
        lw.emit(ir.AtomicAdd(p, 8, lw.reg_of(x)))
    lw.jump(done)
    lw.place(init)
    vbuf = lw.buffer(spec.value_size, "value")
    if kind in (AggKind.COUNT, AggKind.HIST, AggKind.LHIST):
        lw.store(vbuf, 1)
    elif kind is AggKind.SUM:
        lw.store(vbuf, x)
    elif kind in (AggKind.MIN, AggKind.MAX):
        lw.store(vbuf, x)
        lw.store(vbuf.at(8, INT64), 1)
    else:
        lw.store(vbuf, 1)
        lw.store(vbuf.at(8, INT64), x)
    lw.update(ref.name, key, lw.addr(vbuf))
    lw.place(done)


def hist_bucket(lw, x, bits: int) -> ir.VReg:
    """``decode.hist_index`` in BPF: 0 for negatives, v+1 below 2**bits, then
    ``((log2(v) - bits + 1) << bits) + ((v >> (log2(v) - bits)) & mask) + 1``.
    log2 is a binary search: for each width s, ``if v > 2**s - 1: v >>= s, l += s``."""
    mask = (1 << bits) - 1
    v = lw.reg_of(x)
    idx = lw.vreg("bucket")
    done = lw.label("bucket")
    lw.emit(ir.Mov(idx, 0))
    lw.branch(JmpOp.JSLT, v, 0, done)
    if bits == 0:
        lw.emit(ir.Mov(idx, 1))
        lw.branch(JmpOp.JEQ, v, 0, done)
        log = idx                       # bucket = 2 + log2(v): count up from 2
        lw.emit(ir.Mov(log, 2))
    else:
        lw.emit(ir.Alu(AluOp.ADD, idx, v, 1))
        lw.branch(JmpOp.JLE, v, mask, done)
        log = lw.vreg("log2")
        lw.emit(ir.Mov(log, 0))
    t = lw.vreg("t")
    lw.emit(ir.Mov(t, v))
    high, skip = lw.vreg("high"), lw.label()
    lw.emit(ir.Alu(AluOp.RSH, high, t, 32))       # 2**32 - 1 does not fit an immediate
    lw.branch(JmpOp.JEQ, high, 0, skip)
    lw.emit(ir.Mov(t, high))
    lw.emit(ir.Alu(AluOp.ADD, log, log, 32))
    lw.place(skip)
    for width in (16, 8, 4, 2, 1):
        skip = lw.label()
        lw.branch(JmpOp.JLE, t, (1 << width) - 1, skip)
        lw.emit(ir.Alu(AluOp.RSH, t, t, width))
        lw.emit(ir.Alu(AluOp.ADD, log, log, width))
        lw.place(skip)
    if bits:
        shift = lw.alu(AluOp.SUB, log, bits)
        high = lw.alu(AluOp.LSH, lw.alu(AluOp.ADD, shift, 1), bits)
        low = lw.alu(AluOp.AND, lw.alu(AluOp.RSH, v, shift), mask)
        lw.emit(ir.Alu(AluOp.ADD, idx, lw.alu(AluOp.ADD, high, low), 1))
    lw.place(done)
    return idx


def lhist_bucket(lw, x, lo: int, hi: int, step: int) -> ir.VReg:
    """``decode.lhist_index`` in BPF (signed comparisons)."""
    v = lw.reg_of(x)
    idx = lw.vreg("bucket")
    done, inside = lw.label("bucket"), lw.label("inside")
    lw.emit(ir.Mov(idx, 0))
    lw.branch(JmpOp.JSLT, v, lo, done)
    lw.emit(ir.Mov(idx, 1 + (hi - lo) // step))
    lw.branch(JmpOp.JSGT, v, hi, done)
    lw.place(inside)
    off = lw.alu(AluOp.SUB, v, lo)
    q = lw.alu(AluOp.DIV, off, step) if step != 1 else off
    lw.emit(ir.Alu(AluOp.ADD, idx, q, 1))
    lw.place(done)
    return idx


# -- reading inside a probe (summing per-CPU slots) ------------------------------

def lower_read(lw, ref: A.MapRef, spec) -> ir.VReg:
    """The folded value of an aggregation, read with
    bpf_map_lookup_percpu_elem over every possible CPU (Linux 5.19)."""
    agg: Agg = spec.value
    key = lw.key(ref)
    total, count, cpu = lw.vreg("total"), lw.vreg("count"), lw.vreg("cpu")
    have = lw.vreg("have")
    lw.emit(ir.Mov(total, 0))
    lw.emit(ir.Mov(count, 0))
    lw.emit(ir.Mov(have, 0))
    lw.emit(ir.Mov(cpu, 0))
    top, nxt, done = lw.label("cpus"), lw.label("next_cpu"), lw.label("folded")
    lw.place(top)
    lw.branch(JmpOp.JGE, cpu, lw.kernel.ncpus, done)
    p = lw.call(Helper.map_lookup_percpu_elem, ir.MapFd(ref.name), key, cpu)
    lw.branch(JmpOp.JEQ, p, 0, nxt)
    kind = agg.kind
    v = lw.vreg("slot")
    lw.emit(ir.Load(v, p, 0, 8))
    if kind in (AggKind.COUNT, AggKind.SUM):
        lw.emit(ir.Alu(AluOp.ADD, total, total, v))
    elif kind in (AggKind.AVG, AggKind.STATS):
        lw.emit(ir.Alu(AluOp.ADD, count, count, v))
        s = lw.vreg("sum")
        lw.emit(ir.Load(s, p, 8, 8))
        lw.emit(ir.Alu(AluOp.ADD, total, total, s))
    else:  # MIN/MAX: only slots whose "set" flag is on
        flag = lw.vreg("set")
        lw.emit(ir.Load(flag, p, 8, 8))
        lw.branch(JmpOp.JEQ, flag, 0, nxt)
        take = lw.label("take")
        lw.branch(JmpOp.JEQ, have, 0, take)
        better = JmpOp.JSGE if kind is AggKind.MIN else JmpOp.JSLE
        lw.branch(better, v, total, nxt)
        lw.place(take)
        lw.emit(ir.Mov(total, v))
        lw.emit(ir.Mov(have, 1))
    lw.place(nxt)
    lw.emit(ir.Alu(AluOp.ADD, cpu, cpu, 1))
    lw.jump(top)
    lw.place(done)
    if kind in (AggKind.AVG, AggKind.STATS):
        return lw.signed_divmod(AluOp.DIV, total, count)
    return total


FUNCTIONS = (
    Function("count", "count()", "count how often this line runs", FnKind.AGG,
             _check(AggKind.COUNT, (0, 0)), agg=AggKind.COUNT),
    Function("sum", "sum(n)", "sum of the values", FnKind.AGG,
             _check(AggKind.SUM, (1, 1)), agg=AggKind.SUM),
    Function("avg", "avg(n)", "average of the values", FnKind.AGG,
             _check(AggKind.AVG, (1, 1)), agg=AggKind.AVG),
    Function("min", "min(n)", "smallest value", FnKind.AGG,
             _check(AggKind.MIN, (1, 1)), agg=AggKind.MIN),
    Function("max", "max(n)", "largest value", FnKind.AGG,
             _check(AggKind.MAX, (1, 1)), agg=AggKind.MAX),
    Function("stats", "stats(n)", "count, average and total of the values", FnKind.AGG,
             _check(AggKind.STATS, (1, 1)), agg=AggKind.STATS),
    Function("hist", "hist(n[, bits])", "power-of-two histogram (bits: 0..5 sub-buckets)",
             FnKind.AGG, _check(AggKind.HIST, (1, 2)), agg=AggKind.HIST,
             aliases=("quantize",)),
    Function("lhist", "lhist(n, min, max, step)", "linear histogram", FnKind.AGG,
             _check(AggKind.LHIST, (4, 4)), agg=AggKind.LHIST),
)
