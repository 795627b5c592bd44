"""Kernel types from BTF as the language's types (``pytrace.lang.types``).

What becomes what:

- INT -> ``Int(size*8, signed)``; ``_Bool`` -> ``Int(8, False)``.
- ``char[N]`` (element an 8-bit INT called ``char`` or marked CHAR) ->
  ``Str(N)``, as bpftrace does: ``comm`` prints with ``%s`` and is a map key.
  ``unsigned char``/``u8`` arrays stay ``Array``.
- PTR -> ``Ptr(target, KERNEL)``; ``USER`` when the pointee carries the
  ``user`` type tag (``__user`` on clang-built kernels). Pointers to
  functions -> ``Ptr(Void())``.
- STRUCT/UNION -> ``Struct`` whose ``Field`` offsets are bytes; bitfields
  carry ``bits=(shift, width)`` and a ``type`` whose size is the unit to
  load at ``offset``: value = ``(unit >> shift) & (2**width - 1)``, sign
  extended when the type is signed. Members of anonymous inner structs and
  unions are flattened into the outer one (``task->pid`` style access works
  as in C), offsets adjusted.
- ENUM/ENUM64 -> ``CEnum``, an ``Int`` that keeps its enumerators, so
  values can print by name (``label(value)``).
- typedefs, qualifiers and type tags are looked through; FLOAT becomes
  opaque bytes (``Array(UINT8, size)``); VAR converts its type; DATASEC a
  ``Struct`` of its variables.

Laziness (why ``list_head`` does not recurse forever): the struct asked for
is converted one level deep. Every struct/union met inside it, by value or
behind a pointer, becomes a ``StructRef``: name, kind, byte size and type id
known at once (they are in the BTF record header), fields converted on
first use via ``resolve()``, which goes through the converter's memo so each
struct is converted at most once. Cycles can only pass through structs
(C forbids a struct containing itself by value), so they always hit a
``StructRef`` and stop.
"""
from __future__ import annotations

from ..base.record import replace

# StructRef and CEnum live with the other language types; imported here too
# for the converter's users
from .types import (UINT8, AddrSpace, Array, CEnum, Field, Int, Ptr, Str, Struct, StructRef, Type,
                    Void)
from ..btf.reader import Btf
from ..btf.records import BtfError, BtfKind, BtfMember, IntEncoding

#: how C programmers spell base types -> how GCC's BTF names them
_GCC_SPELLING = {
    "unsigned": "unsigned int", "signed": "int", "long": "long int",
    "unsigned long": "long unsigned int", "signed long": "long int",
    "short": "short int", "unsigned short": "short unsigned int",
    "long long": "long long int", "unsigned long long": "long long unsigned int",
    "signed char": "signed char", "bool": "_Bool",
}
_AGGREGATE = {"struct": BtfKind.STRUCT, "union": BtfKind.UNION, "enum": BtfKind.ENUM}
_UNITS = (1, 2, 4, 8)


