"""printf format parsing and C formatting (pytrace.lang.printf).

Oracle cases are bpftrace 0.17 output captured on the test machine; each
comment gives the program. Integer arguments are listed as the values
``decode`` produces for their declared types ((int32)-1 is -1, (uint32)-1
is 4294967295): what the conversion then reads depends only on the length
modifier, as in bpftrace, which hands the 64-bit extended value to C's
printf.
"""
import ctypes
import platform

import pytest

from pytrace.render.decode import decode
from pytrace.lang.printf import (
    ArgKind, Conversion, EscapeError, FormatError, arg_kinds, conversions,
    format_printf, parse_format, unescape, unescape_map,
)
from pytrace.lang.types import INT32, UINT32


def fmt(text, *args):
    return format_printf(parse_format(text), list(args))


# --------------------------------------------------------------- oracle cases

@pytest.mark.parametrize("text,args,expected", [
    # bpftrace -e 'BEGIN { printf("%u|%5d|%-5x|\n", -1, 42, 255); exit(); }'
    ("%u|%5d|%-5x|\n", (-1, 42, 255), "4294967295|   42|ff   |\n"),
    # printf("%u|%d|%x|%lu|%ld|%lx|\n", (int32)-1 six times)
    ("%u|%d|%x|%lu|%ld|%lx|\n", (-1,) * 6,
     "4294967295|-1|ffffffff|18446744073709551615|-1|ffffffffffffffff|\n"),
    # the same with (uint32)-1: zero-extended, so %l conversions see 2**32-1
    ("%u|%d|%x|%lu|%ld|%lx|\n", (4294967295,) * 6,
     "4294967295|-1|ffffffff|4294967295|4294967295|ffffffff|\n"),
    # the same with a plain (int64) -1, and %llu
    ("%u|%d|%x|%lu|%ld|%lx|%llu|\n", (-1,) * 7,
     "4294967295|-1|ffffffff|18446744073709551615|-1|ffffffffffffffff|18446744073709551615|\n"),
    # printf("%d|%ld|%u|\n", 1<<32, 1<<32, (1<<32)+5): %d reads the low 32 bits
    ("%d|%ld|%u|\n", (1 << 32, 1 << 32, (1 << 32) + 5), "0|4294967296|5|\n"),
    # printf("%hd|%hu|%hhd|%hhu|%hx|%hhx|\n", 70000, 70000, 200, 200, -1, -1)
    ("%hd|%hu|%hhd|%hhu|%hx|%hhx|\n", (70000, 70000, 200, 200, -1, -1),
     "4464|4464|-56|200|ffff|ff|\n"),
    # printf("%05d|%-5d|%5s|%-5s|%.2s|%8.3s|\n", -42, -42, "ab", "ab", "abcdef", "abcdef")
    ("%05d|%-5d|%5s|%-5s|%.2s|%8.3s|\n", (-42, -42, "ab", "ab", "abcdef", "abcdef"),
     "-0042|-42  |   ab|ab   |ab|     abc|\n"),
    # printf("%c%c%c|%5c|%-3c|\n", 65, 66, 67, 120, 121)
    ("%c%c%c|%5c|%-3c|\n", (65, 66, 67, 120, 121), "ABC|    x|y  |\n"),
    # printf("%p|%p|%20p|\n", 0, 0xffff8000, 4096)
    ("%p|%p|%20p|\n", (0, 0xFFFF8000, 4096), "(nil)|0xffff8000|              0x1000|\n"),
    # printf("%o|%X|%lX|%10.5d|%.0d|\n", 8, 255, -1, 42, 0)
    ("%o|%X|%lX|%10.5d|%.0d|\n", (8, 255, -1, 42, 0), "10|FF|FFFFFFFFFFFFFFFF|     00042||\n"),
    # printf("%zd|%jd|%td|%zu|%zx|\n", -1, -1, -1, -1, -1)
    ("%zd|%jd|%td|%zu|%zx|\n", (-1,) * 5, "-1|-1|-1|18446744073709551615|ffffffffffffffff|\n"),
    # printf("%s|%s|\n", comm, "x")
    ("%s|%s|\n", ("bpftrace", "x"), "bpftrace|x|\n"),
])
def test_bpftrace_017_oracle(text, args, expected):
    assert fmt(text, *args) == expected


