"""eBPF instructions as values, in the ISA's own words.

Builders hang off the opcode enums (``AluOp.ADD.imm(Reg.R1, 22)``), every
instruction prints in the kernel verifier's syntax (``r1 += 22``, through
insn_text.py), and ``encode``/``decode`` round-trip the 8-byte wire format.
This is the leaf of the code generator: from pytrace it imports only
base.record (and insn_text for ``Insn.text``). No bare opcode hex lives
outside it and insn_text.py.

Wire format (include/uapi/linux/bpf.h, struct bpf_insn):
``u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm``; the 64-bit
immediate load (``BPF_LD | BPF_DW | BPF_IMM``) takes two slots. The
kernel reads it in its own byte order, and C allocates bitfields from the
low bit on little-endian machines and from the high bit on big-endian
ones: there dst_reg is the high nibble. ``encode``/``decode`` take the
order (default: the host's, ``base.arch.HOST_ORDER``).
"""
from __future__ import annotations

import struct
from ..base.arch import HOST_ORDER, ByteOrder
from ..base.record import record
from enum import IntEnum

#: one 8-byte slot in each byte order
_SLOTS = {order: struct.Struct(order.struct + "BBhi") for order in ByteOrder}
SLOT_SIZE = 8


def _regs_byte(dst: int, src: int, order: ByteOrder) -> int:
    """The dst_reg:4/src_reg:4 byte: dst is the low nibble on little-endian."""
    if order is ByteOrder.LITTLE:
        return (src & 0x0F) << 4 | (dst & 0x0F)
    return (dst & 0x0F) << 4 | (src & 0x0F)


def _split_regs(regs: int, order: ByteOrder) -> tuple[int, int]:
    """(dst, src) of a dst_reg:4/src_reg:4 byte."""
    if order is ByteOrder.LITTLE:
        return regs & 0x0F, regs >> 4
    return regs >> 4, regs & 0x0F


class Reg(IntEnum):
    R0 = 0
    R1 = 1
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5
    R6 = 6
    R7 = 7
    R8 = 8
    R9 = 9
    R10 = 10

    @property
    def text(self) -> str:
        return f"r{self.value}"


FP = Reg.R10
#: Registers a helper call clobbers (arguments and the return value).
CALLER_SAVED = (Reg.R0, Reg.R1, Reg.R2, Reg.R3, Reg.R4, Reg.R5)
#: Registers preserved across helper calls.
CALLEE_SAVED = (Reg.R6, Reg.R7, Reg.R8, Reg.R9)
ARG_REGS = (Reg.R1, Reg.R2, Reg.R3, Reg.R4, Reg.R5)


class Class(IntEnum):
    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Src(IntEnum):
    K = 0x00  # immediate operand
    X = 0x08  # register operand


class Mode(IntEnum):
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class PseudoSrc(IntEnum):
    """src_reg values that give a 64-bit immediate load another meaning."""
    NONE = 0
    MAP_FD = 1      # imm is a map fd; the register receives the map pointer
    MAP_VALUE = 2   # imm is a map fd, next imm an offset into value 0
    BTF_ID = 3
    FUNC = 4


class PseudoCall(IntEnum):
    HELPER = 0
    CALL = 1        # bpf-to-bpf call
    KFUNC = 2


_SIZE_BYTES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}