class TypeConverter:
    """Converts one Btf's types, remembering what it converted."""

    def __init__(self, btf: Btf):
        self.btf = btf
        self._types: dict[int, Type] = {}
        self._structs: dict[int, Struct] = {}
        self._user_tags: bool | None = None       # has_user_tags, looked up once

    # ---- entry points ----------------------------------------------------------

    def convert(self, tid: int) -> Type:
        """The language type of BTF type ``tid``; a struct comes back as a full
        ``Struct`` (its own inner structs as ``StructRef``)."""
        k = self.btf.kind(self.btf.resolve(tid))
        if k in (BtfKind.STRUCT, BtfKind.UNION):
            return self.struct(self.btf.resolve(tid))
        if k is BtfKind.FWD:
            return self._ref(self.btf.resolve(tid)).resolve()
        return self._inner(tid)

    def struct(self, tid: int) -> Struct:
        """The ``Struct`` of STRUCT/UNION (or FWD: its definition) ``tid``, converted once."""
        s = self._structs.get(tid)
        if s is None:
            t = self.btf.type(tid)
            if t.kind is BtfKind.FWD:
                full = self.btf.find(t.name, BtfKind.UNION if t.kind_flag else BtfKind.STRUCT)
                s = self.struct(full) if full is not None else Struct(t.name, (), 0, t.kind_flag)
            elif t.kind in (BtfKind.STRUCT, BtfKind.UNION):
                fields: list[Field] = []
                self._add_members(t.members, 0, fields)
                s = Struct(t.name, tuple(fields), t.size, t.kind is BtfKind.UNION)
            else:
                raise BtfError(f"{self.btf.type_name(tid)} is not a struct or union")
            self._structs[tid] = s
        return s

    def lookup(self, c_type: str) -> Type | None:
        """The type spelled ``c_type`` (``struct task_struct *``, ``pid_t``,
        ``unsigned long``), or None when BTF has no such type."""
        text, depth = c_type.strip(), 0
        while text.endswith("*"):
            text, depth = text[:-1].rstrip(), depth + 1
        tid: int | None
        head, _, rest = text.partition(" ")
        if head in _AGGREGATE and rest:
            kind = _AGGREGATE[head]
            tid = self.btf.find(rest.strip(), kind)
            if tid is None and kind is BtfKind.ENUM:
                tid = self.btf.find(rest.strip(), BtfKind.ENUM64)
        elif text == "void":
            tid = 0
        else:
            name = " ".join(text.split())
            tid = self.btf.find(name)
            if tid is None and name in _GCC_SPELLING:
                tid = self.btf.find(_GCC_SPELLING[name])
            if tid is not None and self.btf.kind(tid) not in (BtfKind.INT, BtfKind.TYPEDEF,
                                                              BtfKind.FLOAT):
                tid = None
        if tid is None:
            return None
        t: Type = self.convert(tid) if depth == 0 else self._inner(tid)
        for _ in range(depth):
            t = Ptr(t, AddrSpace.KERNEL)
        return t

    def func_args(self, name: str) -> Struct | None:
        """The arguments of function ``name`` laid out as an fentry/fexit
        context (one 8-byte slot each), or None when BTF has no such function."""
        sig = self.btf.func_proto(name)
        if sig is None:
            return None
        return self.params_struct(name, sig.params)

    def params_struct(self, name: str, params, skip: int = 0) -> Struct:
        """Parameters (``BtfParam``s, the first ``skip`` left out) as a struct of
        8-byte slots, each field declared as the kernel spells its type."""
        fields = tuple(Field(p.name or f"arg{i}", self._inner(p.type), 8 * i,
                             decl=self.btf.type_name(p.type))
                       for i, p in enumerate(params[skip:]))
        return Struct(name, fields, 8 * len(fields))

    def tracepoint_args(self, name: str) -> Struct | None:
        """The arguments of raw tracepoint ``name`` (from its ``btf_trace_NAME``
        typedef, a pointer to a function whose first parameter is the
        tracepoint's private data), or None when BTF does not know it."""
        # __bpf_trace_NAME, the kernel's glue function, has the same
        # parameters with their names (the typedef's prototype has none)
        fid = self.btf.find("__bpf_trace_" + name, BtfKind.FUNC)
        if fid is not None:
            proto = self.btf.type(self.btf.type(fid).type)
            if proto.kind is BtfKind.FUNC_PROTO and proto.params:
                return self.params_struct(f"rawtracepoint {name}", proto.params, skip=1)
        tid = self.btf.find("btf_trace_" + name, BtfKind.TYPEDEF)
        if tid is None:
            return None
        ptr = self.btf.type(self.btf.resolve(tid))
        proto = self.btf.type(self.btf.resolve(ptr.type)) if ptr.kind is BtfKind.PTR else None
        if proto is None or proto.kind is not BtfKind.FUNC_PROTO:
            return None
        return self.params_struct(f"rawtracepoint {name}", proto.params, skip=1)

    def c_type(self, tid: int) -> Type:
        """The language type of a type met inside a declaration (a struct
        stays a lazy ``StructRef``)."""
        return self._inner(tid)

    @property
    def has_user_tags(self) -> bool:
        """Whether this BTF marks user pointers (``__user`` as a type tag:
        clang-built kernels with pahole 1.23+); GCC-built BTF does not."""
        if self._user_tags is None:
            self._user_tags = self.btf.find("user", BtfKind.TYPE_TAG) is not None
        return self._user_tags

    # ---- conversion ------------------------------------------------------------

    def _ref(self, tid: int) -> StructRef:
        t = self.btf.type(tid)
        union = t.kind is BtfKind.UNION or (t.kind is BtfKind.FWD and t.kind_flag)
        return StructRef(t.name, union, t.size, tid, AddrSpace.KERNEL, self.struct)

    def _inner(self, tid: int) -> Type:
        """A type inside another: structs and unions become ``StructRef``."""
        got = self._types.get(tid)
        if got is None:
            got = self._types[tid] = self._convert_one(tid)
        return got

    def _convert_one(self, tid: int) -> Type:
        btf = self.btf
        t = btf.type(tid)
        K = t.kind
        if tid == 0:
            return Void()
        if K is BtfKind.INT:
            if t.encoding & IntEncoding.BOOL:
                return Int(8 * t.size, False)
            return Int(8 * t.size, bool(t.encoding & IntEncoding.SIGNED))
        if K is BtfKind.PTR:
            space = AddrSpace.USER if self._user_tagged(t.type) else AddrSpace.KERNEL
            if space is AddrSpace.KERNEL and not self.has_user_tags and self._is_char(t.type):
                # GCC-built BTF drops __user: a char * may be a user string
                # (do_sys_openat2's filename); str() tries kernel, then user
                space = AddrSpace.UNKNOWN
            target = btf.resolve(t.type)
            if btf.kind(target) in (BtfKind.FUNC_PROTO, BtfKind.FUNC):
                return Ptr(Void(), space)
            return Ptr(self._inner(target), space)
        if K is BtfKind.ARRAY:
            if self._is_char(t.type) and t.nelems:
                return Str(t.nelems)
            return Array(self._inner(t.type), t.nelems)
        if K in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.FWD):
            return self._ref(tid)
        if K in (BtfKind.ENUM, BtfKind.ENUM64):
            return CEnum(8 * t.size, t.signed, t.name, tuple((v.name, v.value) for v in t.values))
        if K in (BtfKind.TYPEDEF, BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT,
                 BtfKind.TYPE_TAG, BtfKind.VAR):
            return self._inner(t.type)
        if K is BtfKind.FLOAT:
            return Array(UINT8, t.size)
        if K is BtfKind.DATASEC:
            fields = tuple(Field(btf.name_of(v.type), self._inner(v.type), v.offset)
                           for v in t.secinfos)
            return Struct(t.name, fields, t.size)
        raise BtfError(f"{btf.type_name(tid)} ({K.name}) is not a data type")

    def _is_char(self, tid: int) -> bool:
        t = self.btf.type(self.btf.resolve(tid))
        return t.kind is BtfKind.INT and t.size == 1 and (
            t.name == "char" or bool(t.encoding & IntEncoding.CHAR))

    def _user_tagged(self, tid: int) -> bool:
        """Whether the pointee's modifier chain carries the ``user`` type tag."""
        btf = self.btf
        while btf.kind(tid) in (BtfKind.TYPE_TAG, BtfKind.CONST, BtfKind.VOLATILE,
                                BtfKind.RESTRICT):
            t = btf.type(tid)
            if t.kind is BtfKind.TYPE_TAG and t.name == "user":
                return True
            tid = t.type
        return False

    def _add_members(self, members: tuple[BtfMember, ...], base_bits: int,
                     out: list[Field]) -> None:
        btf = self.btf
        for m in members:
            bit = base_bits + m.bit_offset
            target = btf.resolve(m.type)
            t = btf.type(target)
            if not m.name and t.kind in (BtfKind.STRUCT, BtfKind.UNION):
                self._add_members(t.members, bit, out)   # anonymous: flatten
                continue
            width = m.bitfield_size
            if not width and t.kind is BtfKind.INT and (t.bit_offset or t.bits != 8 * t.size):
                width, bit = t.bits, bit + t.bit_offset   # legacy bitfield encoding
            typ = self._inner(m.type)
            if width:
                out.append(_bitfield(m.name, typ, bit, width))
            else:
                out.append(Field(m.name, typ, bit // 8))


def _bitfield(name: str, typ: Type, bit: int, width: int) -> Field:
    """The smallest aligned unit holding bits [bit, bit+width), little-endian."""
    for unit in _UNITS:
        if bit // (8 * unit) == (bit + width - 1) // (8 * unit):
            start = bit // (8 * unit) * unit
            break
    else:   # straddles an 8-byte boundary (packed struct): unaligned 8-byte load
        unit, start = 8, bit // 8
    signed = typ.signed if isinstance(typ, Int) else False
    utype = replace(typ, bits=8 * unit) if isinstance(typ, Int) else Int(8 * unit, signed)
    return Field(name, utype, start, (bit - 8 * start, width))