def test_percent_percent_everywhere():
    # bpftrace 0.17 printed "100%|5%%\n" for printf("100%%|%d%%\n", 5): it
    # passed the text after the last conversion through unformatted. Current
    # bpftrace (format_string.cpp) turns every %% into %; so do we.
    assert fmt("100%%|%d%%\n", 5) == "100%|5%\n"
    assert fmt("100%%\n") == "100%\n"


def test_declared_size_decides_extension():
    raw = b"\xff\xff\xff\xff"
    assert fmt("%lu %u", decode(INT32, raw), decode(INT32, raw)) == \
        "18446744073709551615 4294967295"
    assert fmt("%lu %u", decode(UINT32, raw), decode(UINT32, raw)) == "4294967295 4294967295"


def test_c_flags():
    assert fmt("%+d|% d|%+d|% 05d|%+05d", 5, 5, -5, -3, 3) == "+5| 5|-5|-0003|+0003"
    assert fmt("%#x|%#X|%#o|%#x|%#08x", 255, 255, 8, 0, 255) == "0xff|0XFF|010|0|0x0000ff"
    assert fmt("%-05d|%08.3d|%.0x|%#.0o", 3, 5, 0, 0) == "3    |     005||0"
    assert fmt("%+u|% x", 5, 5) == "5|5"            # sign flags apply to d/i only
    assert fmt("%05s|%05c|%010p", "ab", 65, 0) == "   ab|    A|     (nil)"
    assert fmt("%010p|%+p|%.5p", 255, 255, 255) == "0x000000ff|+0xff|0x000ff"


def test_strings_count_bytes():
    # C widths and precisions count bytes: "é" is two
    assert fmt("[%4s]", "é") == "[  é]"
    assert fmt("[%.1s]", "é").encode("utf-8", "surrogateescape") == b"[\xc3]"
    assert fmt("%s", "\udcff") == "\udcff"         # a raw byte 0xff stays one byte
    assert fmt("%s", 42) == "42"                    # bpftrace 0.24+: %s of an integer


def test_char_takes_low_byte():
    assert fmt("%c", 0x141) == "A"
    assert fmt("%c", 0xE9).encode("utf-8", "surrogateescape") == b"\xe9"
    assert fmt("a%cb", 0) == "a\0b"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="compares with glibc snprintf")
def test_matches_glibc_snprintf():
    libc = ctypes.CDLL(None)
    buf = ctypes.create_string_buffer(512)

    def c_printf(text, value):
        if isinstance(value, str):
            arg = ctypes.c_char_p(value.encode("utf-8", "surrogateescape"))
        else:       # a 64-bit register, as bpftrace passed every integer
            arg = ctypes.c_ulonglong(value & (2**64 - 1))
        libc.snprintf(buf, len(buf), text.encode(), arg)
        return buf.value.decode("utf-8", "surrogateescape")

    values = [0, 1, -1, 42, -42, 255, 2**31, -2**31, 2**32 + 5, 2**63, 2**64 - 1, 70000]
    checked = 0
    for flags in ["", "-", "0", "+", " ", "#", "-0", "+0", "# 0", "-+"]:
        for width in ["", "1", "7", "22"]:
            for prec in ["", ".", ".0", ".3", ".12"]:
                for length in ["", "hh", "h", "l", "ll", "z"]:
                    for conv in "diuoxXp":
                        text = f"%{flags}{width}{prec}{length}{conv}"
                        segs = parse_format(text)
                        for v in values:
                            assert format_printf(segs, [v]) == c_printf(text, v), (text, v)
                            checked += 1
                for conv, vals in (("c", [65, 0x141, 0x7F]),
                                   ("s", ["", "abc", "héllo", "x\udcffy", "abcdefghijklmnop"])):
                    text = f"%{flags}{width}{prec}{conv}"
                    segs = parse_format(text)
                    for v in vals:
                        assert format_printf(segs, [v]) == c_printf(text, v), (text, v)
                        checked += 1
    assert checked > 20000


# ------------------------------------------------------------------ parsing

