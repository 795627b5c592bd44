"""The REPL's pure parts: when Enter runs an input, what completion offers
where, how the language is coloured, how `.set`/`.delete` read their
arguments and encode them, where history lives, and the one-line message
when prompt-toolkit is missing."""
import subprocess
import sys

import pytest

from pytrace.base.diagnostics import UsageError
from pytrace.render.encode import encode, encode_key, encode_value, parse_assignment, parse_map_key
from pytrace.lang.program import MapKind, MapSpec
from pytrace.lang.types import INT64, UINT64, Agg, AggKind, Int, Str, Tuple
from pytrace.repl.syntax import (Words, complete, function_probe_types, highlight, indent_for,
                                 is_complete, keywords, scan)


# -- Enter: run or continue ------------------------------------------------------

@pytest.mark.parametrize("text, done", [
    ("", True),
    (".print @x", True),
    ("  .probes", True),
    ("BEGIN { printf(\"hi\\n\"); }", True),
    ("BEGIN {", False),
    ("tracepoint:syscalls:sys_enter_openat /pid == 1/", False),   # the block comes next
    ("tracepoint:syscalls:sys_enter_openat /pid == 1/\n{ @ = count(); }", True),
    ("BEGIN { if (1) { @x = 1; }", False),
    ('BEGIN { printf("}"); }', True),
    ('BEGIN { printf("{"); }', True),
    ('BEGIN { printf("unclosed); }', False),
    ("BEGIN { /* } */ ", False),
    ("BEGIN { // }", False),
    ("BEGIN { @x = 1; } }", True),          # too many: the parser says so
    ("oops\n", True),                       # an empty line gets out of anything
    ("BEGIN {\n  @x = 1;\n  ", True),
])
def test_is_complete(text, done):
    assert is_complete(text) is done


def test_the_compilers_tokens_decide():
    # an angle-bracket body is a body, as the parser reads it
    assert is_complete("BEGIN < @x = 2 > 1; exit() >")
    assert not is_complete("BEGIN < @x = 1")
    # braces in a comment or string open nothing; a string ends with its line
    assert not is_complete("BEGIN /* { */")
    assert not is_complete('BEGIN { "abc')
    assert scan('BEGIN { "abc\n').string is False
    assert scan("BEGIN { /* x").block_comment
    assert scan("t:a:b /pid / 2").predicate      # a division inside the predicate
    assert scan("BEGIN { f(a[1").bracket == 2


def test_scan_and_indent():
    assert scan('BEGIN { if (1) { "{" ').depth == 2
    assert scan('BEGIN { "abc').string
    assert scan("tracepoint:a:b /pid").predicate
    assert not scan("tracepoint:a:b /pid/ {").predicate
    assert indent_for("BEGIN {\n  if (1) {") == "    "
    assert indent_for("BEGIN { }") == ""


# -- completion ------------------------------------------------------------------

class FakeWords(Words):
    def providers(self):
        return [("special", ("BEGIN", "END"), "run once"),
                ("tracepoint", ("t",), "static kernel tracepoints"),
                ("interval", ("i",), "a timer")]

    def listing(self, provider):
        return {"interval": ["interval:s:N", "interval:ms:N"]}.get(provider, [])

    def whole_probes(self, provider):
        return ("BEGIN", "END") if provider == "special" else ()

    def tracepoint_names(self, provider):
        return provider == "tracepoint"

    def tracepoints(self):
        return [("sched", "sched_switch"), ("syscalls", "sys_enter_open"),
                ("syscalls", "sys_enter_openat"), ("syscalls", "sys_enter_read"),
                ("syscalls", "sys_exit_openat")]

    def kernel_functions(self):
        return ["vfs_open", "vfs_read", "vfs_write"]

    def builtins(self):
        return [("comm", "variable", "the task's name"),
                ("count", "function", "count(): count events"),
                ("cpu", "variable", "the CPU"),
                ("printf", "function", "printf(fmt, ...): print")]

    def maps(self):
        return ["@opens", "@bytes", "@"]

    def probe_numbers(self):
        return [1, 3]


def offered(text):
    start, cands = complete(text, FakeWords())
    return start, [c.text for c in cands]


