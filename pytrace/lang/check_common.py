"""The checker's shared vocabulary: the Unknown type (not known yet, or an
error already reported), how types are described in messages, which types a map or
variable stores, the records the checker fills in (MapInfo, ProbeTyping,
Group) and the "did you mean" hints."""
from __future__ import annotations

from ..base.record import field, record
from ..base.diagnostics import Loc
from . import ast as A
from .probes import ProbeContext
from .types import (INT64, UINT64, Agg, Array, ByteArray, CEnum, Inet6, Int, LpmKey, Ptr, Special,
                    Stack, Str, Struct, StructRef, Tuple, Type, Void)


class Unknown(Type):
    """The type of a map not yet assigned during the first pass."""

    def __str__(self) -> str:
        return "unknown"


UNKNOWN = Unknown()


def describe(t: Type) -> str:
    """A type in words for messages."""
    if isinstance(t, (Int, Ptr, Special)) or (isinstance(t, Agg) and t.is_integer):
        return "an integer"
    if isinstance(t, Inet6):
        return "an IPv6 address"
    if isinstance(t, LpmKey):
        return "an lpm() key"
    if isinstance(t, Str):
        return "a string"
    if isinstance(t, Tuple):
        return "a tuple"
    if isinstance(t, Agg):
        return f"a {t.kind.value} histogram"
    if isinstance(t, (Struct, StructRef)):
        return f"a {t}"
    if isinstance(t, Stack):
        return "a stack"
    if isinstance(t, Void):
        return "nothing (it returns no value)"
    return str(t)


def is_int(t: Type) -> bool:
    return isinstance(t, (Int, Ptr, Special, Unknown)) or (isinstance(t, Agg) and t.is_integer)


def storable(t: Type) -> Type:
    """The type a value takes when stored in a map: integers widen to 64 bits."""
    if isinstance(t, CEnum):
        return CEnum(64, t.signed, t.name, t.values)    # still prints by name
    if isinstance(t, Int):
        return Int(64, t.signed)
    if isinstance(t, Agg):
        return INT64
    if isinstance(t, Tuple):
        return Tuple(tuple(storable(e) for e in t.elems))
    if (isinstance(t, Array) and isinstance(t.elem, Int) and t.elem.bits == 8
            and not isinstance(t, ByteArray)):
        return Str(t.count)
    return t


def _merge(old: Type, new: Type) -> Type | None:
    """The type both can be stored as, or None when they cannot mix."""
    if isinstance(old, Unknown):
        return new
    if isinstance(new, Unknown):
        return old
    if isinstance(old, Int) and isinstance(new, (Int, Ptr, Special)):
        return old
    if isinstance(old, (Ptr, Special)) and isinstance(new, (Int, Ptr, Special)):
        return old
    if isinstance(old, Str) and isinstance(new, Str):
        return old if old.cap >= new.cap else new
    if isinstance(old, Tuple) and isinstance(new, Tuple) and len(old.elems) == len(new.elems):
        elems = [_merge(a, b) for a, b in zip(old.elems, new.elems)]
        return None if None in elems else Tuple(tuple(elems))
    if old == new:
        return old
    return None


@record
class MapInfo:
    name: str
    keyed: bool | None = None
    key: Type | None = None
    value: Type | None = None
    key_loc: Loc | None = None
    value_loc: Loc | None = None
    first_loc: Loc | None = None
    assigned: bool = False


@record
class ProbeTyping:
    """What the checker learned about one probe in one context."""
    types: dict[int, Type] = field(default_factory=dict)
    vars: dict[str, Type] = field(default_factory=dict)


@record
class Group:
    """A probe body compiled once for targets sharing a context."""
    probe: A.Probe
    probe_index: int
    context: ProbeContext
    targets: list


def _as_int(t: Type) -> Int:
    if isinstance(t, Int):
        return t
    if isinstance(t, Agg):
        return INT64
    return UINT64


def _key_words(t: Type | None) -> str:
    if isinstance(t, Tuple):
        return "(" + ", ".join(_key_words(x) for x in t.elems) + ")"
    if isinstance(t, Str):
        return "string"
    if isinstance(t, (Int, Ptr, Special)):
        return "integer"
    return str(t)


def _value_words(t: Type, plural: bool = False) -> str:
    if isinstance(t, Agg):
        return f"{t.kind.value}() values"
    if isinstance(t, Tuple):
        return ("tuples " if plural else "a tuple ") + _key_words(t)
    if plural:
        return {"an integer": "integers", "a string": "strings"}.get(describe(t), describe(t))
    return describe(t)


def _str_hint(lt: Type, rt: Type, op: str = "==") -> str | None:
    if isinstance(lt, Str) or isinstance(rt, Str):
        if op == "+":
            return "strings cannot be added; print them together with printf(\"%s%d\", …)"
        return "strings compare only with strings; integers only with integers"
    return None


def _near(name: str, names) -> str | None:
    import difflib
    got = difflib.get_close_matches(name, list(names), n=1, cutoff=0.75)
    return got[0] if got else None


def _name_hint(name: str, reg) -> str | None:
    guess = _near(name, reg.names())
    if guess:
        return f"did you mean '{guess}'?"
    return "scratch variables are written $name and maps @name"


def _function_hint(name: str, reg) -> str:
    """For an unknown function: the nearest builtin function, else where the
    list of them is (never the scratch-variable hint: a call is no variable)."""
    guess = _near(name, reg.functions)
    if guess:
        return f"did you mean '{guess}'?"
    return "pytrace -l builtins lists the functions there are"


def _field_hint(name: str, t: Struct) -> str | None:
    names = [f.name for f in t.fields if not f.name.startswith("common_")]
    guess = _near(name, names)
    if guess:
        return f"did you mean '{guess}'?"
    if names:
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        return f"its fields are: {shown}"
    return None
