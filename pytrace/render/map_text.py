"""Map lines as text, compiled once per map shape.

``text_output.key_text``/``text_value`` walk the type of every key and
value (a dozen isinstance checks an entry, ~10 µs); a map of 100,000 keys
spent most of its print time there. ``line_formatter`` looks at the key
and value types once and returns a function that turns the whole list of
(key, shown value) pairs into the text of the map in one join: integer and
string parts go straight into one ``str.format`` template, pointers as
``0x…``; any other part (stacks, symbols, enums, structs…) is formatted by
the generic function for that part alone. The result is byte-identical to
the generic path (tests/unit/test_map_text.py).
"""
from __future__ import annotations

from .text_output import _agg_text, _key_part, text_value
from .printer import NO_RESOLVERS, Resolvers
from ..lang.types import Agg, AggKind, CEnum, Int, Ptr, Str, Tuple, Type

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

#: aggregations whose shown value is one plain integer
_NUMBER_AGGS = (AggKind.COUNT, AggKind.SUM, AggKind.MIN, AggKind.MAX, AggKind.AVG)


def _plain(type: Type) -> str | None:
    """The format field printing a value of ``type`` as ``text_value``
    does, or None when it has no fixed one."""
    if isinstance(type, CEnum):
        return None
    if isinstance(type, (Int, Str)):
        return "{}"
    if isinstance(type, Ptr):
        return "0x{:x}"
    return None


def _value_field(type: Type) -> str | None:
    if isinstance(type, Agg):
        return "{}" if type.kind in _NUMBER_AGGS else None
    return _plain(type)


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def line_formatter(name: str, key_type: Type | None, value_type: Type,
                   res: Resolvers = NO_RESOLVERS) -> "Callable[[list], str]":
    """A function from the (key, shown value) pairs of a non-hist map, in
    print order, to its text: ``@name[key]: value`` lines."""
    vfield = _value_field(value_type)
    vconv = None
    if vfield is None:
        if isinstance(value_type, Agg) and value_type.kind is not AggKind.STATS:
            raise ValueError("hist/lhist maps print as blocks")
        if isinstance(value_type, Agg):
            vconv = lambda v, t=value_type: _agg_text(t, v)   # noqa: E731
        else:
            vconv = lambda v, t=value_type: text_value(t, v, res)   # noqa: E731
        vfield = "{}"
    head = _escape(name)
    if key_type is None:
        tpl = head + ": " + vfield + "\n"
        return _rows(tpl, None, vconv, scalar=True)
    parts = key_type.elems if isinstance(key_type, Tuple) else (key_type,)
    fields, convs = [], []
    for t in parts:
        f = _plain(t)
        fields.append(f or "{}")
        convs.append(None if f else (lambda v, t=t: _key_part(t, v, res, False)))
    tpl = head + "[" + ", ".join(fields) + "]: " + vfield + "\n"
    if not any(convs):
        convs = None
    return _rows(tpl, convs, vconv, scalar=False, tuple_key=isinstance(key_type, Tuple),
                 nparts=len(parts))


def _same(x):
    return x


def _rows(tpl: str, convs: list | None, vconv, *, scalar: bool, tuple_key: bool = False,
          nparts: int = 1):
    """The join over entries for ``tpl``, with the per-part conversions
    (None: the part goes into the template as it is)."""
    fmt = tpl.format
    if scalar:
        if vconv is None:
            return lambda entries: "".join([fmt(v) for _, v in entries])
        return lambda entries: "".join([fmt(vconv(v)) for _, v in entries])
    if not tuple_key:
        conv = convs[0] if convs else None
        if conv is None and vconv is None:
            return lambda entries: "".join([fmt(k, v) for k, v in entries])
        kc, vc = conv or _same, vconv or _same
        return lambda entries: "".join([fmt(kc(k), vc(v)) for k, v in entries])
    if convs is None and vconv is None:
        return lambda entries: "".join([fmt(*k, v) for k, v in entries])
    cs = [c or _same for c in (convs or [None] * nparts)]
    vc = vconv or _same

    def many(entries: list) -> str:
        return "".join([fmt(*[c(x) for c, x in zip(cs, k)], vc(v)) for k, v in entries])
    return many
