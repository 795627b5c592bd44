"""The lexer's tolerant mode (pytrace.lang.lexer.tolerant_tokens), which the
REPL colours, completes and finds the end of an input with: on a program
the parser takes it yields exactly the tokens the parser reads (plus the
comments), on any text it never raises, and its tokens with the blanks
between them make up the whole text."""
import os

import pytest

from pytrace.lang import lexer
from pytrace.lang.lalr import Parser, tables
from pytrace.lang.lexer import (COMMENT, ERROR, OPEN_COMMENT, OPEN_STRING, Lexer, Nesting,
                                keywords, tolerant_tokens)
from pytrace.lang.parser import prepare
from tests.codegen.test_golden import CASES

PROGRAMS = [
    "BEGIN { printf(\"hello\\n\"); exit(); }",
    "t:syscalls:sys_enter_openat /pid == 1 && comm != \"x\"/ { @[comm] = count(); }",
    "kprobe:vfs_read, kretprobe:vfs_read /pid / 2 == 1/ { @s[tid] = nsecs; }",
    "uprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }",
    "BEGIN { $x = 1 ? 2 : 3; @t = (1, \"a\"); @u = @t.0; $p = (uint8)$x; }",
    "BEGIN { if ($1 > 0) { @x++; } else if ($# < 2) { --@x; } else { @x += 0x10; } }",
    "BEGIN { while ($i < 3) { $i++; if ($i == 2) { break; } } unroll(2) { continue; } }",
    "BEGIN { for ($kv : @m) { print($kv); } let $y = sizeof(struct task_struct); }",
    "kprobe:f { $t = (struct task_struct *)curtask; @[$t->pid] = offsetof(struct x, y); }",
    "config = { max_map_keys = 10; }\nBEGIN { @x = 1 << 3 >> 1; @y = ~1 ^ 2 | 3 & 4 % 5; }",
    "// a comment\nBEGIN /* and another */ { @x = 1; // the end\n}",
    "BEGIN < @x = 2 > 1; exit() >",
    "kprobe:f < @[comm] = count() >\nEND { clear(@); }",
    "#!/usr/bin/env pytrace\nBEGIN { @x = 1_000 + 1e3 + 0b101 + 017; }",
]


def corpus() -> list[str]:
    scripts = PROGRAMS + [c.script for c in CASES]
    example = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "firewall.pt")
    with open(example) as f:
        scripts.append(f.read())
    return scripts


def compiler_tokens(text: str) -> list[tuple]:
    """The tokens the parser reads from ``text``, as (type, text, position)."""
    t = tables()
    parser = Parser(t)
    seen = []

    def stream():
        for tok in Lexer(prepare(text), t.literals, t.keywords).tokens(parser):
            seen.append(tok)
            yield tok

    parser.parse(stream())
    assert seen[-1].type == "$END"
    return [(tok.type, str(tok), tok.start_pos, tok.line, tok.column) for tok in seen[:-1]]


def tolerant(text: str) -> list[tuple]:
    return [(tok.type, str(tok), tok.start_pos, tok.line, tok.column)
            for tok in tolerant_tokens(prepare(text), tables())]


def assert_covers(text: str) -> None:
    """The tokens, in order, cover the text but for blanks."""
    pos = 0
    for tok in tolerant_tokens(text, tables()):
        assert not text[pos:tok.start_pos].strip(), (text, tok)
        assert text[tok.start_pos:tok.start_pos + len(tok)] == tok
        assert len(tok) > 0
        pos = tok.start_pos + len(tok)
    assert not text[pos:].strip()


@pytest.mark.parametrize("text", corpus())
def test_on_a_program_the_tokens_are_the_parsers(text):
    got = [t for t in tolerant(text) if t[0] != COMMENT]
    assert got == compiler_tokens(text)


@pytest.mark.parametrize("text", corpus())
def test_every_prefix_lexes_without_raising(text):
    for end in range(len(text) + 1):
        assert_covers(prepare(text[:end]))


def types(text: str) -> list[str]:
    return [tok.type for tok in tolerant_tokens(text, tables())]


def test_what_the_compiler_rejects_is_a_token_of_its_own():
    assert tolerant('BEGIN { printf("abc); }\n@x') == [
        ("NAME", "BEGIN", 0, 1, 1), ("LBRACE", "{", 6, 1, 7), ("NAME", "printf", 8, 1, 9),
        ("LPAR", "(", 14, 1, 15), (OPEN_STRING, '"abc); }', 15, 1, 16),
        ("MAPNAME", "@x", 24, 2, 1)]
    assert tolerant("BEGIN { /* x }") == [
        ("NAME", "BEGIN", 0, 1, 1), ("LBRACE", "{", 6, 1, 7), (OPEN_COMMENT, "/* x }", 8, 1, 9)]
    assert [(t[0], t[1]) for t in tolerant("BEGIN { $ # 12ab 1.5 08 x")][2:] == [
        (ERROR, "$"), (ERROR, "#"), (ERROR, "12ab"), (ERROR, "1.5"), (ERROR, "08"),
        ("NAME", "x")]
    assert types("t:a /pid/ /* q") == ["PROBE_SPEC", "SLASH", "NAME", "MULOP", OPEN_COMMENT]


def test_after_a_syntax_error_the_context_is_guessed_from_the_braces():
    # a probe where a probe may start, even where the parser wanted '{'
    assert types("BEGIN tracepoint:sys") == ["NAME", "PROBE_SPEC"]
    # keywords inside a block after a mistake; a predicate still ends before '{'
    assert types("BEGIN { x = ; if (1) { } } k:f /1 / 2/ { while }") == [
        "NAME", "LBRACE", "NAME", "EQUAL", "SEMICOLON", "IF", "LPAR", "INT", "RPAR",
        "LBRACE", "RBRACE", "RBRACE", "PROBE_SPEC", "SLASH", "INT", "MULOP", "INT",
        "ENDPRED", "LBRACE", "WHILE", "RBRACE"]
    assert types("BEGIN { @x = 1; } } a:b") == [
        "NAME", "LBRACE", "MAPNAME", "EQUAL", "INT", "SEMICOLON", "RBRACE", "RBRACE",
        "PROBE_SPEC"]


def test_nesting():
    n = Nesting()
    assert n.top
    for t in types("t:a /pid"):
        n.step(t)
    assert n.predicate and not n.top
    for t in types("/ { if (x[1"):
        n.step(t)
    assert (n.depth, n.bracket, n.predicate) == (1, 2, False)


def test_keywords_come_from_the_grammar():
    assert keywords(tables()) == {"if", "else", "while", "for", "unroll", "return", "break",
                                  "continue", "let", "macro", "sizeof", "offsetof", "struct", "union",
                                  "enum"}
    assert "config" in tables().keywords          # a keyword only where a program starts


def test_the_compilers_lexer_still_raises():
    t = tables()
    with pytest.raises(lexer.LexError, match="unterminated comment"):
        list(Lexer("BEGIN /* x", t.literals, t.keywords).tokens(Parser(t)))
