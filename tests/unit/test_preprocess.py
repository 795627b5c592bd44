"""The preprocessor: defines, function-like macros, conditionals, includes
(through a reader over a dict), #if arithmetic, whole error messages whose
positions point into the script or into the included file."""
from __future__ import annotations

import pytest

from pytrace.base.diagnostics import CompileError
from pytrace.lang.parser import parse
from pytrace.lang.preprocess import Preprocessor, blank_comments, has_directives

HEADERS = {
    "m.h": "#pragma once\n#define N 7\n#define SQ(x) ((x)*(x))\nstruct s { int a; };\n",
    "sub/inner.h": "#define INNER 3\n#include \"deeper.h\"\n",
    "sub/deeper.h": "#define DEEPER (INNER + 1)\n",
    "bad.h": "#define OK 1\n#if 1 +\n#endif\n",
    "open.h": "#ifdef X\n",
}


def read(name, angle, here):
    path = f"{here}/{name}".lstrip("/") if here and not angle else name
    return (path, HEADERS[path]) if path in HEADERS else None


def pp(text: str, defines=None, includes=()) -> str:
    return Preprocessor(read, defines).script(text, "s.bt", includes)


def error_of(text: str, defines=None) -> str:
    with pytest.raises(CompileError) as info:
        pp(text, defines)
    return info.value.render()


def test_directives_become_empty_lines_and_macros_expand():
    out = pp('#include "m.h"\nBEGIN { printf("%d N\\n", N, SQ(N + 1)); }\n')
    assert out == '\nBEGIN { printf("%d N\\n", 7, ((7 + 1)*(7 + 1))); }\n'


def test_conditionals_elif_else_and_nesting():
    text = ("#ifdef BPFTRACE_HAVE_BTF\na\n#if 0\nb\n#elif 2 > 1 && !defined(NOPE)\nc\n"
            "#else\nd\n#endif\n#else\ne\n#endif\n#ifndef BPFTRACE_HAVE_BTF\nf\n#endif\n")
    assert pp(text, {"BPFTRACE_HAVE_BTF": "1"}).split("\n") == [
        "", "a", "", "", "", "c", "", "", "", "", "", "", "", "", "", ""]
    assert pp(text).split("\n")[10] == "e" and pp(text).split("\n")[13] == "f"


@pytest.mark.parametrize("expr, value", [
    ("1 + 2 * 3 == 7", 1), ("(1 << 4) | 1", 17), ("-7 / 2", -3), ("-7 % 2", -1),
    ("defined N ? N : 0", 7), ("0x10 >= 16UL", 1), ("UNDEFINED", 0), ("!0 && ~0", 1),
    ("'A' == 65", 1), ("010", 8),
])
def test_if_arithmetic(expr, value):
    p = Preprocessor(read, {"N": "7"})
    from pytrace.base.diagnostics import Loc, Source
    assert p.evaluate(expr, Loc(Source("s", expr), 1, 1, 1, 1)) == value


def test_nested_includes_pragma_once_and_undef():
    text = '#include "m.h"\n#include "m.h"\n#include "sub/inner.h"\n#undef N\nN DEEPER\n'
    assert pp(text).split("\n")[4] == "N (3 + 1)"


def test_missing_headers_are_skipped_and_include_options_read_first():
    assert pp("#include <net/sock.h>\nx\n") == "\nx\n"
    assert pp("N\n", includes=("m.h",)) == "7\n"


def test_stringify_paste_and_variadic():
    text = ('#define S(x) #x\n#define CAT(a, b) a ## b\n#define P(fmt, ...) printf(fmt, __VA_ARGS__)\n'
            'S(hi) CAT(ab, cd) P("%d %d", 1, 2)\n')
    assert pp(text).split("\n")[3] == '"hi" abcd printf("%d %d", 1, 2)'


def test_comments_are_blanked_keeping_columns_and_hashes_in_comments_are_not_directives():
    text = "/* #define X 1\n # x */ a // #if\n"
    assert blank_comments(text) == " " * 14 + "\n" + " " * 8 + "a" + " " * 7 + "\n"
    assert pp("/*\n#error no\n*/\nX\n") == "  \n" + " " * 9 + "\n  \nX\n"
    assert has_directives("#!/usr/bin/bpftrace\nBEGIN {}\n") is False
    assert has_directives("#!/usr/bin/bpftrace\n #include <x.h>\n") is True


def test_positions_after_preprocessing_are_the_scripts():
    out = pp('#include "m.h"\n#define ONE 1\nBEGIN { @x = ONE; $y = nope; }\n')
    with pytest.raises(CompileError) as info:
        from pytrace.compile import compile_ast
        from tests.fake_btf import btf_kernel
        from pytrace.providers import resolvers
        compile_ast(parse(out, "s.bt"), btf_kernel(), resolvers())
    assert info.value.render().splitlines()[0].startswith("s.bt:3:")


@pytest.mark.parametrize("text, message", [
    ("#else\n", "s.bt:1:1: error: #else without #if\n#else\n~~~~~\n"
                "hint: every #elif/#else follows an #if, #ifdef or #ifndef"),
    ("x\n#endif\n", "s.bt:2:1: error: #endif without #if\n#endif\n~~~~~~\n"
                    "hint: remove it or add the #if it ends"),
    ("x\n#ifdef A\nx\n", "s.bt:2:1: error: this #ifdef has no #endif\n#ifdef A\n~~~~~~~~\n"
                      "hint: end every #if, #ifdef and #ifndef with #endif"),
    ("#frob x\n", "s.bt:1:1: error: unknown preprocessor directive #frob\n#frob x\n~~~~~~~\n"
                  "hint: known: #include, #define, #undef, #if, #ifdef, #ifndef, #elif, "
                  "#else, #endif"),
    ("#define F(a, b) a\nF(1)\n", "s.bt:2:1: error: macro F() takes 2 argument(s), got 1\n"
                                  "F(1)\n~~~~\nhint: #define F(a, b)"),
    ("  #if 1 +\n#endif\n", "s.bt:1:3: error: cannot evaluate #if 1 +\n  #if 1 +\n  ~~~~~~~\n"
                            "hint: #if takes integer constants, macros, defined(NAME) and C "
                            "operators"),
    ("#error stop here\n", "s.bt:1:1: error: #error stop here\n#error stop here\n"
                           "~~~~~~~~~~~~~~~~"),
])
def test_whole_error_messages(text, message):
    assert error_of(text) == message


def test_an_error_inside_an_included_file_points_into_it():
    assert error_of('x\n#include "bad.h"\n') == (
        "bad.h:2:1: error: cannot evaluate #if 1 +\n#if 1 +\n~~~~~~~\n"
        "hint: #if takes integer constants, macros, defined(NAME) and C operators")
