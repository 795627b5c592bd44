"""The compiled printf formatter prints exactly what the generic one does
(decode + printf_arg + format_printf), for every conversion, flag, width,
length and argument type mix, including those it hands to the generic
route (precision, '#', %c, %p, + on unsigned, padded strings)."""
from __future__ import annotations

import itertools
import random
import struct

import pytest

from pytrace.lang.printf import format_printf, parse_format
from pytrace.lang.types import Int, Ptr, Str, Tuple, UINT8
from pytrace.render.decode import decode
from pytrace.render.printf_plan import compile_printf
from pytrace.render.printer import Resolvers
from pytrace.render.text_output import printf_arg

HEADER = 8
TYPES = [Int(8, True), UINT8, Int(16, True), Int(16, False), Int(32, True), Int(32, False),
         Int(64, True), Int(64, False)]
SPECS = ["%d", "%i", "%u", "%x", "%X", "%o", "%ld", "%lu", "%lx", "%hd", "%hu", "%hhd", "%hhx",
         "%5d", "%-5d|", "%05d", "%+d", "% d", "%+u", "%#x", "%#o", "%.3d", "%.0d", "%08lx",
         "%-08ld|", "%c", "%p", "%lld", "%zu", "%10.4lu"]
EDGES = [0, 1, -1, 127, -128, 255, 65535, -32768, 2 ** 31 - 1, -2 ** 31, 2 ** 32 - 1,
         2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1]


def generic(fmt: str, args: Tuple, data: bytes) -> str:
    segs = parse_format(fmt)
    convs = [s for s in segs if not isinstance(s, str)]
    values = decode(args, data, HEADER)
    return format_printf(segs, [printf_arg(c, t, v, Resolvers())
                                for c, t, v in zip(convs, args.elems, values)])


def record(args: Tuple, values) -> bytes:
    body = bytearray(args.size)
    for t, off, v in zip(args.elems, args.offsets, values):
        if isinstance(t, Int):
            body[off:off + t.size] = (v & ((1 << t.bits) - 1)).to_bytes(t.size, "little")
        elif isinstance(t, Ptr):
            body[off:off + 8] = (v & (2 ** 64 - 1)).to_bytes(8, "little")
        else:
            body[off:off + len(v)] = v
    return struct.pack("<Q", 1) + bytes(body)


@pytest.mark.parametrize("spec", SPECS)
def test_every_integer_conversion_matches_the_generic_formatter(spec):
    for t in TYPES:
        fmt = f"a%%b {spec} c\n"
        args = Tuple((t,))
        f = compile_printf(fmt, args, HEADER, Resolvers())
        for v in EDGES:
            data = record(args, [v])
            assert f(data) == generic(fmt, args, data), (spec, t, v)


def test_mixed_arguments_in_one_record_match():
    rng = random.Random(7)
    args = Tuple((Int(32, False), Str(8), Int(64, True), Int(8, False), Str(4), Ptr(Int(8))))
    fmt = "%u [%s] %ld %c %-6s| %p %%\n"
    f = compile_printf(fmt, args, HEADER, Resolvers())
    strings = [b"ab\0", b"abcdefgh", b"\xff\xfe\0", b"", b"xyz\0"]
    for _ in range(300):
        values = [rng.choice(EDGES), rng.choice(strings), rng.choice(EDGES),
                  rng.randrange(256), rng.choice(strings)[:4], rng.choice(EDGES)]
        data = record(args, values)
        assert f(data) == generic(fmt, args, data), values


def test_formats_without_arguments_and_with_percent_signs():
    for fmt in ["hello\n", "100%% sure\n", ""]:
        f = compile_printf(fmt, Tuple(()), HEADER, Resolvers())
        assert f(struct.pack("<Q", 1)) == generic(fmt, Tuple(()), struct.pack("<Q", 1))
    assert compile_printf("100%% %d\n", Tuple((Int(64, True),)), HEADER, Resolvers())(
        record(Tuple((Int(64, True),)), [-3])) == "100% -3\n"


def test_random_specs_and_types_match():
    rng = random.Random(11)
    convs = list(itertools.product(["", "-", "0", "+", " ", "#", "-0"], ["", "3", "12"],
                                   ["", ".2"], ["", "h", "hh", "l"], "diuxXo"))
    for _ in range(400):
        picked = [rng.choice(convs) for _ in range(rng.randrange(1, 5))]
        fmt = " ".join("%" + "".join(c) for c in picked) + "\n"
        args = Tuple(tuple(rng.choice(TYPES) for _ in picked))
        f = compile_printf(fmt, args, HEADER, Resolvers())
        data = record(args, [rng.choice(EDGES) for _ in picked])
        assert f(data) == generic(fmt, args, data), fmt
