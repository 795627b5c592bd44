"""The BTF vocabulary: kinds, encodings and linkages as enums, and the
frozen records a Btf decodes type records into (reader.py).

Values follow include/uapi/linux/btf.h; the Linux version that added a kind
is noted where pytrace depends on it. Declarative: no parsing here.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from ..base.diagnostics import RuntimeFailure

MAGIC = 0xEB9F


class BtfKind(IntEnum):
    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6          # values up to 32 bits; kind_flag = signed (6.0)
    FWD = 7           # kind_flag = union
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12         # vlen = linkage
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16        # Linux 5.13
    DECL_TAG = 17     # Linux 5.16
    TYPE_TAG = 18     # Linux 5.17
    ENUM64 = 19       # Linux 6.0


class IntEncoding(IntFlag):
    NONE = 0
    SIGNED = 1
    CHAR = 2
    BOOL = 4


class FuncLinkage(IntEnum):
    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VarLinkage(IntEnum):
    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


class BtfError(RuntimeFailure):
    """BTF missing, unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class BtfMember:
    name: str               # "" for an anonymous struct/union member
    type: int
    bit_offset: int         # from the start of the enclosing struct
    bitfield_size: int = 0  # 0 unless a bitfield


@dataclass(frozen=True, slots=True)
class BtfParam:
    name: str               # "" when unnamed; a trailing (\"\", 0) means "..."
    type: int


@dataclass(frozen=True, slots=True)
class BtfEnumValue:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class BtfVarSecinfo:
    type: int               # a VAR (or FUNC) id
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class BtfType:
    """One decoded type record; fields a kind does not use keep defaults.

    ``type`` is the referenced type for PTR, TYPEDEF, CONST, VOLATILE,
    RESTRICT, TYPE_TAG, DECL_TAG and VAR; the element type for ARRAY; the
    FUNC_PROTO of a FUNC; the return type of a FUNC_PROTO.
    """
    id: int
    kind: BtfKind
    name: str
    kind_flag: bool = False
    size: int = 0                       # INT STRUCT UNION ENUM ENUM64 DATASEC FLOAT
    type: int = 0
    encoding: IntEncoding = IntEncoding.NONE   # INT
    bit_offset: int = 0                 # INT (legacy bitfield ints)
    bits: int = 0                       # INT
    index_type: int = 0                 # ARRAY
    nelems: int = 0                     # ARRAY
    members: tuple[BtfMember, ...] = ()          # STRUCT UNION
    params: tuple[BtfParam, ...] = ()            # FUNC_PROTO
    values: tuple[BtfEnumValue, ...] = ()        # ENUM ENUM64
    linkage: FuncLinkage | VarLinkage | None = None   # FUNC VAR
    component_idx: int = -1             # DECL_TAG: member/param index, -1 = the decl
    secinfos: tuple[BtfVarSecinfo, ...] = ()     # DATASEC

    @property
    def signed(self) -> bool:
        if self.kind is BtfKind.INT:
            return bool(self.encoding & IntEncoding.SIGNED)
        return self.kind_flag and self.kind in (BtfKind.ENUM, BtfKind.ENUM64)


@dataclass(frozen=True, slots=True)
class FuncSignature:
    name: str
    return_type: int
    params: tuple[BtfParam, ...]
    linkage: FuncLinkage
    variadic: bool = False


VOID = BtfType(0, BtfKind.UNKN, "void")
