"""USDT probes: SystemTap's ``.note.stapsdt`` notes and their argument
descriptions.

Each probe site (``DTRACE_PROBE``/``STAP_PROBE`` in ``sys/sdt.h``) leaves a
note: its address, the link-time address of ``.stapsdt.base`` (to correct
for prelinking), its semaphore's address (0: none), provider, name and
one operand per argument as the compiler's assembler wrote it::

    -4@%edi   8@-16(%rbp)   4@$5   8@counter(%rip)      (x86)
    -4@x1     8@[sp, 16]    4@[x0]   8@#42               (arm64)

``N@`` is the size in bytes, negative when signed.
"""
from __future__ import annotations

from enum import Enum

from ..base.record import record
from .reader import ElfFile

NOTE_SECTION = ".note.stapsdt"
BASE_SECTION = ".stapsdt.base"
NT_STAPSDT = 3
NOTE_OWNER = "stapsdt"


class OperandKind(Enum):
    REGISTER = "register"      # the value is in a register
    MEMORY = "memory"          # the value is at [base + index*scale + disp]
    CONSTANT = "constant"


@record(frozen=True)
class ArgSpec:
    """One argument: size (bytes), signedness and where it is."""
    size: int
    signed: bool
    kind: OperandKind
    #: register names as the arch tables spell them (x86: "di"; arm64: "x1")
    base: str | None = None
    index: str | None = None
    scale: int = 1
    disp: int = 0
    #: a symbol the displacement is relative to (``counter(%rip)``)
    symbol: str | None = None
    #: CONSTANT: the value; REGISTER: a right shift for %ah-style registers
    value: int = 0
    text: str = ""


class ArgSpecError(ValueError):
    pass


@record(frozen=True)
class UsdtProbe:
    provider: str
    name: str
    #: the probe's link-time address (corrected for prelinking)
    pc: int
    #: the semaphore's link-time address, 0 when the probe has none
    semaphore: int
    args: str

    @property
    def full_name(self) -> str:
        return f"{self.provider}:{self.name}"


def read_probes(elf: ElfFile) -> list[UsdtProbe]:
    """Every probe site in ``elf``, in note order."""
    base_sec = elf.section(BASE_SECTION)
    out = []
    width = elf.addr_size
    for note in elf.notes(NOTE_SECTION):
        if note.owner != NOTE_OWNER or note.type != NT_STAPSDT or len(note.desc) < 3 * width:
            continue
        desc = note.desc
        pc, base, sem = (elf.read_addr(desc, i * width) for i in range(3))
        strings = desc[3 * width:].split(b"\0")
        if len(strings) < 3:
            continue
        provider, name, args = (s.decode("utf-8", "replace") for s in strings[:3])
        if base_sec is not None and base:
            shift = base_sec.addr - base
            pc += shift
            if sem:
                sem += shift
        out.append(UsdtProbe(provider, name, pc, sem, args))
    return out


# -- argument specifications ---------------------------------------------------------

_X86_REGS: dict[str, tuple[str, int, int]] = {}     # name -> (pt_regs name, bytes, shift)


def _x86_table() -> dict[str, tuple[str, int, int]]:
    if _X86_REGS:
        return _X86_REGS
    for base in "abcd":
        r = f"{base}x"
        _X86_REGS.update({f"r{base}x": (r, 8, 0), f"e{base}x": (r, 4, 0), f"{base}x": (r, 2, 0),
                          f"{base}l": (r, 1, 0), f"{base}h": (r, 1, 8)})
    for r in ("si", "di", "bp", "sp"):
        _X86_REGS.update({f"r{r}": (r, 8, 0), f"e{r}": (r, 4, 0), r: (r, 2, 0),
                          f"{r}l": (r, 1, 0)})
    for n in range(8, 16):
        r = f"r{n}"
        _X86_REGS.update({r: (r, 8, 0), f"{r}d": (r, 4, 0), f"{r}w": (r, 2, 0),
                          f"{r}b": (r, 1, 0), f"{r}l": (r, 1, 0)})
    _X86_REGS["rip"] = ("ip", 8, 0)
    return _X86_REGS


def _int(text: str) -> int:
    text = text.strip()
    neg = text.startswith("-")
    text = text.lstrip("+-")
    value = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    return -value if neg else value


def parse_args(text: str, arch: str) -> list[ArgSpec]:
    """All arguments of a note's argument string, for ``arch`` (arch.py's
    machine names). Raises ArgSpecError for an operand we cannot read."""
    return [parse_arg(token, arch) for token in split_operands(text)]


