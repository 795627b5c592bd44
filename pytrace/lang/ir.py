"""BPF-shaped IR over virtual registers, symbolic stack slots, labels and maps.

Lowering produces a ``Function``: a flat list of these instructions. Each
operation maps onto one or a few eBPF instructions; what is left symbolic —
which register a ``VReg`` lives in, where a ``Slot`` sits on the stack,
where a ``Label`` is, which fd a map has — is resolved once by
``bpf.emit``. Every instruction carries the source location it came
from, so listings interleave the script and verifier errors point at it.
"""
from __future__ import annotations

from ..base.arch import HOST_ORDER, ByteOrder
from ..base.record import field, record
from enum import Enum

from ..bpf.insn import AluOp, Helper, JmpOp
from ..base.diagnostics import NOWHERE, Loc


@record(frozen=True, eq=False)
class VReg:
    """A virtual register; allocated to r0..r9 (or spilled) by the emitter."""
    id: int
    hint: str = ""

    def __repr__(self) -> str:
        return f"%{self.id}" + (f".{self.hint}" if self.hint else "")


class Region(Enum):
    STACK = "stack"
    SCRATCH = "scratch"   # the per-CPU scratch map's value, for big buffers


@record(frozen=True, eq=False)
class Slot:
    """A buffer of ``size`` bytes on the BPF stack or in per-CPU scratch."""
    id: int
    size: int
    region: Region = Region.STACK
    name: str = ""

    def __repr__(self) -> str:
        tag = "stack" if self.region is Region.STACK else "scratch"
        return f"{tag}{self.id}" + (f".{self.name}" if self.name else "") + f"[{self.size}]"


@record(frozen=True, eq=False)
class Label:
    id: int
    name: str = ""

    def __repr__(self) -> str:
        return f"L{self.id}" + (f".{self.name}" if self.name else "")


@record(frozen=True)
class SlotAddr:
    """The address ``slot + off`` used as a value (call arguments)."""
    slot: Slot
    off: int = 0

    def __repr__(self) -> str:
        return f"&{self.slot!r}+{self.off}"


@record(frozen=True)
class MapFd:
    """A map used as a call argument (``r1 = map[@name]``)."""
    name: str

    def __repr__(self) -> str:
        return f"map[{self.name}]"


@record(frozen=True)
class MapValueAddr:
    """The address of a single-entry array map's value (direct value access,
    Linux 5.2), plus ``off``: how programs reach pytrace's counters."""
    name: str
    off: int = 0

    def __repr__(self) -> str:
        return f"map_value[{self.name}]+{self.off}"


@record(frozen=True)
class FuncAddr:
    """A callback subprogram's address (``ld_imm64`` with BPF_PSEUDO_FUNC),
    for helpers such as bpf_for_each_map_elem."""
    name: str

    def __repr__(self) -> str:
        return f"func[{self.name}]"


Value = VReg | int
CallArg = VReg | int | SlotAddr | MapFd | MapValueAddr | FuncAddr
#: what a load/store addresses: a register holding a pointer, or a slot
Base = VReg | Slot


class Op:
    loc: Loc

    def uses(self) -> tuple[VReg, ...]:
        return ()

    def defs(self) -> tuple[VReg, ...]:
        return ()


def _regs(*values) -> tuple[VReg, ...]:
    return tuple(v for v in values if isinstance(v, VReg))


@record(eq=False)
class Mov(Op):
    dst: VReg
    src: Value
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.src)

    def defs(self):
        return (self.dst,)

    def __str__(self):
        return f"{self.dst!r} = {self.src!r}"


@record(eq=False)
class Alu(Op):
    """``dst = a op b`` (64-bit unless ``bits32``)."""
    op: AluOp
    dst: VReg
    a: VReg
    b: Value
    bits32: bool = False
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.a, self.b)

    def defs(self):
        return (self.dst,)

    def __str__(self):
        w = "32" if self.bits32 else ""
        return f"{self.dst!r} = {self.a!r} {self.op.name.lower()}{w} {self.b!r}"


@record(eq=False)
class Neg(Op):
    dst: VReg
    a: VReg
    loc: Loc = NOWHERE

    def uses(self):
        return (self.a,)

    def defs(self):
        return (self.dst,)

    def __str__(self):
        return f"{self.dst!r} = -{self.a!r}"


