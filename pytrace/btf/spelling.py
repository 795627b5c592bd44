"""The C spelling of a BTF type: ``struct task_struct *``, ``const char *``,
``char comm[16]``, ``void (*func)(int)``, declarators inside out as C
writes them (Btf.type_name and Btf.declaration; cdecl.py writes whole
struct definitions with them).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .records import BtfKind

if TYPE_CHECKING:
    from .reader import Btf

_QUALIFIERS = {BtfKind.CONST: "const", BtfKind.VOLATILE: "volatile",
               BtfKind.RESTRICT: "restrict"}


def type_name(btf: Btf, tid: int) -> str:
    """The C spelling: ``struct task_struct *``, ``const char *``, ``int (*)(void *)``."""
    return _declare(btf, tid, "")


def declaration(btf: Btf, tid: int, name: str) -> str:
    """``name`` declared with type ``tid``: ``char comm[16]``, ``void (*func)(int)``."""
    return _declare(btf, tid, name)


def _qualifies_pointer(btf: Btf, tid: int) -> bool:
    """Whether a qualifier on ``tid`` is written after a ``*`` (``char *const``):
    its operand, through other qualifiers and tags but not typedefs, is a PTR."""
    k = btf.kind(tid)
    while k in _QUALIFIERS or k is BtfKind.TYPE_TAG:
        tid = btf.type(tid).type
        k = btf.kind(tid)
    return k is BtfKind.PTR


def _declare(btf: Btf, tid: int, decl: str) -> str:
    t = btf.type(tid)
    K = t.kind
    if K is BtfKind.PTR:
        return _declare(btf, t.type, "*" + decl)
    if K in _QUALIFIERS:
        if _qualifies_pointer(btf, t.type):
            return _declare(btf, t.type, _QUALIFIERS[K] + (" " + decl if decl else ""))
        return _QUALIFIERS[K] + " " + _declare(btf, t.type, decl)
    if K is BtfKind.TYPE_TAG:
        return _declare(btf, t.type, decl)
    if K is BtfKind.ARRAY:
        inner = f"({decl})" if decl.startswith("*") else decl
        return _declare(btf, t.type, f"{inner}[{t.nelems}]")
    if K is BtfKind.FUNC_PROTO:
        inner = f"({decl})" if decl.startswith("*") else decl
        args = [type_name(btf, p.type) if p.type or p.name else "..." for p in t.params]
        return _declare(btf, t.type, f"{inner}({', '.join(args) or 'void'})")
    if K is BtfKind.FUNC:
        return _declare(btf, t.type, t.name + decl)
    if K is BtfKind.VAR:
        return _declare(btf, t.type, t.name + (" " + decl if decl else ""))
    if K in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.FWD):
        tag = {BtfKind.STRUCT: "struct", BtfKind.UNION: "union", BtfKind.FWD:
               "union" if t.kind_flag else "struct"}.get(K, "enum")
        base = f"{tag} {t.name or '(anon)'}"
    else:
        base = t.name or "void"
    if not decl:
        return base
    return base + decl if decl.startswith(("[", "(")) and not decl.startswith("(*") else \
        f"{base} {decl}"