class Size(IntEnum):
    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18

    @property
    def nbytes(self) -> int:
        return _SIZE_BYTES[self.value]

    @classmethod
    def of(cls, nbytes: int) -> "Size":
        for size, n in _SIZE_BYTES.items():
            if n == nbytes:
                return cls(size)
        raise ValueError(f"no load/store of {nbytes} bytes")

    def load(self, dst: Reg, src: Reg, off: int = 0) -> "Insn":
        """``dst = *(size *)(src + off)``"""
        return Insn(Class.LDX | Mode.MEM | self, dst, src, off, 0)

    def load_signed(self, dst: Reg, src: Reg, off: int = 0) -> "Insn":
        """Sign-extending load (Linux 6.6+)."""
        return Insn(Class.LDX | Mode.MEMSX | self, dst, src, off, 0)

    def store(self, dst: Reg, off: int, src: Reg) -> "Insn":
        """``*(size *)(dst + off) = src``"""
        return Insn(Class.STX | Mode.MEM | self, dst, src, off, 0)

    def store_imm(self, dst: Reg, off: int, imm: int) -> "Insn":
        """``*(size *)(dst + off) = imm``"""
        return Insn(Class.ST | Mode.MEM | self, dst, 0, off, imm)

    def atomic(self, op: "AtomicOp", dst: Reg, off: int, src: Reg) -> "Insn":
        """``lock *(size *)(dst + off) op= src`` (only W and DW exist)."""
        return Insn(Class.STX | Mode.ATOMIC | self, dst, src, off, int(op))


class AtomicOp(IntEnum):
    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01


_ALU_TEXT = {
    0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=",
    0x60: "<<=", 0x70: ">>=", 0x90: "%=", 0xA0: "^=", 0xB0: "=", 0xC0: "s>>=",
}


class AluOp(IntEnum):
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0

    def imm(self, dst: Reg, imm: int) -> "Insn":
        """64-bit ``dst op= imm``."""
        return Insn(Class.ALU64 | Src.K | self, dst, 0, 0, imm)

    def reg(self, dst: Reg, src: Reg) -> "Insn":
        """64-bit ``dst op= src``."""
        return Insn(Class.ALU64 | Src.X | self, dst, src, 0, 0)

    def imm32(self, dst: Reg, imm: int) -> "Insn":
        """32-bit ``wdst op= imm`` (zero-extends into the upper half)."""
        return Insn(Class.ALU | Src.K | self, dst, 0, 0, imm)

    def reg32(self, dst: Reg, src: Reg) -> "Insn":
        return Insn(Class.ALU | Src.X | self, dst, src, 0, 0)

    @property
    def text(self) -> str:
        return _ALU_TEXT[self.value]


_JMP_TEXT = {
    0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>",
    0x70: "s>=", 0xA0: "<", 0xB0: "<=", 0xC0: "s<", 0xD0: "s<=",
}


class JmpOp(IntEnum):
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0

    def imm(self, dst: Reg, imm: int, off: int = 0) -> "Insn":
        """``if dst op imm goto pc+off``"""
        return Insn(Class.JMP | Src.K | self, dst, 0, off, imm)

    def reg(self, dst: Reg, src: Reg, off: int = 0) -> "Insn":
        """``if dst op src goto pc+off``"""
        return Insn(Class.JMP | Src.X | self, dst, src, off, 0)

    def imm32(self, dst: Reg, imm: int, off: int = 0) -> "Insn":
        return Insn(Class.JMP32 | Src.K | self, dst, 0, off, imm)

    def reg32(self, dst: Reg, src: Reg, off: int = 0) -> "Insn":
        return Insn(Class.JMP32 | Src.X | self, dst, src, off, 0)

    @property
    def text(self) -> str:
        return _JMP_TEXT[self.value]

    @property
    def negated(self) -> "JmpOp":
        return _JMP_NEGATION[self]

    @property
    def swapped(self) -> "JmpOp":
        """The operator with its operands exchanged (``a < b`` is ``b > a``)."""
        return _JMP_SWAP[self]


