"""Kernel types as C definitions, for ``pytrace -lv 'struct task_struct'``.

The layout libbpf's btf_dump (and so bpftrace) prints: one member a line,
tab-indented, anonymous structs and unions written out in place,
bitfields with their widths, enums with their values.
"""
from __future__ import annotations

from .reader import Btf
from .records import BtfKind

_TAGS = {BtfKind.STRUCT: "struct", BtfKind.UNION: "union", BtfKind.ENUM: "enum",
         BtfKind.ENUM64: "enum"}


def find_type(btf: Btf, spelled: str) -> list[int]:
    """Ids of the named structs/unions/enums ``spelled`` names
    (``struct task_*``: every struct matching the glob)."""
    from fnmatch import fnmatchcase
    tag, _, pattern = spelled.strip().partition(" ")
    kinds = [k for k, t in _TAGS.items() if t == tag]
    pattern = pattern.strip()
    if not kinds or not pattern:
        return []
    if any(c in pattern for c in "*?["):
        prefix = pattern.split("*")[0].split("?")[0].split("[")[0]
        names = [n for k in kinds for n in btf.names(prefix, k) if fnmatchcase(n, pattern)]
        names = sorted(set(names))
    else:
        names = [pattern]
    out = []
    for name in names:
        tid = next((t for k in kinds if (t := btf.find(name, k)) is not None), None)
        if tid is not None:
            out.append(tid)
    return out


def definition(btf: Btf, tid: int) -> str:
    """``struct NAME { ... };`` for a struct, union or enum."""
    return "\n".join(_aggregate(btf, tid, 0)) + ";\n"


def _aggregate(btf: Btf, tid: int, depth: int) -> list[str]:
    t = btf.type(tid)
    tag = _TAGS[t.kind]
    head = f"{tag} {t.name} {{" if t.name else f"{tag} {{"
    pad = "\t" * (depth + 1)
    lines = [head]
    if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        lines += [f"{pad}{v.name} = {v.value}," for v in t.values]
    else:
        for m in t.members:
            mt = btf.type(m.type)
            if not mt.name and mt.kind in (BtfKind.STRUCT, BtfKind.UNION):
                inner = _aggregate(btf, m.type, depth + 1)
                lines.append(pad + inner[0])
                lines += inner[1:-1]
                lines.append(pad + "}" + (f" {m.name}" if m.name else "") + ";")
                continue
            decl = btf.declaration(m.type, m.name)
            width = f": {m.bitfield_size}" if m.bitfield_size else ""
            lines.append(f"{pad}{decl}{width};")
    lines.append("\t" * depth + "}")
    return lines
