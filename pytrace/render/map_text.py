"""Map lines as text, compiled once per map shape.

``text_output.key_text``/``text_value`` walk the type of every key and
value (a dozen isinstance checks an entry, ~10 µs); a map of 100,000 keys
spent most of its print time there. ``line_formatter`` looks at the key
and value types once and returns a function that turns the whole list of
(key, shown value) pairs into the text of the map in one join: integer and
string parts go straight into one ``str.format`` template, pointers as
``0x…``; any other part (stacks, symbols, enums, structs…) is formatted by
the generic function for that part alone; the line is one f-string
compiled for the map (as ``printf_plan`` compiles printf). The result is byte-identical to
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
    """The f-string field printing a value ``{x}`` of ``type`` as
    ``text_value`` does, or None when it has no fixed one."""
    if isinstance(type, CEnum):
        return None
    if isinstance(type, (Int, Str)):
        return "{%s}"
    if isinstance(type, Ptr):
        return "0x{%s:x}"
    return None


def _value_field(type: Type) -> str | None:
    if isinstance(type, Agg):
        return "{%s}" if type.kind in _NUMBER_AGGS else None
    return _plain(type)


def _literal(text: str) -> str:
    """``text`` inside an f-string's literal part."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text.replace("{", "{{").replace("}", "}}")


def line_formatter(name: str, key_type: Type | None, value_type: Type,
                   res: Resolvers = NO_RESOLVERS) -> "Callable[[list], str]":
    """A function from the (key, shown value) pairs of a non-hist map, in
    print order, to its text: ``@name[key]: value`` lines, one f-string
    per entry in one list comprehension compiled for this shape."""
    env: dict = {}
    vfield = _value_field(value_type)
    if vfield is None:
        if isinstance(value_type, Agg) and value_type.kind is not AggKind.STATS:
            raise ValueError("hist/lhist maps print as blocks")
        env["cv"] = (lambda v, t=value_type: _agg_text(t, v)) if isinstance(value_type, Agg) \
            else (lambda v, t=value_type: text_value(t, v, res))
        vfield = "{cv(%s)}"
    head = _literal(name)
    if key_type is None:
        line, target = head + ": " + vfield % "v", "_, v"
    else:
        parts = key_type.elems if isinstance(key_type, Tuple) else (key_type,)
        fields = []
        for i, t in enumerate(parts):
            f = _plain(t)
            if f is None:
                env[f"c{i}"] = lambda v, t=t: _key_part(t, v, res, False)
                f = "{c%d(%%s)}" % i
            fields.append(f % f"k{i}")
        names = ", ".join(f"k{i}" for i in range(len(parts)))
        target = f"({names},), v" if isinstance(key_type, Tuple) else "k0, v"
        line = head + "[" + ", ".join(fields) + "]: " + vfield % "v"
    source = f'lambda entries: "".join([f"{line}\\n" for {target} in entries])'
    return eval(compile(source, f"<map {name}>", "eval"), env)