_JMP_NEGATION = {
    JmpOp.JEQ: JmpOp.JNE, JmpOp.JNE: JmpOp.JEQ,
    JmpOp.JGT: JmpOp.JLE, JmpOp.JLE: JmpOp.JGT,
    JmpOp.JGE: JmpOp.JLT, JmpOp.JLT: JmpOp.JGE,
    JmpOp.JSGT: JmpOp.JSLE, JmpOp.JSLE: JmpOp.JSGT,
    JmpOp.JSGE: JmpOp.JSLT, JmpOp.JSLT: JmpOp.JSGE,
}
_JMP_SWAP = {
    JmpOp.JEQ: JmpOp.JEQ, JmpOp.JNE: JmpOp.JNE,
    JmpOp.JGT: JmpOp.JLT, JmpOp.JLT: JmpOp.JGT,
    JmpOp.JGE: JmpOp.JLE, JmpOp.JLE: JmpOp.JGE,
    JmpOp.JSGT: JmpOp.JSLT, JmpOp.JSLT: JmpOp.JSGT,
    JmpOp.JSGE: JmpOp.JSLE, JmpOp.JSLE: JmpOp.JSGE,
}


class Helper(IntEnum):
    """BPF helper function ids (include/uapi/linux/bpf.h, ___BPF_FUNC_MAPPER)."""
    map_lookup_elem = 1
    map_update_elem = 2
    map_delete_elem = 3
    probe_read = 4
    ktime_get_ns = 5
    trace_printk = 6
    get_prandom_u32 = 7
    get_smp_processor_id = 8
    skb_store_bytes = 9
    tail_call = 12
    get_current_pid_tgid = 14
    get_current_uid_gid = 15
    get_current_comm = 16
    redirect = 23
    perf_event_output = 25
    skb_load_bytes = 26
    get_stackid = 27
    get_current_task = 35
    get_numa_node_id = 42
    xdp_adjust_head = 44
    probe_read_str = 45
    redirect_map = 51
    override_return = 58
    xdp_adjust_tail = 65
    get_stack = 67
    get_current_cgroup_id = 80
    send_signal = 109
    probe_read_user = 112
    probe_read_kernel = 113
    probe_read_user_str = 114
    probe_read_kernel_str = 115
    jiffies64 = 118
    get_ns_current_pid_tgid = 120
    ktime_get_boot_ns = 125
    ringbuf_output = 130
    ringbuf_reserve = 131
    ringbuf_submit = 132
    ringbuf_discard = 133
    get_task_stack = 141
    d_path = 147
    for_each_map_elem = 164
    get_current_task_btf = 158
    get_func_ip = 173
    get_attach_cookie = 174
    loop = 181
    strncmp = 182
    get_func_arg = 183
    get_func_ret = 184
    get_func_arg_cnt = 185
    xdp_get_buff_len = 188
    xdp_load_bytes = 189
    map_lookup_percpu_elem = 195

    @property
    def text(self) -> str:
        return f"bpf_{self.name}#{self.value}"


@record(frozen=True)
class Insn:
    """One instruction. ``imm`` holds the full 64-bit value of a wide load.

    ``ref`` names what a 64-bit load refers to (a map name) until the loader
    puts the real fd into ``imm``; listings print the name, never the fd.
    """
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    ref: str | None = None

    # -- shape ---------------------------------------------------------
    @property
    def cls(self) -> Class:
        return Class(self.code & 0x07)

    @property
    def is_wide(self) -> bool:
        return self.code == (Class.LD | Mode.IMM | Size.DW)

    @property
    def slots(self) -> int:
        return 2 if self.is_wide else 1

    @property
    def is_jump(self) -> bool:
        """A jump with a pc-relative target (not call, not exit)."""
        if self.cls not in (Class.JMP, Class.JMP32):
            return False
        return (self.code & 0xF0) not in (JmpOp.CALL, JmpOp.EXIT)

    @property
    def is_call(self) -> bool:
        return self.code == (Class.JMP | JmpOp.CALL)

    @property
    def is_exit(self) -> bool:
        return self.code == (Class.JMP | JmpOp.EXIT)

    def with_off(self, off: int) -> "Insn":
        return Insn(self.code, self.dst, self.src, off, self.imm, self.ref)

    def with_imm(self, imm: int) -> "Insn":
        return Insn(self.code, self.dst, self.src, self.off, imm, self.ref)

    # -- wire format ---------------------------------------------------
    def encode(self, order: ByteOrder = HOST_ORDER) -> bytes:
        slot = _SLOTS[order]
        regs = _regs_byte(self.dst, self.src, order)
        if self.is_wide:
            lo = _s32(self.imm & 0xFFFFFFFF)
            hi = _s32((self.imm >> 32) & 0xFFFFFFFF)
            return slot.pack(self.code, regs, self.off, lo) + slot.pack(0, 0, 0, hi)
        return slot.pack(self.code, regs, self.off, _s32(self.imm))

    # -- text ----------------------------------------------------------
    @property
    def text(self) -> str:
        from .insn_text import format_insn    # which imports this module
        return format_insn(self)

    def __str__(self) -> str:
        return self.text


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


