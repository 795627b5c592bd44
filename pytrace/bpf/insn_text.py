"""eBPF instructions as text, in the kernel verifier's syntax.

``format_insn`` prints one instruction as kernel/bpf/disasm.c does
(``r1 += 22``, ``if r1 == 0x0 goto pc+3``, ``r1 = map[@counts]``) and
``disassemble`` a program, one ``slot: text`` line per instruction. Part of
the instruction-set leaf with insn.py (``Insn.text`` comes here).
"""
from __future__ import annotations

from .insn import (_ALU_TEXT, _JMP_TEXT, AluOp, AtomicOp, Class, Helper, Insn, JmpOp, Mode,
                   PseudoCall, PseudoSrc, Src, slot_offsets)

_SIZE_NAME = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}


def _r(n: int) -> str:
    return f"r{n}"


def _off(off: int) -> str:
    return f"{off:+d}"


def format_insn(insn: Insn, pc: int | None = None) -> str:
    """The instruction as the kernel verifier prints it (kernel/bpf/disasm.c)."""
    code, cls = insn.code, insn.code & 0x07
    if cls in (Class.ALU, Class.ALU64):
        op = code & 0xF0
        reg = "r" if cls == Class.ALU64 else "w"
        dst = f"{reg}{insn.dst}"
        if op == AluOp.NEG:
            return f"{dst} = -{dst}"
        if op == AluOp.END:
            # byte swaps print with r for both classes (kernel/bpf/disasm.c)
            kind = "bswap" if cls == Class.ALU64 else ("be" if code & Src.X else "le")
            return f"r{insn.dst} = {kind}{insn.imm} r{insn.dst}"
        rhs = f"{reg}{insn.src}" if code & Src.X else str(insn.imm)
        if op == AluOp.MOV and code & Src.X and insn.off in (8, 16, 32):
            return f"{dst} = (s{insn.off}){rhs}"
        text = _ALU_TEXT[op]
        if op in (AluOp.DIV, AluOp.MOD) and insn.off == 1:
            text = "s" + text            # signed division (Linux 6.6)
        return f"{dst} {text} {rhs}"
    if cls == Class.LDX:
        size = _SIZE_NAME[code & 0x18]
        if code & 0xE0 == Mode.MEMSX:
            size = "s" + size[1:]
        return f"{_r(insn.dst)} = *({size} *)({_r(insn.src)} {_off(insn.off)})"
    if cls == Class.STX:
        size = _SIZE_NAME[code & 0x18]
        target = f"*({size} *)({_r(insn.dst)} {_off(insn.off)})"
        if code & 0xE0 == Mode.ATOMIC:
            return _format_atomic(insn, size, target)
        return f"{target} = {_r(insn.src)}"
    if cls == Class.ST:
        size = _SIZE_NAME[code & 0x18]
        return f"*({size} *)({_r(insn.dst)} {_off(insn.off)}) = {insn.imm}"
    if cls == Class.LD:
        if insn.is_wide:
            if insn.src == PseudoSrc.MAP_FD:
                what = insn.ref if insn.ref is not None else f"fd:{insn.imm}"
                return f"{_r(insn.dst)} = map[{what}]"
            if insn.src == PseudoSrc.FUNC:
                what = insn.ref[5:] if insn.ref else f"pc{_off(insn.imm + 1)}"
                return f"{_r(insn.dst)} = func[{what}]"
            if insn.src == PseudoSrc.MAP_VALUE:
                what = insn.ref if insn.ref is not None else f"fd:{insn.imm & 0xFFFFFFFF}"
                return f"{_r(insn.dst)} = map_value[{what}]+{insn.imm >> 32}"
            return f"{_r(insn.dst)} = {insn.imm:#x}"
        return f"(ld {code:#04x})"
    if cls in (Class.JMP, Class.JMP32):
        op = code & 0xF0
        if op == JmpOp.CALL:
            if insn.src == PseudoCall.CALL:
                return f"call pc{_off(insn.imm)}"
            try:
                return f"call {Helper(insn.imm).text}"
            except ValueError:
                return f"call #{insn.imm}"
        if op == JmpOp.EXIT:
            return "exit"
        target = f"pc{_off(insn.off)}" if pc is None else f"{pc + 1 + insn.off}"
        if op == JmpOp.JA:
            if cls == Class.JMP32:        # gotol: a 32-bit offset in imm (Linux 6.6)
                far = f"pc{_off(insn.imm)}" if pc is None else f"{pc + 1 + insn.imm}"
                return f"gotol {far}"
            return f"goto {target}"
        reg = "r" if cls == Class.JMP else "w"
        rhs = f"{reg}{insn.src}" if code & Src.X else f"{insn.imm & 0xFFFFFFFF:#x}"
        return f"if {reg}{insn.dst} {_JMP_TEXT[op]} {rhs} goto {target}"
    return f"(bad {code:#04x})"


def _format_atomic(insn: Insn, size: str, target: str) -> str:
    op = insn.imm
    src = _r(insn.src)
    width = "64" if size == "u64" else ""
    where = target[1:]                     # "(u64 *)(r10 -8)"
    if op == AtomicOp.XCHG:
        return f"{src} = atomic{width}_xchg({where}, {src})"
    if op == AtomicOp.CMPXCHG:
        return f"r0 = atomic{width}_cmpxchg({where}, r0, {src})"
    base = op & ~AtomicOp.FETCH
    sym = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}[base]
    if op & AtomicOp.FETCH:
        name = {AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and", AtomicOp.XOR: "xor"}[base]
        return f"{src} = atomic{width}_fetch_{name}({where}, {src})"
    return f"lock {target} {sym} {src}"


def disassemble(insns: list[Insn]) -> list[str]:
    """One line per instruction: ``slot: text`` with absolute jump targets."""
    lines = []
    for pc, insn in zip(slot_offsets(insns), insns):
        lines.append(f"{pc:4d}: {format_insn(insn, pc if insn.is_jump else None)}")
    return lines
