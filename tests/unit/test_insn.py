"""eBPF instructions (pytrace.bpf.insn): the 8-byte wire format and the
verifier's text.

Each vector is an instruction built with insn.py's builders, its bytes as the
ISA defines them (``u8 code; u8 src<<4 | dst; s16 off; s32 imm``, little
endian) and the text the Linux 6.18 verifier printed for exactly those bytes
with log_level=2 (loaded as a socket filter on the test machine; the
opcode byte the kernel printed in parentheses is the first byte of each
vector). The tests need no root: the kernel's text is pasted here.
"""
import pytest

from pytrace.bpf.insn import (FP, AluOp, AtomicOp, Class, Helper, Insn, JmpOp, Mode, PseudoCall,
                              PseudoSrc, Reg, Size, Src, call, decode, encode, exit_, ja,
                              ld_imm64, ld_map_fd, mov, mov_imm, slot_offsets)
from pytrace.bpf.insn_text import disassemble, format_insn

R0, R1, R2, R6, R7 = Reg.R0, Reg.R1, Reg.R2, Reg.R6, Reg.R7


def fields(insn):
    return insn.code, insn.dst, insn.src, insn.off, insn.imm


def raw(cls, op, dst, src=0, off=0, imm=0):
    """An instruction the builders do not offer (kernel v4 ISA forms)."""
    return Insn(cls | op, dst, src, off, imm)