# -- convenience builders for the instructions without an opcode family ----

def mov(dst: Reg, src: Reg) -> Insn:
    return AluOp.MOV.reg(dst, src)


def mov_imm(dst: Reg, imm: int) -> Insn:
    """Load a constant; a wide load when it does not fit a signed 32-bit immediate."""
    if -(1 << 31) <= imm < (1 << 31):
        return AluOp.MOV.imm(dst, imm)
    return ld_imm64(dst, imm)


def ld_imm64(dst: Reg, imm: int) -> Insn:
    return Insn(Class.LD | Mode.IMM | Size.DW, dst, 0, 0, imm & 0xFFFFFFFFFFFFFFFF)


def ld_map_fd(dst: Reg, name: str, fd: int = 0) -> Insn:
    """Load the map named ``name``; the loader sets ``fd``."""
    return Insn(Class.LD | Mode.IMM | Size.DW, dst, PseudoSrc.MAP_FD, 0, fd, name)


def call(helper: Helper) -> Insn:
    return Insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, int(helper))


def exit_() -> Insn:
    return Insn(Class.JMP | JmpOp.EXIT)


def ja(off: int) -> Insn:
    return Insn(Class.JMP | JmpOp.JA, 0, 0, off, 0)


def to_be(dst: Reg, bits: int) -> Insn:
    """``dst = be<bits> dst``: host to network byte order (a swap on
    little-endian machines), the upper bits cleared (every kernel with BPF)."""
    return Insn(Class.ALU | Src.X | AluOp.END, dst, 0, 0, bits)


def to_le(dst: Reg, bits: int) -> Insn:
    """``dst = le<bits> dst``: host to little-endian (a swap on big-endian
    machines), the upper bits cleared."""
    return Insn(Class.ALU | Src.K | AluOp.END, dst, 0, 0, bits)


# -- programs ------------------------------------------------------------

def encode(insns: list[Insn], order: ByteOrder = HOST_ORDER) -> bytes:
    return b"".join(i.encode(order) for i in insns)


def decode(data: bytes, order: ByteOrder = HOST_ORDER) -> list[Insn]:
    """Bytes to instructions; a wide load's two slots become one ``Insn``."""
    if len(data) % SLOT_SIZE:
        raise ValueError(f"program length {len(data)} is not a multiple of {SLOT_SIZE}")
    out: list[Insn] = []
    pos = 0
    slot = _SLOTS[order]
    while pos < len(data):
        code, regs, off, imm = slot.unpack_from(data, pos)
        pos += SLOT_SIZE
        dst, src = _split_regs(regs, order)
        if code == (Class.LD | Mode.IMM | Size.DW):
            if pos >= len(data):
                raise ValueError("wide load at the end of the program has no second slot")
            _, _, _, hi = slot.unpack_from(data, pos)
            pos += SLOT_SIZE
            imm = (imm & 0xFFFFFFFF) | ((hi & 0xFFFFFFFF) << 32)
        out.append(Insn(code, dst, src, off, imm))
    return out


def slot_offsets(insns: list[Insn]) -> list[int]:
    """The slot index each instruction starts at (wide loads take two)."""
    offsets, pc = [], 0
    for insn in insns:
        offsets.append(pc)
        pc += insn.slots
    return offsets