def test_parse_segments():
    segs = parse_format("a%%b %-08.3lx|%s\n%5%x")
    assert segs == [
        "a%b ",
        Conversion("x", "-0", 8, 3, "l", 5, "%-08.3lx"),
        "|",
        Conversion("s", "", None, None, "", 14, "%s"),
        "\n%x",
    ]
    assert [c.arg_kind for c in conversions(segs)] == [ArgKind.INTEGER, ArgKind.STRING]
    assert arg_kinds(segs) == [ArgKind.INTEGER, ArgKind.STRING]


def test_conversion_properties():
    (c,) = conversions(parse_format("%+ #0-12hhd"))
    assert (c.left, c.zero, c.plus, c.space, c.alt) == (True, True, True, True, True)
    assert (c.width, c.precision, c.length, c.bits) == (12, None, "hh", 8)
    assert [x.bits for x in conversions(parse_format("%d%hd%ld%lld%zu%jx%p%c"))] == \
        [32, 16, 64, 64, 64, 64, 64, 8]


def test_stray_percent_is_literal():
    # as in bpftrace: text that is not a specification prints as written
    assert parse_format("100%") == ["100%"]
    assert parse_format("%y and %5q") == ["%y and %5q"]
    assert fmt("50%!\n") == "50%!\n"


@pytest.mark.parametrize("text,message,offset,length", [
    ("x=%f\n", "'%f': floating-point conversions are not supported "
               "(BPF has no floating point)", 2, 2),
    ("ab %5.2e", "'%5.2e': floating-point conversions are not supported "
                 "(BPF has no floating point)", 3, 5),
    ("%n", "'%n': %n is not supported", 0, 2),
    ("  %lrx", "'%lrx': %r takes no length modifier", 3, 1),     # %r, %rx, %rh exist now (buf())
    ("%*d", "'*' widths are not supported; write the width into the format", 1, 1),
    ("%.*d", "'*' precisions are not supported; write the precision into the format", 2, 1),
    ("v %hhhd", "invalid length modifier 'hhh' in '%hhhd'; use one of hh, h, l, ll, j, z, t", 3, 3),
    ("%Lu", "invalid length modifier 'L' in '%Lu'; use one of hh, h, l, ll, j, z, t", 1, 1),
    ("%ls", "'%ls': %s takes no length modifier", 1, 1),
])
def test_format_errors(text, message, offset, length):
    with pytest.raises(FormatError) as info:
        parse_format(text)
    assert (str(info.value), info.value.offset, info.value.length) == (message, offset, length)
    assert info.value.render() == f"error: {message}"


def test_wrong_argument_count_is_a_bug():
    with pytest.raises(ValueError):
        fmt("%d %d", 1)


# ------------------------------------------------------------------ escapes

def test_unescape():
    assert unescape(r"a\tb\n\"q\"\\") == 'a\tb\n"q"\\'
    assert unescape(r"\x41\X4a\101\0\7") == "AJA\0\x07"
    assert unescape(r"\x4g") == "\x04g"                  # one hex digit is enough
    assert unescape(r"\1234") == "S4"                    # at most three octal digits
    assert unescape(r"\xc3\xa9") == "é"                  # escapes are bytes
    assert unescape(r"\xff").encode("utf-8", "surrogateescape") == b"\xff"
    assert unescape("plain é") == "plain é"


def test_unescape_map_points_back_to_source():
    value, offsets = unescape_map(r"a\tb\x41é\101")
    assert value == "a\tbAéA"
    assert offsets == [0, 1, 3, 4, 8, 9, 13]
    # an error at value offset 4 (the é) is at source offset 8
    assert offsets[4] == 8


@pytest.mark.parametrize("text,message,offset,length", [
    (r"ab\q", r"invalid escape character '\q'", 2, 2),
    (r"\400", r"octal escape sequence out of range '\400'", 0, 4),
    (r"x\xg", r"invalid hex escape sequence: '\x' needs one or two hex digits", 1, 2),
    ("abc\\", "string ends in the middle of an escape sequence", 3, 1),
])
def test_escape_errors(text, message, offset, length):
    with pytest.raises(EscapeError) as info:
        unescape(text)
    assert (str(info.value), info.value.offset, info.value.length) == (message, offset, length)