def split_operands(text: str) -> list[str]:
    """Split on spaces outside brackets (arm64 writes ``8@[sp, 16]``)."""
    out, depth, cur = [], 0, []
    for ch in text.strip():
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == " " and depth == 0:
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def parse_arg(token: str, arch: str) -> ArgSpec:
    size_text, at, operand = token.partition("@")
    if not at:
        raise ArgSpecError(f"'{token}' has no size@operand")
    try:
        size = int(size_text)
    except ValueError:
        raise ArgSpecError(f"'{token}': bad size '{size_text}'") from None
    signed = size < 0
    size = abs(size)
    if size not in (1, 2, 4, 8):
        raise ArgSpecError(f"'{token}': size {size} is not 1, 2, 4 or 8")
    if arch in ("x86_64", "i386"):
        spec = _x86_operand(operand, token)
    elif arch in ("aarch64", "arm"):
        spec = _arm_operand(operand, token)
    elif arch == "riscv64":
        spec = _riscv_operand(operand, token)
    else:
        raise ArgSpecError(f"USDT operands of {arch} are not supported")
    return ArgSpec(size, signed, spec.kind, spec.base, spec.index, spec.scale, spec.disp,
                   spec.symbol, spec.value, token)


def _x86_reg(name: str, token: str) -> tuple[str, int, int]:
    found = _x86_table().get(name.lstrip("%"))
    if found is None:
        raise ArgSpecError(f"'{token}': unknown register {name}")
    return found


def _x86_operand(op: str, token: str) -> ArgSpec:
    if op.startswith("$"):
        return ArgSpec(0, False, OperandKind.CONSTANT, value=_int(op[1:]), text=token)
    if op.startswith("%") and "(" not in op:
        reg, _bytes, shift = _x86_reg(op, token)
        return ArgSpec(0, False, OperandKind.REGISTER, base=reg, value=shift, text=token)
    head, paren, rest = op.partition("(")
    if not paren or not rest.endswith(")"):
        raise ArgSpecError(f"'{token}': cannot read operand '{op}'")
    regs = [r.strip() for r in rest[:-1].split(",")]
    base = _x86_reg(regs[0], token)[0] if regs[0] else None
    index = _x86_reg(regs[1], token)[0] if len(regs) > 1 and regs[1] else None
    scale = _int(regs[2]) if len(regs) > 2 and regs[2] else 1
    disp, symbol = 0, None
    head = head.strip()
    if head:
        try:
            disp = _int(head)
        except ValueError:
            name, sign, off = head.replace("-", "+-").partition("+")
            symbol = name
            disp = _int(off) if sign and off else 0
    return ArgSpec(0, False, OperandKind.MEMORY, base, index, scale, disp, symbol, text=token)


def _arm_reg(name: str, token: str) -> str:
    name = name.strip()
    if name in ("sp", "wsp"):
        return "sp"
    if name[:1] in ("x", "w") and name[1:].isdigit() and int(name[1:]) <= 30:
        return "x" + name[1:]
    if name[:1] == "r" and name[1:].isdigit():          # arm 32-bit
        return name
    raise ArgSpecError(f"'{token}': unknown register {name}")


def _arm_operand(op: str, token: str) -> ArgSpec:
    op = op.strip()
    if op.startswith("#"):
        return ArgSpec(0, False, OperandKind.CONSTANT, value=_int(op[1:]), text=token)
    if op.startswith("["):
        if not op.endswith("]"):
            raise ArgSpecError(f"'{token}': cannot read operand '{op}'")
        parts = [p.strip() for p in op[1:-1].split(",")]
        base = _arm_reg(parts[0], token)
        disp = 0
        index = None
        if len(parts) > 1:
            second = parts[1].lstrip("#")
            try:
                disp = _int(second)
            except ValueError:
                index = _arm_reg(second, token)
        return ArgSpec(0, False, OperandKind.MEMORY, base, index, 1, disp, text=token)
    try:
        return ArgSpec(0, False, OperandKind.CONSTANT, value=_int(op), text=token)
    except ValueError:
        pass
    return ArgSpec(0, False, OperandKind.REGISTER, base=_arm_reg(op, token), text=token)


def _riscv_operand(op: str, token: str) -> ArgSpec:
    op = op.strip()
    head, paren, rest = op.partition("(")
    if paren and rest.endswith(")"):
        return ArgSpec(0, False, OperandKind.MEMORY, rest[:-1].strip(),
                       disp=_int(head) if head else 0, text=token)
    try:
        return ArgSpec(0, False, OperandKind.CONSTANT, value=_int(op), text=token)
    except ValueError:
        return ArgSpec(0, False, OperandKind.REGISTER, base=op, text=token)