# (instruction, bytes, verifier text, reason the text differs or None)
VECTORS = [
    # -- ALU64 with an immediate
    (AluOp.ADD.imm(R1, 22), "0701000016000000", "r1 += 22", None),
    (AluOp.ADD.imm(R1, -16), "07010000f0ffffff", "r1 += -16", None),
    (AluOp.SUB.imm(R1, 3), "1701000003000000", "r1 -= 3", None),
    (AluOp.MUL.imm(R1, 3), "2701000003000000", "r1 *= 3", None),
    (AluOp.DIV.imm(R1, 3), "3701000003000000", "r1 /= 3", None),
    (AluOp.OR.imm(R1, 3), "4701000003000000", "r1 |= 3", None),
    (AluOp.AND.imm(R1, 3), "5701000003000000", "r1 &= 3", None),
    (AluOp.AND.imm(R1, -1), "57010000ffffffff", "r1 &= -1", None),
    (AluOp.LSH.imm(R1, 63), "670100003f000000", "r1 <<= 63", None),
    (AluOp.RSH.imm(R1, 3), "7701000003000000", "r1 >>= 3", None),
    (AluOp.MOD.imm(R1, 3), "9701000003000000", "r1 %= 3", None),
    (AluOp.XOR.imm(R1, 3), "a701000003000000", "r1 ^= 3", None),
    (AluOp.MOV.imm(R1, -22), "b7010000eaffffff", "r1 = -22", None),
    (AluOp.ARSH.imm(R1, 3), "c701000003000000", "r1 s>>= 3", None),
    (AluOp.NEG.imm(R1, 0), "8701000000000000", "r1 = -r1", None),
    # -- ALU64 with a register
    (AluOp.ADD.reg(R1, R2), "0f21000000000000", "r1 += r2", None),
    (AluOp.SUB.reg(R1, R2), "1f21000000000000", "r1 -= r2", None),
    (AluOp.MUL.reg(R1, R2), "2f21000000000000", "r1 *= r2", None),
    (AluOp.DIV.reg(R1, R2), "3f21000000000000", "r1 /= r2", None),
    (AluOp.OR.reg(R1, R2), "4f21000000000000", "r1 |= r2", None),
    (AluOp.AND.reg(R1, R2), "5f21000000000000", "r1 &= r2", None),
    (AluOp.LSH.reg(R1, R2), "6f21000000000000", "r1 <<= r2", None),
    (AluOp.RSH.reg(R1, R2), "7f21000000000000", "r1 >>= r2", None),
    (AluOp.MOD.reg(R1, R2), "9f21000000000000", "r1 %= r2", None),
    (AluOp.XOR.reg(R1, R2), "af21000000000000", "r1 ^= r2", None),
    (AluOp.ARSH.reg(R1, R2), "cf21000000000000", "r1 s>>= r2", None),
    (mov(R6, R1), "bf16000000000000", "r6 = r1", None),
    # -- ALU32
    (AluOp.ADD.imm32(R1, 3), "0401000003000000", "w1 += 3", None),
    (AluOp.SUB.imm32(R1, 3), "1401000003000000", "w1 -= 3", None),
    (AluOp.MUL.imm32(R1, 3), "2401000003000000", "w1 *= 3", None),
    (AluOp.DIV.imm32(R1, 3), "3401000003000000", "w1 /= 3", None),
    (AluOp.OR.imm32(R1, 3), "4401000003000000", "w1 |= 3", None),
    (AluOp.AND.imm32(R1, 3), "5401000003000000", "w1 &= 3", None),
    (AluOp.LSH.imm32(R1, 3), "6401000003000000", "w1 <<= 3", None),
    (AluOp.RSH.imm32(R1, 3), "7401000003000000", "w1 >>= 3", None),
    (AluOp.MOD.imm32(R1, 3), "9401000003000000", "w1 %= 3", None),
    (AluOp.XOR.imm32(R1, 3), "a401000003000000", "w1 ^= 3", None),
    (AluOp.ARSH.imm32(R1, 3), "c401000003000000", "w1 s>>= 3", None),
    (AluOp.MOV.imm32(R1, 22), "b401000016000000", "w1 = 22", None),
    (AluOp.MOV.imm32(R1, -1), "b4010000ffffffff", "w1 = -1", None),
    (AluOp.ADD.reg32(R1, R2), "0c21000000000000", "w1 += w2", None),
    (AluOp.SUB.reg32(R1, R2), "1c21000000000000", "w1 -= w2", None),
    (AluOp.MUL.reg32(R1, R2), "2c21000000000000", "w1 *= w2", None),
    (AluOp.DIV.reg32(R1, R2), "3c21000000000000", "w1 /= w2", None),
    (AluOp.OR.reg32(R1, R2), "4c21000000000000", "w1 |= w2", None),
    (AluOp.AND.reg32(R1, R2), "5c21000000000000", "w1 &= w2", None),
    (AluOp.LSH.reg32(R1, R2), "6c21000000000000", "w1 <<= w2", None),
    (AluOp.RSH.reg32(R1, R2), "7c21000000000000", "w1 >>= w2", None),
    (AluOp.MOD.reg32(R1, R2), "9c21000000000000", "w1 %= w2", None),
    (AluOp.XOR.reg32(R1, R2), "ac21000000000000", "w1 ^= w2", None),
    (AluOp.ARSH.reg32(R1, R2), "cc21000000000000", "w1 s>>= w2", None),
    (AluOp.MOV.reg32(R7, R1), "bc17000000000000", "w7 = w1", None),
    (AluOp.NEG.imm32(R1, 0), "8401000000000000", "w1 = -w1", None),
    # -- byte swaps: ALU|K = to little endian, ALU|X = to big endian, ALU64 = bswap (6.6)
    (raw(Class.ALU, Src.K | AluOp.END, R1, imm=16), "d401000010000000", "r1 = le16 r1",
     None),
    (raw(Class.ALU, Src.X | AluOp.END, R1, imm=16), "dc01000010000000", "r1 = be16 r1",
     None),
    (raw(Class.ALU, Src.K | AluOp.END, R1, imm=32), "d401000020000000", "r1 = le32 r1",
     None),
    (raw(Class.ALU, Src.X | AluOp.END, R1, imm=64), "dc01000040000000", "r1 = be64 r1",
     None),
    (raw(Class.ALU64, Src.K | AluOp.END, R1, imm=16), "d701000010000000", "r1 = bswap16 r1",
     None),
    (raw(Class.ALU64, Src.K | AluOp.END, R1, imm=32), "d701000020000000", "r1 = bswap32 r1",
     None),
    (raw(Class.ALU64, Src.K | AluOp.END, R1, imm=64), "d701000040000000", "r1 = bswap64 r1",
     None),
    # -- signed division (off=1) and sign-extending moves (off=8/16/32), Linux 6.6
    (raw(Class.ALU64, Src.K | AluOp.DIV, R1, off=1, imm=3), "3701010003000000", "r1 s/= 3",
     None),
    (raw(Class.ALU64, Src.X | AluOp.MOD, R1, R2, off=1), "9f21010000000000", "r1 s%= r2",
     None),
    (raw(Class.ALU64, Src.X | AluOp.MOV, R1, R2, off=8), "bf21080000000000", "r1 = (s8)r2",
     None),
    (raw(Class.ALU64, Src.X | AluOp.MOV, R1, R2, off=16), "bf21100000000000",
     "r1 = (s16)r2", None),
    (raw(Class.ALU64, Src.X | AluOp.MOV, R1, R2, off=32), "bf21200000000000",
     "r1 = (s32)r2", None),
    (raw(Class.ALU, Src.X | AluOp.MOV, R1, R2, off=8), "bc21080000000000", "w1 = (s8)w2",
     None),
    # -- stores of immediates and registers
    (Size.DW.store_imm(FP, -8, 5), "7a0af8ff05000000", "*(u64 *)(r10 -8) = 5", None),
    (Size.DW.store_imm(FP, -8, -2), "7a0af8fffeffffff", "*(u64 *)(r10 -8) = -2", None),
    (Size.W.store_imm(FP, -16, -1), "620af0ffffffffff", "*(u32 *)(r10 -16) = -1", None),
    (Size.H.store_imm(FP, -18, 2), "6a0aeeff02000000", "*(u16 *)(r10 -18) = 2", None),
    (Size.B.store_imm(FP, -19, 1), "720aedff01000000", "*(u8 *)(r10 -19) = 1", None),
    (Size.DW.store(FP, -24, R1), "7b1ae8ff00000000", "*(u64 *)(r10 -24) = r1", None),
    (Size.W.store(FP, -28, R1), "631ae4ff00000000", "*(u32 *)(r10 -28) = r1", None),
    (Size.H.store(FP, -30, R1), "6b1ae2ff00000000", "*(u16 *)(r10 -30) = r1", None),
    (Size.B.store(FP, -31, R1), "731ae1ff00000000", "*(u8 *)(r10 -31) = r1", None),
    # -- loads, plain and sign-extending (6.6)
    (Size.DW.load(R1, FP, -8), "79a1f8ff00000000", "r1 = *(u64 *)(r10 -8)", None),
    (Size.W.load(R1, FP, -16), "61a1f0ff00000000", "r1 = *(u32 *)(r10 -16)", None),
    (Size.H.load(R1, FP, -18), "69a1eeff00000000", "r1 = *(u16 *)(r10 -18)", None),
    (Size.B.load(R1, FP, -19), "71a1edff00000000", "r1 = *(u8 *)(r10 -19)", None),
    (Size.DW.load(R6, R1, 32), "7916200000000000", "r6 = *(u64 *)(r1 +32)", None),
    (Size.W.load_signed(R1, FP, -16), "81a1f0ff00000000", "r1 = *(s32 *)(r10 -16)", None),
    (Size.H.load_signed(R1, FP, -18), "89a1eeff00000000", "r1 = *(s16 *)(r10 -18)", None),
    (Size.B.load_signed(R1, FP, -19), "91a1edff00000000", "r1 = *(s8 *)(r10 -19)", None),
    # -- atomics
    (Size.DW.atomic(AtomicOp.ADD, FP, -8, R1), "db1af8ff00000000",
     "lock *(u64 *)(r10 -8) += r1", None),
    (Size.DW.atomic(AtomicOp.OR, FP, -8, R1), "db1af8ff40000000",
     "lock *(u64 *)(r10 -8) |= r1", None),
    (Size.DW.atomic(AtomicOp.AND, FP, -8, R1), "db1af8ff50000000",
     "lock *(u64 *)(r10 -8) &= r1", None),
    (Size.DW.atomic(AtomicOp.XOR, FP, -8, R1), "db1af8ffa0000000",
     "lock *(u64 *)(r10 -8) ^= r1", None),
    (Size.W.atomic(AtomicOp.ADD, FP, -16, R1), "c31af0ff00000000",
     "lock *(u32 *)(r10 -16) += r1", None),
    (Size.W.atomic(AtomicOp.XOR, FP, -16, R1), "c31af0ffa0000000",
     "lock *(u32 *)(r10 -16) ^= r1", None),
    (Size.DW.atomic(AtomicOp.ADD | AtomicOp.FETCH, FP, -8, R1), "db1af8ff01000000",
     "r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)", None),
    (Size.DW.atomic(AtomicOp.OR | AtomicOp.FETCH, FP, -8, R1), "db1af8ff41000000",
     "r1 = atomic64_fetch_or((u64 *)(r10 -8), r1)", None),
    (Size.DW.atomic(AtomicOp.AND | AtomicOp.FETCH, FP, -8, R1), "db1af8ff51000000",
     "r1 = atomic64_fetch_and((u64 *)(r10 -8), r1)", None),
    (Size.DW.atomic(AtomicOp.XOR | AtomicOp.FETCH, FP, -8, R1), "db1af8ffa1000000",
     "r1 = atomic64_fetch_xor((u64 *)(r10 -8), r1)", None),
    (Size.DW.atomic(AtomicOp.XCHG, FP, -8, R1), "db1af8ffe1000000",
     "r1 = atomic64_xchg((u64 *)(r10 -8), r1)", None),
    (Size.DW.atomic(AtomicOp.CMPXCHG, FP, -8, R1), "db1af8fff1000000",
     "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)", None),
    (Size.W.atomic(AtomicOp.ADD | AtomicOp.FETCH, FP, -16, R1), "c31af0ff01000000",
     "r1 = atomic_fetch_add((u32 *)(r10 -16), r1)", None),
    (Size.W.atomic(AtomicOp.XCHG, FP, -16, R1), "c31af0ffe1000000",
     "r1 = atomic_xchg((u32 *)(r10 -16), r1)", None),
    (Size.W.atomic(AtomicOp.CMPXCHG, FP, -16, R1), "c31af0fff1000000",
     "r0 = atomic_cmpxchg((u32 *)(r10 -16), r0, r1)", None),
    # -- 64-bit immediates (two slots)
    (ld_imm64(R1, 0x123456789), "18010000896745230000000001000000", "r1 = 0x123456789", None),
    (ld_imm64(R2, -1), "18020000ffffffff00000000ffffffff", "r2 = 0xffffffffffffffff", None),
    # -- jumps with an immediate, with a register, and their 32-bit forms
    (JmpOp.JEQ.imm(R1, 5, 0), "1501000005000000", "if r1 == 0x5 goto pc+0", None),
    (JmpOp.JEQ.imm(R1, -1, 1), "15010100ffffffff", "if r1 == 0xffffffff goto pc+1",
     None),
    (JmpOp.JGT.imm(R1, 0x7FFFFFFF, 0), "25010000ffffff7f", "if r1 > 0x7fffffff goto pc+0", None),
    (JmpOp.JGE.imm(R1, 5, 0), "3501000005000000", "if r1 >= 0x5 goto pc+0", None),
    (JmpOp.JSET.imm(R1, 5, 0), "4501000005000000", "if r1 & 0x5 goto pc+0", None),
    (JmpOp.JNE.imm(R1, 5, 0), "5501000005000000", "if r1 != 0x5 goto pc+0", None),
    (JmpOp.JSGT.imm(R1, 5, 0), "6501000005000000", "if r1 s> 0x5 goto pc+0", None),
    (JmpOp.JSGE.imm(R1, 5, 0), "7501000005000000", "if r1 s>= 0x5 goto pc+0", None),
    (JmpOp.JLT.imm(R1, 3, -2), "a501feff03000000", "if r1 < 0x3 goto pc-2", None),
    (JmpOp.JLE.imm(R1, 5, 0), "b501000005000000", "if r1 <= 0x5 goto pc+0", None),
    (JmpOp.JSLT.imm(R1, 5, 0), "c501000005000000", "if r1 s< 0x5 goto pc+0", None),
    (JmpOp.JSLT.imm(R1, -2, 0), "c5010000feffffff", "if r1 s< 0xfffffffe goto pc+0",
     None),
    (JmpOp.JSLE.imm(R1, 5, 0), "d501000005000000", "if r1 s<= 0x5 goto pc+0", None),
    (JmpOp.JEQ.reg(R1, R2, 0), "1d21000000000000", "if r1 == r2 goto pc+0", None),
    (JmpOp.JGT.reg(R1, R2, 0), "2d21000000000000", "if r1 > r2 goto pc+0", None),
    (JmpOp.JGE.reg(R1, R2, 0), "3d21000000000000", "if r1 >= r2 goto pc+0", None),
    (JmpOp.JSET.reg(R1, R2, 0), "4d21000000000000", "if r1 & r2 goto pc+0", None),
    (JmpOp.JNE.reg(R1, R2, 0), "5d21000000000000", "if r1 != r2 goto pc+0", None),
    (JmpOp.JSGT.reg(R1, R2, 0), "6d21000000000000", "if r1 s> r2 goto pc+0", None),
    (JmpOp.JSGE.reg(R1, R2, 0), "7d21000000000000", "if r1 s>= r2 goto pc+0", None),
    (JmpOp.JLT.reg(R1, R2, 0), "ad21000000000000", "if r1 < r2 goto pc+0", None),
    (JmpOp.JLE.reg(R1, R2, 0), "bd21000000000000", "if r1 <= r2 goto pc+0", None),
    (JmpOp.JSLT.reg(R1, R2, 0), "cd21000000000000", "if r1 s< r2 goto pc+0", None),
    (JmpOp.JSLE.reg(R1, R2, 0), "dd21000000000000", "if r1 s<= r2 goto pc+0", None),
    (JmpOp.JEQ.imm32(R1, 5, 0), "1601000005000000", "if w1 == 0x5 goto pc+0", None),
    (JmpOp.JEQ.imm32(R1, -5, 0), "16010000fbffffff", "if w1 == 0xfffffffb goto pc+0",
     None),
    (JmpOp.JSGT.imm32(R1, -5, 0), "66010000fbffffff", "if w1 s> 0xfffffffb goto pc+0",
     None),
    (JmpOp.JLE.reg32(R1, R2, 0), "be21000000000000", "if w1 <= w2 goto pc+0", None),
    (JmpOp.JSET.reg32(R1, R2, 0), "4e21000000000000", "if w1 & w2 goto pc+0", None),
    (ja(0), "0500000000000000", "goto pc+0", None),
    (ja(-3), "0500fdff00000000", "goto pc-3", None),
    (raw(Class.JMP32, JmpOp.JA, 0, imm=0), "0600000000000000", "gotol pc+0", None),
    # -- calls and exit
    (call(Helper.ktime_get_ns), "8500000005000000", "call bpf_ktime_get_ns#5", None),
    (call(Helper.get_prandom_u32), "8500000007000000", "call bpf_get_prandom_u32#7", None),
    (Insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.CALL, 0, 2), "8510000002000000", "call pc+2",
     None),
    (exit_(), "9500000000000000", "exit", None),
]