def test_complete_probe_types_and_names():
    assert offered("") == (0, ["BEGIN", "END", "tracepoint:", "interval:"])
    assert offered("tr") == (2, ["tracepoint:"])
    assert offered("t") == (1, ["tracepoint:"])            # by alias too
    assert offered("BEGIN { } E") == (1, ["END"])
    assert offered("tracepoint:sy") == (13, ["tracepoint:syscalls:"])
    assert offered("tracepoint:syscalls:sys_enter_op") == (
        32, ["tracepoint:syscalls:sys_enter_open", "tracepoint:syscalls:sys_enter_openat"])
    assert offered("t:syscalls:sys_exit_") == (20, ["t:syscalls:sys_exit_openat"])
    assert offered("BEGIN { }\ntracepoint:sched:") == (17, ["tracepoint:sched:sched_switch"])
    assert offered("tracepoint:syscalls:sys_enter_read,tracepoint:syscalls:sys_ex") == (
        26, ["tracepoint:syscalls:sys_exit_openat"])
    assert offered("kprobe:vfs_") == (11, ["kprobe:vfs_open", "kprobe:vfs_read",
                                           "kprobe:vfs_write"])
    assert offered("fentry:vfs_w") == (12, ["fentry:vfs_write"])
    assert offered("interval:m") == (10, ["interval:ms:N"])


def test_kernel_function_probe_types_come_from_the_registry():
    assert function_probe_types() == {"kprobe", "k", "kretprobe", "kr", "fentry", "kfunc", "f",
                                      "fexit", "kretfunc", "fr"}
    assert offered("kfunc:vfs_r") == (11, ["kfunc:vfs_read"])
    assert offered("kretfunc:vfs_w") == (14, ["kretfunc:vfs_write"])


def test_keywords_come_from_the_grammar():
    assert keywords() == {"if", "else", "while", "for", "unroll", "return", "break",
                          "continue", "let", "macro", "sizeof", "offsetof", "struct", "union", "enum"}


def test_complete_inside_blocks():
    start, cands = complete("BEGIN { @x = co", FakeWords())
    assert start == 2
    assert [(c.text, c.meta) for c in cands] == [("comm", "the task's name"),
                                                 ("count(", "count(): count events"),
                                                 ("continue", "keyword")]
    assert offered("BEGIN { @o") == (2, ["@opens"])
    assert offered("BEGIN { @") == (1, ["@", "@bytes", "@opens"])
    assert offered("t:a:b /cp") == (2, ["cpu"])              # predicates are expressions
    assert offered("BEGIN { $co") == (0, [])
    assert offered("BEGIN { args.co") == (0, [])
    assert offered('BEGIN { printf("co') == (0, [])           # inside a string
    assert offered("BEGIN { x = 12") == (0, [])
    assert offered("BEGIN { // co") == (0, [])              # inside a comment
    assert offered("BEGIN { /* co") == (0, [])
    assert offered("BEGIN { $x = @b") == (2, ["@bytes"])
    assert offered("BEGIN { x->co") == (0, [])
    assert offered("BEGIN { if (1) { } el") == (2, ["else"])
    assert offered("BEGIN { } ") == (0, ["BEGIN", "END", "tracepoint:", "interval:"])
    assert offered("BEGIN {}") == (0, ["BEGIN", "END", "tracepoint:", "interval:"])
    assert offered("BEGIN t:sysc") == (6, ["t:syscalls:"])    # a probe, where one may start


def test_complete_commands():
    assert offered(".d") == (2, [".detach", ".delete"])
    assert offered(".print @b") == (2, ["@bytes"])
    assert offered(".detach ") == (0, ["1", "3", "all"])
    assert offered(".watch @opens 1") == (0, [])
    assert offered(".info x") == (0, [])


# -- highlighting ----------------------------------------------------------------

