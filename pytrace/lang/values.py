"""How the lowerer holds values that live in memory rather than registers.

``Mem`` is memory a program can read and write (stack, scratch, a map value,
a ring buffer record); ``ExtStr``/``ExtMem`` are outside it (kernel or user
memory, read with probe_read helpers); ``CtxStruct``/``CtxArray`` are parts
of a tracepoint record read from the context.
"""
from __future__ import annotations

from ..base.record import record
from . import ir
from .types import AddrSpace, Array, Str, Struct, Tuple, Type


@record(frozen=True)
class Mem:
    """Memory a program can read and write: ``base`` (a pointer vreg or a
    stack slot) plus ``off``, holding a value of ``type``."""
    base: ir.VReg | ir.Slot
    off: int
    type: Type

    def at(self, off: int, type: Type) -> "Mem":
        return Mem(self.base, self.off + off, type)


@record(frozen=True)
class ExtStr:
    """A string outside program memory, to be read with a probe_read helper."""
    ptr: ir.VReg | int
    space: AddrSpace
    limit: int | None = None          # str(p, n)


@record(frozen=True)
class CtxStruct:
    """``args`` of a tracepoint: fields are read from the context."""
    type: Struct


@record(frozen=True)
class ExtMem:
    """A struct or array in kernel (or user) memory, at ``ptr + off``, not
    read yet: member access adds offsets and reads only the member, one
    probe_read per pointer hop (``curtask->real_parent->pid``)."""
    ptr: ir.VReg | int
    off: int
    type: Type
    space: AddrSpace

    def at(self, off: int, type: Type) -> "ExtMem":
        return ExtMem(self.ptr, self.off + off, type, self.space)


@record(frozen=True)
class CtxArray:
    """An array field of a tracepoint record, indexed later."""
    offset: int
    type: Array


def _chunks(off: int, size: int, other: int | None = None):
    """(position, width) pieces covering ``size`` bytes at ``off`` (and, for a
    copy, at ``other`` too), each naturally aligned at both places and as
    wide as possible: the verifier refuses misaligned stack accesses."""
    pos = 0
    other = off if other is None else other
    while pos < size:
        for chunk in (8, 4, 2, 1):
            if size - pos >= chunk and (off + pos) % chunk == 0 and (other + pos) % chunk == 0:
                yield pos, chunk
                pos += chunk
                break


def _align8(n: int) -> int:
    return (n + 7) // 8 * 8


def _has_gaps(t: Type) -> bool:
    """Whether writing every member of ``t`` may leave bytes unwritten."""
    if isinstance(t, Str):
        return True
    if isinstance(t, Tuple):
        pos = 0
        for off, e in zip(t.offsets, t.elems):
            if off != pos or _has_gaps(e):
                return True
            pos = off + e.size
        return pos != t.size
    return False