BYTES = [pytest.param(insn, data, id=text) for insn, data, text, _ in VECTORS]
TEXTS = [pytest.param(insn, text, id=text, marks=(
    pytest.mark.xfail(strict=True, reason=reason) if reason else ()))
    for insn, _, text, reason in VECTORS]


def test_vector_bytes_are_well_formed():
    for insn, data, text, _ in VECTORS:
        assert len(bytes.fromhex(data)) == 8 * insn.slots, text


@pytest.mark.parametrize("insn,data", BYTES)
def test_encode(insn, data):
    assert insn.encode() == bytes.fromhex(data)
    assert encode([insn]) == bytes.fromhex(data)


@pytest.mark.parametrize("insn,data", BYTES)
def test_decode(insn, data):
    (back,) = decode(bytes.fromhex(data))
    assert fields(back) == fields(insn)
    assert back.slots == insn.slots


@pytest.mark.parametrize("insn,text", TEXTS)
def test_text_as_the_verifier_prints_it(insn, text):
    assert format_insn(insn) == text
    assert str(insn) == text


# -- details of the wire format ----------------------------------------------------

def test_hand_computed_bytes():
    # code = class | source | op; regs = src << 4 | dst; then s16 off and s32 imm
    assert AluOp.ADD.imm(R1, 22).encode() == bytes([0x07, 0x01, 0, 0, 0x16, 0, 0, 0])
    assert AluOp.ADD.reg(Reg.R9, Reg.R10).encode() == bytes([0x0F, 0xA9, 0, 0, 0, 0, 0, 0])
    assert Size.DW.store(FP, -8, R1).encode() == bytes([0x7B, 0x1A, 0xF8, 0xFF, 0, 0, 0, 0])
    assert JmpOp.JNE.imm(Reg.R3, 0x12345678, 0x102).encode() == bytes(
        [0x55, 0x03, 0x02, 0x01, 0x78, 0x56, 0x34, 0x12])
    assert Class.ALU64 | Src.X | AluOp.MOV == 0xBF
    assert Class.LDX | Mode.MEM | Size.B == 0x71
    assert Class.STX | Mode.ATOMIC | Size.DW == 0xDB