def test_highlight():
    lines = highlight('t:a:b /pid == 1/ {\n  @x[comm] = count(); // c\n  $s = "a}";\n}',
                      frozenset({"pid", "comm", "count"}))
    styled = [[(s, t) for s, t in line if s] for line in lines]
    assert styled == [
        [("class:probe", "t:a:b"), ("class:builtin", "pid"), ("class:number", "1")],
        [("class:map", "@x"), ("class:builtin", "comm"), ("class:function", "count"),
         ("class:comment", "// c")],
        [("class:var", "$s"), ("class:string", '"a}"')],
        [],
    ]
    assert "".join(t for line in lines for _, t in line) == \
        't:a:b /pid == 1/ {  @x[comm] = count(); // c  $s = "a}";}'
    assert highlight(".print @x") == [[("class:command", ".print @x")]]
    assert highlight('BEGIN { $x = 1.5; " }', frozenset()) == [[
        ("class:probe", "BEGIN"), ("", " "), ("", "{"), ("", " "), ("class:var", "$x"),
        ("", " "), ("", "="), ("", " "), ("", "1.5"), ("", ";"), ("", " "),
        ("class:string", '" }')]]
    assert highlight("BEGIN < exit() >", frozenset({"exit"}))[0][4] == ("class:function", "exit")
    block = highlight("BEGIN { /* a\nb */ if }", frozenset())
    assert block[1] == [("class:comment", "b */"), ("", " "), ("class:keyword", "if"),
                        ("", " "), ("", "}")]


# -- .set / .delete ----------------------------------------------------------------

def test_parse_assignment_and_keys():
    assert parse_assignment("@port[80] = 1") == ("@port", 80, 1)
    assert parse_assignment('@m["a", -2] = "x"') == ("@m", ("a", -2), "x")
    assert parse_assignment("@x = -5") == ("@x", None, -5)
    assert parse_assignment("@t[1] = (2, \"b\")") == ("@t", 1, (2, "b"))
    assert parse_map_key("@port[80]") == ("@port", 80)
    assert parse_map_key("@x") == ("@x", None)
    for bad in ("", "@x", "@x = pid", "@x = 1; @y = 2", "@x[1] ="):
        with pytest.raises(UsageError):
            parse_assignment(bad)
    with pytest.raises(UsageError, match="'pid' is not a number, string or tuple"):
        parse_assignment("@x = pid")
    with pytest.raises(UsageError):
        parse_map_key("80")


def spec(key, value, kind=MapKind.HASH, key_size=None, value_size=None):
    return MapSpec("@m", kind, key_size or (key.size if key else 8),
                   value_size or value.size, 16, key, value)


def test_encode_keys_and_values():
    assert encode(Int(32, False), 5) == b"\x05\0\0\0"
    assert encode(INT64, -1) == b"\xff" * 8
    assert encode(Str(4), "ab") == b"ab\0\0"
    t = Tuple((Str(3), INT64))
    assert encode(t, ("a", 2)) == b"a\0\0" + bytes(5) + (2).to_bytes(8, "little")
    assert encode_key(spec(None, INT64), None) == bytes(8)
    assert encode_key(spec(Str(4), INT64, key_size=8), "ab") == b"ab" + bytes(6)
    assert encode_value(spec(None, Str(8)), "hi") == b"hi" + bytes(6)
    count = spec(None, Agg(AggKind.COUNT), MapKind.PERCPU_HASH)
    assert encode_value(count, 7, ncpus=3) == [(7).to_bytes(8, "little"), bytes(8), bytes(8)]
    with pytest.raises(UsageError, match="does not fit uint8"):
        encode(Int(8, False), 256)
    with pytest.raises(UsageError, match="must be a string, not 5"):
        encode(Str(4), 5)
    with pytest.raises(UsageError, match='"abcd" is longer than the map.s 3-byte strings'):
        encode(Str(4), "abcd")
    with pytest.raises(UsageError, match="tuple of 2"):
        encode(t, ("a",))
    with pytest.raises(UsageError, match="@m has no keys"):
        encode_key(spec(None, INT64), 1)
    with pytest.raises(UsageError, match="@m has keys"):
        encode_key(spec(UINT64, INT64), None)
    with pytest.raises(UsageError, match="histogram"):
        encode_key(spec(UINT64, Agg(AggKind.HIST), key_size=16), 1)
    with pytest.raises(UsageError, match="avg\\(\\) values, which cannot be written"):
        encode_value(spec(None, Agg(AggKind.AVG)), 1)


# -- history, and running without prompt-toolkit -----------------------------------------

def test_history_path():
    from pytrace.repl.app import history_path
    assert history_path({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == "/s/pytrace/history"
    assert history_path({"HOME": "/h"}) == "/h/.local/state/pytrace/history"


def test_without_prompt_toolkit_one_line_says_how_to_install_it():
    code = ("import sys; sys.modules['prompt_toolkit'] = None\n"
            "from pytrace.cli import main\nsys.exit(main(['-i']))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr == ("error: the interactive REPL needs prompt-toolkit: "
                        "pip install 'pytrace[repl]'\n")
