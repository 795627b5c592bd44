"""Compiled map lines (render/map_text) against the generic per-entry path
(text_output.generic_lines): byte-identical for every non-hist map kind,
over a small fuzz of keys and values, with and without resolvers; and the
whole printers' output (text and JSON) unchanged for hist maps too."""
import io
import random

import pytest

from pytrace.lang.types import (
    INT32, INT64, UINT8, UINT64, Agg, AggKind, CEnum, Field, Formatted, Ptr, Special,
    Stack, Str, Struct, Tuple,
)
from pytrace.render.decode import MapDump
from pytrace.render.map_text import line_formatter
from pytrace.render.output import JsonPrinter, Resolvers, TextPrinter
from pytrace.render.text_output import generic_lines

ENUM = CEnum(bits=32, name="e", values=(("A", 0), ("B", 7)))
POINT = Struct(name="p", fields=(Field("x", INT32, 0), Field("y", INT32, 4)), nbytes=8)
RES = Resolvers(special=lambda how, v: f"sym_{v:x}",
                stack=lambda st, v: f"\n        f{v}\n        g{v}\n")


def _sample(t, rnd):
    if isinstance(t, CEnum):
        return rnd.choice([0, 7, 3])
    if isinstance(t, Str):
        return rnd.choice(["", "a b", "{x}", 'q"\\', "é"])
    if isinstance(t, Ptr):
        return rnd.randrange(1 << 48)
    if isinstance(t, Stack):
        return rnd.randrange(100)
    if isinstance(t, Special):
        return rnd.randrange(1 << 40)
    if isinstance(t, Tuple):
        return tuple(_sample(e, rnd) for e in t.elems)
    if isinstance(t, Struct):
        return tuple(_sample(f.type, rnd) for f in t.fields)
    if isinstance(t, Agg):
        if t.kind is AggKind.STATS:
            return (rnd.randrange(9), rnd.randrange(-99, 99), rnd.randrange(999))
        return rnd.randrange(-(1 << 63), 1 << 63)
    return rnd.randrange(-(1 << 63), 1 << 63) if t.signed else rnd.randrange(1 << 64)


KEYS = [None, INT64, UINT8, Str(cap=16), Ptr(), ENUM, Stack(), Special(Formatted.KSYM),
        Tuple((INT64, Str(cap=8))), Tuple((UINT64, Ptr(), ENUM)), Tuple((Tuple((INT32, INT32)), INT64)),
        Tuple((Stack(), INT64)), POINT]
VALUES = [Agg(AggKind.COUNT), Agg(AggKind.SUM), Agg(AggKind.MIN), Agg(AggKind.MAX),
          Agg(AggKind.AVG), Agg(AggKind.STATS), INT64, UINT64, Str(cap=8), Ptr(), ENUM,
          Tuple((INT64, Str(cap=8))), POINT]


@pytest.mark.parametrize("key_type", KEYS, ids=str)
@pytest.mark.parametrize("value_type", VALUES, ids=str)
@pytest.mark.parametrize("res", [Resolvers(), RES], ids=["plain", "resolvers"])
def test_compiled_lines_equal_generic(key_type, value_type, res):
    rnd = random.Random(f"{key_type}{value_type}")
    n = 1 if key_type is None else 20
    entries = [(None if key_type is None else _sample(key_type, rnd), _sample(value_type, rnd))
               for _ in range(n)]
    dump = MapDump("@m", key_type, value_type, entries)
    assert line_formatter("@m", key_type, value_type, res)(entries) == \
        generic_lines(dump, entries, res)


def test_compiled_lines_known_text():
    f = line_formatter("@x", Tuple((INT64, Str(cap=8), Ptr())), Agg(AggKind.COUNT))
    assert f([((-1, "a{b}", 255), 3), ((2, 'q"', 0), 4)]) == \
        '@x[-1, a{b}, 0xff]: 3\n@x[2, q", 0x0]: 4\n'
    assert line_formatter("@", None, INT64)([(None, 5)]) == "@: 5\n"
    assert line_formatter("@", None, Agg(AggKind.STATS))([(None, (2, 6, 12))]) == \
        "@: { .count = 2, .average = 6, .total = 12 }\n"


def _print(printer_cls, dump, res):
    out = io.StringIO()
    printer_cls(out, io.StringIO(), res).map(dump)
    return out.getvalue()


@pytest.mark.parametrize("key_type", [INT64, Str(cap=8), Tuple((INT64, Str(cap=8)))], ids=str)
def test_printers_sort_then_format(key_type):
    """The printers' whole output for a fuzzed count map: sorted by value,
    ties by key, as the generic lines of the sorted entries."""
    rnd = random.Random(7)
    entries = {_sample(key_type, rnd): rnd.randrange(4) for _ in range(60)}
    dump = MapDump("@c", key_type, Agg(AggKind.COUNT), list(entries.items()))
    order = sorted(entries.items(), key=lambda kv: (kv[1], kv[0]))
    assert _print(TextPrinter, dump, RES) == generic_lines(dump, order, RES)
    text = _print(JsonPrinter, dump, RES)
    assert text.startswith('{"type": "map", "data": {"@c": {') and text.count(":") > len(entries)