def test_wide_load_takes_two_slots():
    insn = ld_imm64(R1, 0xFFFF_FFFF_0000_0001)
    data = insn.encode()
    assert data == bytes.fromhex("1801000001000000" "00000000ffffffff")
    assert (insn.is_wide, insn.slots) == (True, 2)
    (back,) = decode(data)
    assert back.imm == 0xFFFF_FFFF_0000_0001


def test_map_fd_load():
    insn = ld_map_fd(R1, "@counts", 7)
    assert insn.encode() == bytes.fromhex("1811000007000000" "0000000000000000")
    assert (insn.src, insn.ref, insn.slots) == (PseudoSrc.MAP_FD, "@counts", 2)
    assert format_insn(insn) == "r1 = map[@counts]"
    (back,) = decode(insn.encode())
    assert (back.ref, format_insn(back)) == (None, "r1 = map[fd:7]")


def test_map_value_load():
    insn = Insn(Class.LD | Mode.IMM | Size.DW, R1, PseudoSrc.MAP_VALUE, 0, (8 << 32) | 5,
                "counters")
    assert insn.encode() == bytes.fromhex("1821000005000000" "0000000008000000")
    assert format_insn(insn) == "r1 = map_value[counters]+8"
    (back,) = decode(insn.encode())
    assert format_insn(back) == "r1 = map_value[fd:5]+8"


