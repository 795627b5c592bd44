"""The smallest BTF a program with callbacks needs.

A program that passes a callback to a helper (bpf_for_each_map_elem for
``len(@map)``) must describe each of its subprograms with BTF ``func_info``
(the verifier refuses "missing btf func_info" otherwise). We write that BTF
ourselves: an ``int``, a ``void *``, and a FUNC/FUNC_PROTO pair per
subprogram. Layout: include/uapi/linux/btf.h.
"""
from __future__ import annotations

from ..base.arch import STRUCT_ORDER
import struct

from ..btf.records import MAGIC as BTF_MAGIC
from ..btf.records import BtfKind as Kind
from ..btf.records import FuncLinkage

BTF_VERSION = 1
_HEADER = struct.Struct(STRUCT_ORDER + "HBBIIIII")     # magic, version, flags, hdr_len, 4 x u32
_TYPE = struct.Struct(STRUCT_ORDER + "III")            # name_off, info, size_or_type
_PARAM = struct.Struct(STRUCT_ORDER + "II")            # name_off, type
_FUNC_INFO = struct.Struct(STRUCT_ORDER + "II")        # insn_off, type_id
INT_SIGNED = 1 << 24                     # BTF_INT_SIGNED in the INT's extra word


class _Strings:
    def __init__(self):
        self.data = bytearray(b"\0")
        self.offsets: dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        if text not in self.offsets:
            self.offsets[text] = len(self.data)
            self.data += text.encode() + b"\0"
        return self.offsets[text]


def program_btf(funcs: list[tuple[str, int, int]]) -> tuple[bytes, bytes]:
    """``funcs``: (name, first instruction, parameter count), the program's
    entry first. Returns (BTF blob, func_info records)."""
    strings = _Strings()
    types = bytearray()
    # [1] int, [2] void *
    types += _TYPE.pack(strings.add("int"), Kind.INT << 24, 4) + struct.pack(STRUCT_ORDER + "I", INT_SIGNED | 32)
    types += _TYPE.pack(0, Kind.PTR << 24, 0)
    int_id, ptr_id, next_id = 1, 2, 3
    infos = bytearray()
    for name, insn_off, nparams in funcs:
        proto_id, func_id = next_id, next_id + 1
        next_id += 2
        types += _TYPE.pack(0, Kind.FUNC_PROTO << 24 | nparams, int_id)
        for i in range(nparams):
            types += _PARAM.pack(strings.add(f"arg{i}"), ptr_id)
        types += _TYPE.pack(strings.add(name), Kind.FUNC << 24 | FuncLinkage.STATIC, proto_id)
        infos += _FUNC_INFO.pack(insn_off, func_id)
    header = _HEADER.pack(BTF_MAGIC, BTF_VERSION, 0, _HEADER.size, 0, len(types),
                          len(types), len(strings.data))
    return header + bytes(types) + bytes(strings.data), bytes(infos)
