"""Tracefs' tracepoint format files as the language's types: the text of
``events/CATEGORY/NAME/format`` to the event id and the record's layout.

Pure text to types; reading the file is ``kernel.host``'s job (the real
machine) or the tests' (canned formats).
"""
from __future__ import annotations

from ..base.record import replace
from .types import AddrSpace, Array, Field, Int, Ptr, Str, Struct, Void

#: the record's common_* header, which BPF programs cannot read: the kernel
#: hands them a pt_regs pointer in those bytes
HEADER_SIZE = 8
#: categories whose pointer fields point into user memory
USER_POINTER_CATEGORIES = frozenset({"syscalls"})


def parse_format(text: str, category: str, name: str, max_strlen: int = 1024) -> tuple[int, Struct]:
    """A tracefs format file to (event id, record layout)."""
    tp_id = -1
    fields = []
    user = category in USER_POINTER_CATEGORIES
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ID:"):
            tp_id = int(line[3:])
            continue
        if not line.startswith("field:"):
            continue
        parts = {}
        for item in line.split(";"):
            key, _, value = item.strip().partition(":")
            if key:
                parts[key] = value.strip()
        offset = int(parts.get("offset", 0))
        if offset < HEADER_SIZE:
            continue
        decl = parts.get("field", "")
        f = _field(decl, offset, int(parts.get("size", 0)),
                   parts.get("signed") == "1", user, max_strlen)
        if f is not None:
            f = replace(f, decl=_c_type(decl, f.name))
            fields.append(f)
    size = max((f.offset + _field_size(f) for f in fields), default=0)
    return tp_id, Struct(f"tracepoint {category}:{name}", tuple(fields), size)


def _c_type(decl: str, name: str) -> str:
    """"const char * filename" -> "const char *"; "char comm[16]" -> "char[16]"."""
    decl = decl.strip()
    for prefix in ("__data_loc ", "__rel_loc "):
        if decl.startswith(prefix):
            decl = decl[len(prefix):]
    head, sep, tail = decl.rpartition(name)
    return (head.strip() + tail.strip()) if sep else decl


def _field_size(f: Field) -> int:
    return 4 if f.data_loc else f.type.size


def _field(decl: str, offset: int, size: int, signed: bool, user: bool,
           max_strlen: int) -> Field | None:
    decl = decl.strip()
    if not decl:
        return None
    loc_kind = None
    for prefix, kind in (("__data_loc ", "loc"), ("__rel_loc ", "rel")):
        if decl.startswith(prefix):
            loc_kind = kind
            decl = decl[len(prefix):]
    count = None
    if decl.endswith("]"):
        decl, _, dim = decl[:-1].rpartition("[")
        count = int(dim) if dim.isdigit() else None
    words = decl.replace("*", " * ").split()
    name = words[-1]
    ctype = words[:-1]
    is_char = any(w == "char" or w.startswith("char[") for w in ctype)
    if loc_kind:
        if is_char:
            return Field(name, Str(max_strlen), offset, data_loc=loc_kind)
        return Field(name, Int(32, False), offset)      # the raw offset|length word
    if "*" in ctype:
        target = Int(8, True) if is_char else Void()
        space = AddrSpace.USER if user else AddrSpace.KERNEL
        return Field(name, Ptr(target, space), offset)
    if count is not None and count > 0:
        elem_size = size // count if size else 1
        if is_char and elem_size == 1:
            return Field(name, Str(count), offset)
        elem = Int(elem_size * 8, signed) if elem_size in (1, 2, 4, 8) else Int(8, False)
        return Field(name, Array(elem, count), offset)
    if size in (1, 2, 4, 8):
        return Field(name, Int(size * 8, signed), offset)
    return Field(name, Array(Int(8, False), size), offset)