def test_mov_imm_picks_the_short_form_when_it_fits():
    assert mov_imm(R1, -(1 << 31)).slots == 1
    assert mov_imm(R1, (1 << 31) - 1).slots == 1
    wide = mov_imm(R1, 1 << 31)
    assert (wide.is_wide, wide.imm, format_insn(wide)) == (True, 1 << 31, "r1 = 0x80000000")
    assert mov_imm(R1, -(1 << 31) - 1).imm == (1 << 64) - (1 << 31) - 1


def test_program_round_trip_and_slot_offsets():
    prog = [mov_imm(R0, 0), ld_map_fd(R1, "m"), ld_imm64(R2, 1 << 40),
            JmpOp.JEQ.imm(R0, 0, 1), AluOp.ADD.imm(R0, 1), exit_()]
    data = encode(prog)
    assert len(data) == 8 * 8
    back = decode(data)
    assert [fields(b) for b in back] == [fields(i) for i in prog]
    assert slot_offsets(prog) == [0, 1, 3, 5, 6, 7]


def test_disassemble_prints_absolute_jump_targets():
    prog = [mov_imm(R0, 0), ld_imm64(R1, 1), JmpOp.JEQ.imm(R1, 0, 1), ja(-4), exit_()]
    assert disassemble(prog) == [
        "   0: r0 = 0",
        "   1: r1 = 0x1",
        "   3: if r1 == 0x0 goto 5",
        "   4: goto 1",
        "   5: exit",
    ]
    assert format_insn(prog[2], 3) == "if r1 == 0x0 goto 5"


