"""x86-64 instruction lengths, enough to tell whether ``func+OFFSET`` lands
on an instruction boundary: a uprobe in the middle of an instruction
corrupts the traced program. Decodes prefixes, REX, VEX/EVEX, the one-,
two- and three-byte opcode maps, ModRM/SIB/displacement and immediates;
an opcode it does not know raises ``UnknownInstruction`` rather than
guessing.
"""
from __future__ import annotations


class UnknownInstruction(ValueError):
    pass


_LEGACY_PREFIXES = frozenset(b"\xf0\xf2\xf3\x2e\x36\x3e\x26\x64\x65\x66\x67")


def _set(*ranges) -> frozenset[int]:
    out: set[int] = set()
    for r in ranges:
        if isinstance(r, tuple):
            out.update(range(r[0], r[1] + 1))
        else:
            out.add(r)
    return frozenset(out)


# one-byte map (64-bit mode)
_MODRM_1 = _set((0x00, 0x03), (0x08, 0x0B), (0x10, 0x13), (0x18, 0x1B), (0x20, 0x23),
                (0x28, 0x2B), (0x30, 0x33), (0x38, 0x3B), 0x63, 0x69, 0x6B, (0x80, 0x8F),
                0xC0, 0xC1, 0xC6, 0xC7, (0xD0, 0xD3), (0xD8, 0xDF), 0xF6, 0xF7, 0xFE, 0xFF)
_IMM8_1 = _set(0x04, 0x0C, 0x14, 0x1C, 0x24, 0x2C, 0x34, 0x3C, 0x6A, 0x6B, (0x70, 0x7F),
               0x80, 0x83, 0xA8, (0xB0, 0xB7), 0xC0, 0xC1, 0xC6, 0xCD, (0xE0, 0xE7), 0xEB)
#: immediates of the operand size (16 bits with a 0x66 prefix, else 32)
_IMMZ_1 = _set(0x05, 0x0D, 0x15, 0x1D, 0x25, 0x2D, 0x35, 0x3D, 0x68, 0x69, 0x81, 0xA9, 0xC7)
_REL32_1 = _set(0xE8, 0xE9)
_NO_OPERANDS_1 = _set((0x50, 0x5F), (0x90, 0x99), 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, (0xA4, 0xA7),
                      (0xAA, 0xAF), 0xC3, 0xC9, 0xCB, 0xCC, 0xCF, 0xEC, 0xED, 0xEE, 0xEF,
                      0xF1, 0xF4, 0xF5, (0xF8, 0xFD))
_INVALID_64 = _set(0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x60,
                   0x61, 0x82, 0x9A, 0xCE, 0xD4, 0xD5, 0xD6, 0xEA)

# two-byte map 0F xx
_NO_MODRM_2 = _set(0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0E, (0x30, 0x37), 0x77, (0x80, 0x8F),
                   0xA0, 0xA1, 0xA2, 0xA8, 0xA9, 0xAA, (0xC8, 0xCF))
_IMM8_2 = _set((0x70, 0x73), 0xA4, 0xAC, 0xBA, 0xC2, 0xC4, 0xC5, 0xC6, 0x0F)
_REL32_2 = _set((0x80, 0x8F))
#: VEX/EVEX map 1 opcodes with an imm8
_VEX_IMM8_MAP1 = _set((0x70, 0x73), 0xC2, 0xC4, 0xC5, 0xC6)


def _modrm_length(code: bytes, at: int, addr32: bool) -> int:
    """Bytes of ModRM + SIB + displacement starting at ``at``."""
    if at >= len(code):
        raise UnknownInstruction("truncated ModRM")
    modrm = code[at]
    mod, rm = modrm >> 6, modrm & 7
    n = 1
    if mod == 3:
        return n
    if rm == 4:                                     # SIB
        if at + 1 >= len(code):
            raise UnknownInstruction("truncated SIB")
        sib = code[at + 1]
        n += 1
        if mod == 0 and sib & 7 == 5:
            n += 4
    elif mod == 0 and rm == 5:                       # rip-relative
        n += 4
    if mod == 1:
        n += 1
    elif mod == 2:
        n += 4
    return n


