"""Checks of casts and kernel types (a part of ``semantics.Checker``)."""
from __future__ import annotations

from . import ast as A
from .types import INT64, UINT64, Int, Ptr, Struct, StructRef, Tuple, Type, struct_of
from .check_common import Unknown, UNKNOWN, describe, is_int, _field_hint


class KernelTypeChecks:
    """Checks of casts and kernel types: casts, field access, sizeof, offsetof."""

    def expr_Cast(self, e: A.Cast) -> Type:
        t = self.expr(e.operand)
        name = e.type.name
        if name.startswith(("struct ", "union ", "enum ")):
            return self._kernel_cast(e, t)
        if not is_int(t):
            self.error(f"cannot cast {describe(t)} to {e.type}", e.loc)
            return INT64
        bits = 8 if name == "bool" else int(name.lstrip("uint"))
        base = Int(bits, not name.startswith("u") and name != "bool")
        if e.type.pointers:
            return Ptr(base)
        return base

    def _kernel_cast(self, e: A.Cast, t: Type) -> Type:
        """``(struct sock *)arg0``: the type comes from the kernel's BTF."""
        from .kernel_types import NO_BTF, converter, lookup
        if not is_int(t):
            self.error(f"cannot cast {describe(t)} to {e.type}", e.loc)
            return INT64
        if converter(self.kernel) is None:
            self.error(f"cannot cast to {e.type}: {NO_BTF}", e.type.loc,
                       "read the value as an integer, or use tracepoints whose fields "
                       "are typed")
            return INT64
        target = lookup(self.kernel, e.type.name, e.type.pointers)
        if target is None:
            self.error(f"the kernel has no type '{e.type.name}'", e.type.loc,
                       "list kernel types with: pytrace -lv 'struct NAME'")
            return INT64
        if not e.type.pointers and not isinstance(target, Int):
            self.error(f"cannot cast an integer to {e.type}, only to a pointer to it",
                       e.type.loc, f"write ({e.type} *)")
            return INT64
        return target

    def expr_FieldAccess(self, e: A.FieldAccess) -> Type:
        t = self.expr(e.operand)
        if isinstance(t, Unknown):
            return UNKNOWN              # the operand's error was reported already
        # kernel structs (BTF) are reached through pointers, any number of
        # hops: ``curtask->real_parent->comm``; '.' and '->' both work
        if isinstance(t, Ptr) and isinstance(t.target, (Struct, StructRef)):
            t = t.target
        s = struct_of(t)
        if s is not None:
            f = s.field(e.name)
            if f is None:
                what = s.name if " " in s.name or "(" in s.name or not s.name else str(s)
                self.error(f"{what or 'this struct'} has no field '{e.name}'",
                           e.loc, _field_hint(e.name, s))
                return UNKNOWN          # reported; uses of it stay quiet
            return f.type
        if isinstance(t, Tuple):
            self.error("tuple elements are read by position: t.0, t.1, …", e.loc)
            return INT64
        self.error(f"'{'->' if e.arrow else '.'}{e.name}' needs a struct, not {describe(t)}",
                   e.loc)
        return INT64

    def expr_Sizeof(self, e: A.Sizeof) -> Type:
        if isinstance(e.what, A.TypeName):
            if e.what.name.startswith(("struct", "union", "enum")):
                self.kernel_type(e.what, f"sizeof({e.what})")
        else:
            self.expr(e.what)
        return UINT64

    def kernel_type(self, tn: A.TypeName, what: str) -> Type | None:
        """The BTF type a ``TypeName`` names, or None after reporting why not."""
        from .kernel_types import NO_BTF, converter, lookup
        if converter(self.kernel) is None:
            self.error(f"{what} needs kernel type information: {NO_BTF}", tn.loc)
            return None
        t = lookup(self.kernel, tn.name, tn.pointers)
        if t is None:
            self.error(f"the kernel has no type '{tn.name}'", tn.loc,
                       "list kernel types with: pytrace -lv 'struct NAME'")
        return t

    def expr_Offsetof(self, e: A.Offsetof) -> Type:
        t = self.kernel_type(e.type, f"offsetof({e.type}, {e.member})")
        if t is not None:
            s = struct_of(t)
            if s is None:
                self.error(f"offsetof() needs a struct or union, not {e.type}", e.type.loc)
            elif s.field(e.member) is None:
                self.error(f"{s} has no field '{e.member}'", e.loc, _field_hint(e.member, s))
        return UINT64