@record(eq=False)
class ToBe(Op):
    """``dst = a`` converted between host and network byte order, keeping
    the low ``bits`` (16, 32 or 64) — packet headers are big-endian. With
    ``swap``, the bytes are swapped whatever the host's order (bswap()):
    "to big-endian" on a little-endian host, "to little-endian" on a
    big-endian one."""
    dst: VReg
    a: VReg
    bits: int
    loc: Loc = NOWHERE
    swap: bool = False

    def uses(self):
        return (self.a,)

    def defs(self):
        return (self.dst,)

    def __str__(self):
        kind = "le" if self.swap and HOST_ORDER is ByteOrder.BIG else "be"
        return f"{self.dst!r} = {kind}{self.bits} {self.a!r}"


@record(eq=False)
class Load(Op):
    """``dst = *(u<size*8> *)(base + off)``; zero-extended."""
    dst: VReg
    base: Base
    off: int
    size: int
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.base)

    def defs(self):
        return (self.dst,)

    def __str__(self):
        return f"{self.dst!r} = load{self.size * 8} {self.base!r}+{self.off}"


@record(eq=False)
class Store(Op):
    """``*(u<size*8> *)(base + off) = value``"""
    base: Base
    off: int
    value: Value
    size: int
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.base, self.value)

    def __str__(self):
        return f"store{self.size * 8} {self.base!r}+{self.off} = {self.value!r}"


@record(eq=False)
class AtomicAdd(Op):
    """``lock *(u<size*8> *)(base + off) += value``"""
    base: VReg | Slot
    off: int
    value: VReg
    size: int = 8
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.base, self.value)

    def __str__(self):
        return f"atomic_add{self.size * 8} {self.base!r}+{self.off} += {self.value!r}"


@record(eq=False)
class Addr(Op):
    """``dst = &slot + off`` or ``dst = &map_value + off``."""
    dst: VReg
    what: SlotAddr | MapValueAddr | MapFd
    loc: Loc = NOWHERE

    def defs(self):
        return (self.dst,)

    def __str__(self):
        return f"{self.dst!r} = {self.what!r}"


@record(eq=False)
class Call(Op):
    helper: Helper
    args: tuple[CallArg, ...]
    dst: VReg | None = None
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(*self.args)

    def defs(self):
        return (self.dst,) if self.dst is not None else ()

    def __str__(self):
        args = ", ".join(repr(a) for a in self.args)
        lhs = f"{self.dst!r} = " if self.dst is not None else ""
        return f"{lhs}call {self.helper.name}({args})"


@record(eq=False)
class Jump(Op):
    target: Label
    loc: Loc = NOWHERE

    def __str__(self):
        return f"goto {self.target!r}"


@record(eq=False)
class Branch(Op):
    """``if a op b goto target`` (falls through otherwise)."""
    op: JmpOp
    a: VReg
    b: Value
    target: Label
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.a, self.b)

    def __str__(self):
        return f"if {self.a!r} {self.op.text} {self.b!r} goto {self.target!r}"


@record(eq=False)
class Place(Op):
    """Where a label stands."""
    label: Label
    loc: Loc = NOWHERE

    def __str__(self):
        return f"{self.label!r}:"


@record(eq=False)
class Return(Op):
    """``r0 = value; exit``"""
    value: Value
    loc: Loc = NOWHERE

    def uses(self):
        return _regs(self.value)

    def __str__(self):
        return f"return {self.value!r}"


@record(eq=False)
class EntryCtx(Op):
    """``dst = r1`` at the program's entry: the context pointer."""
    dst: VReg
    loc: Loc = NOWHERE

    def defs(self):
        return (self.dst,)

    def __str__(self):
        return f"{self.dst!r} = ctx"


@record
class Function:
    name: str
    ops: list[Op] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    nvregs: int = 0
    nlabels: int = 0
    #: callback subprograms, emitted after this function
    callbacks: list["Function"] = field(default_factory=list)

    def vreg(self, hint: str = "") -> VReg:
        self.nvregs += 1
        return VReg(self.nvregs, hint)

    def label(self, name: str = "") -> Label:
        self.nlabels += 1
        return Label(self.nlabels, name)

    def slot(self, size: int, region: Region = Region.STACK, name: str = "") -> Slot:
        s = Slot(len(self.slots) + 1, size, region, name)
        self.slots.append(s)
        return s

    def dump(self) -> list[str]:
        out = [("" if isinstance(op, Place) else "    ") + str(op) for op in self.ops]
        for cb in self.callbacks:
            out.append(f"func[{cb.name}]:")
            out += cb.dump()
        return out