def instruction_length(code: bytes, at: int = 0) -> int:
    """The length of the x86-64 instruction at ``code[at:]``."""
    start = at
    opsize16 = addr32 = False
    while at < len(code) and code[at] in _LEGACY_PREFIXES:
        if code[at] == 0x66:
            opsize16 = True
        elif code[at] == 0x67:
            addr32 = True
        at += 1
    if at >= len(code):
        raise UnknownInstruction("truncated")
    rex_w = False
    if 0x40 <= code[at] <= 0x4F:
        rex_w = bool(code[at] & 8)
        at += 1
    if at >= len(code):
        raise UnknownInstruction("truncated")
    op = code[at]
    if op in (0xC4, 0xC5, 0x62):
        return _vex_length(code, start, at, addr32)
    at += 1
    if op == 0x0F:
        return _two_byte_length(code, start, at, opsize16, addr32)
    if op in _INVALID_64:
        raise UnknownInstruction(f"opcode {op:#04x} is invalid in 64-bit mode")
    n = at - start
    if op in _MODRM_1:
        n += _modrm_length(code, at, addr32)
        if op in (0xF6, 0xF7):                       # test r/m, imm: only /0 and /1
            if (code[at] >> 3) & 7 in (0, 1):
                n += 1 if op == 0xF6 else (2 if opsize16 else 4)
            return n
    if op in _IMM8_1:
        n += 1
    elif op in _IMMZ_1:
        n += 2 if opsize16 else 4
    elif op in _REL32_1:
        n += 4
    elif 0xB8 <= op <= 0xBF:
        n += 8 if rex_w else (2 if opsize16 else 4)
    elif 0xA0 <= op <= 0xA3:
        n += 4 if addr32 else 8
    elif op in (0xC2, 0xCA):
        n += 2
    elif op == 0xC8:
        n += 3
    elif op not in _MODRM_1 and op not in _NO_OPERANDS_1:
        raise UnknownInstruction(f"opcode {op:#04x}")
    return n


def _two_byte_length(code: bytes, start: int, at: int, opsize16: bool, addr32: bool) -> int:
    if at >= len(code):
        raise UnknownInstruction("truncated")
    op = code[at]
    at += 1
    if op in (0x38, 0x3A):                           # three-byte maps
        if at >= len(code):
            raise UnknownInstruction("truncated")
        at += 1
        n = at - start + _modrm_length(code, at, addr32)
        return n + (1 if op == 0x3A else 0)
    n = at - start
    if op in _NO_MODRM_2:
        return n + (4 if op in _REL32_2 else 0)
    n += _modrm_length(code, at, addr32)
    if op in _IMM8_2:
        n += 1
    return n


def _vex_length(code: bytes, start: int, at: int, addr32: bool) -> int:
    kind = code[at]
    if kind == 0xC5:
        prefix, mmap = 2, 1
    elif kind == 0xC4:
        prefix = 3
        mmap = code[at + 1] & 0x1F if at + 1 < len(code) else 0
    else:                                            # EVEX
        prefix = 4
        mmap = code[at + 1] & 0x07 if at + 1 < len(code) else 0
    at += prefix
    if at >= len(code) or mmap not in (1, 2, 3):
        raise UnknownInstruction("VEX/EVEX opcode map")
    op = code[at]
    at += 1
    if mmap == 1 and op == 0x77:                     # vzeroupper / vzeroall
        return at - start
    n = at - start + _modrm_length(code, at, addr32)
    if mmap == 3 or (mmap == 1 and op in _VEX_IMM8_MAP1):
        n += 1
    return n


def is_boundary(code: bytes, offset: int) -> bool:
    """Whether an instruction starts ``offset`` bytes into ``code`` (a
    function's bytes from its entry)."""
    at = 0
    while at < offset:
        at += instruction_length(code, at)
    return at == offset