def test_decode_rejects_bad_lengths():
    with pytest.raises(ValueError, match="not a multiple of 8"):
        decode(b"\x95" * 7)
    with pytest.raises(ValueError, match="no second slot"):
        decode(ld_imm64(R1, 5).encode()[:8])


def test_instruction_shapes():
    assert JmpOp.JEQ.imm(R1, 0, 2).is_jump and ja(1).is_jump
    assert not call(Helper.map_lookup_elem).is_jump and call(Helper.map_lookup_elem).is_call
    assert not exit_().is_jump and exit_().is_exit
    assert not AluOp.ADD.imm(R1, 1).is_jump
    assert JmpOp.JEQ.imm(R1, 0, 2).with_off(7).off == 7
    assert ld_map_fd(R1, "m").with_imm(9).imm == 9 and ld_map_fd(R1, "m").with_imm(9).ref == "m"


def test_jump_negation_and_swap():
    pairs = {JmpOp.JEQ: JmpOp.JNE, JmpOp.JGT: JmpOp.JLE, JmpOp.JGE: JmpOp.JLT,
             JmpOp.JSGT: JmpOp.JSLE, JmpOp.JSGE: JmpOp.JSLT}
    for a, b in pairs.items():
        assert a.negated is b and b.negated is a
    assert JmpOp.JLT.swapped is JmpOp.JGT and JmpOp.JSLE.swapped is JmpOp.JSGE
    assert JmpOp.JEQ.swapped is JmpOp.JEQ


def test_sizes_and_helper_text():
    assert [Size.of(n) for n in (1, 2, 4, 8)] == [Size.B, Size.H, Size.W, Size.DW]
    with pytest.raises(ValueError):
        Size.of(3)
    assert Helper.map_lookup_percpu_elem.text == "bpf_map_lookup_percpu_elem#195"
    assert format_insn(Insn(Class.JMP | JmpOp.CALL, 0, 0, 0, 9999)) == "call #9999"
