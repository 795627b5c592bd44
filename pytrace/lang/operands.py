"""Probe arguments described by machine operands (USDT): a register, memory
at ``base + index*scale + disp``, or a constant, read from ``struct
pt_regs`` in a BPF_PROG_TYPE_KPROBE context.

An ``Operand`` stands where a ``probes.CtxSlot`` does in
``ProbeContext.argn``; ``argN`` calls its ``lower``. Values are read with
the operand's size and sign-extended when it is signed, then typed as
``type``: 64 bits, signed as the probe site declares (bpftrace 0.17 types
every argN u64 but prints 8-byte map keys signed, so keys print alike).
"""
from __future__ import annotations

from ..bpf.insn import AluOp
from ..base.record import record
from .types import UINT64, AddrSpace, Int, Type


@record(frozen=True)
class Operand:
    """``size`` bytes, ``signed``; ``base``/``index`` are pt_regs offsets."""
    size: int
    signed: bool = False
    #: None: a constant (``value``)
    base: int | None = None
    memory: bool = False
    index: int | None = None
    scale: int = 1
    disp: int = 0
    #: CONSTANT: the value; a register operand: a right shift (x86 %ah)
    value: int = 0
    type: Type = UINT64

    @property
    def is_constant(self) -> bool:
        return self.base is None and not self.memory

    def lower(self, lw):
        if self.is_constant:
            return _fold(self.value, self.size, self.signed)
        reg = lw.ctx_load(self.base, 8, "usdt_reg") if self.base is not None else 0
        if not self.memory:
            v = lw.alu(AluOp.RSH, reg, self.value) if self.value else reg
            return lw.convert(v, Int(self.size * 8, self.signed)) if self.size < 8 else v
        addr = reg
        if self.index is not None:
            idx = lw.ctx_load(self.index, 8, "usdt_index")
            if self.scale != 1:
                idx = lw.alu(AluOp.MUL, idx, self.scale)
            addr = lw.alu(AluOp.ADD, addr, idx)
        if self.disp:
            addr = lw.alu(AluOp.ADD, addr, self.disp) if not isinstance(addr, int) else \
                addr + self.disp
        return lw.read_mem(addr, Int(self.size * 8, self.signed), AddrSpace.USER)


def _fold(value: int, size: int, signed: bool) -> int:
    bits = size * 8
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value
