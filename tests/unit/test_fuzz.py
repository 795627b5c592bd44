"""A grammar-aware fuzzer: the examples and the test suite's scripts,
mutated token by token with the grammar's own words (operators, keywords,
builtins, extreme literals), spliced into each other and nested deeply,
compiled through the library against the fake machine (no kernel). Every
case must compile or raise a PytraceError: no traceback, no hang.

Deterministic by default (``PYTRACE_FUZZ_SEED``, ``PYTRACE_FUZZ_CASES``
change the seed and the count); 2,000 cases take well under a minute.
"""
from __future__ import annotations

import ast
import io
import os
import random
import re
import signal
import traceback
from pathlib import Path

import pytest

from pytrace.base.diagnostics import PytraceError
from pytrace.lang.builtins import registry
from pytrace.lang.lalr import tables
from pytrace.render.output import make_printer
from pytrace.runtime.compiling import compile_script
from pytrace.runtime.options import Options
from tests.netfakes import net_kernel

REPO = Path(__file__).resolve().parents[2]
CASES = int(os.environ.get("PYTRACE_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("PYTRACE_FUZZ_SEED", "14"))
#: seconds one case may take before it counts as a hang
HANG = 10

_PROBE_START = re.compile(r"^\s*(BEGIN|END|tracepoint:|t:|kprobe:|k:|kretprobe:|kfunc:|fentry:|"
                          r"uprobe:|u:|uretprobe:|usdt:|xdp:|tc:|interval:|i:|profile:|p:|"
                          r"rawtracepoint:|software:|s:|hardware:|h:|config)")
TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|0[xX][0-9a-fA-F]+|\d+|[@$]?[A-Za-z_][A-Za-z0-9_]*'
                   r"|->|<<=|>>=|&&|\|\||[=!<>+\-*/%&|^]=|<<|>>|\+\+|--|\s+|.", re.S)


def seeds() -> list[str]:
    """The examples, and every string in the tests that reads as a script."""
    out = [p.read_text() for p in sorted((REPO / "examples").glob("*.pt"))]
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name == "test_fuzz.py":
            continue
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    "{" in node.value and _PROBE_START.match(node.value)
                    and len(node.value) < 4000):
                out.append(node.value)
    return sorted(set(out))


def words() -> list[str]:
    t = tables()
    pool = sorted(set(t.literals.values()))
    pool += registry().names()
    pool += ["0", "1", "-1", "63", "64", "255", "256", str(1 << 63), str(1 << 64),
             "9" * 40, "0x" + "f" * 20, "1e30", "0b101", "077", "1_000",
             '""', '"%s %d %n %*d %-+#0 30.20lld"', '"' + "x" * 3000 + '"', '"\\x"',
             "$x", "$y", "@m", "@", "@m[1]", "$1", "$#", "args", "args->count", "pid",
             "comm", "retval", "arg0", "ctx", "curtask", "nsecs", "kstack", "ustack",
             "ip.saddr", "tcp.dport", "pkt.len", "drop", "pass", "tx", "BEGIN", "END",
             "struct", "sizeof", "offsetof", "(uint8)", "*", "&", "if", "else", "while",
             "unroll", "for", "let", "return", "break", "continue", ";", "{", "}", "(",
             ")", "[", "]", ",", ":", "?", "/", "\n", "#", "//", "/*", "*/"]
    return pool


INTS = ["0", "1", "-1", "7", "63", "64", "255", "256", "65536", str((1 << 31) - 1),
        str(1 << 32), str((1 << 63) - 1), str(1 << 63), str((1 << 64) - 1), "0x7f", "010"]
OPERATORS = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", ">", "<=",
             ">=", "&&", "||"]


def _same_kind(rng: random.Random, tok: str, pool: list[str]) -> str:
    """Another token of the same kind: a number for a number, an operator
    for an operator, a builtin for a name (the script stays parseable)."""
    if tok.isdigit() or tok.startswith("0x"):
        return rng.choice(INTS)
    if tok in OPERATORS:
        return rng.choice(OPERATORS)
    if tok.isidentifier():
        return rng.choice(registry().names())
    if tok.startswith('"'):
        return rng.choice(['""', '"%d %s"', '"%llx %-20s %c"', '"' + "y" * 2000 + '"'])
    return tok


def mutate(rng: random.Random, text: str, others: list[str], pool: list[str]) -> str:
    toks = TOKEN.findall(text) or [""]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        i = rng.randrange(len(toks))
        j = min(len(toks), i + rng.randint(1, 8))
        if rng.random() < 0.4:
            toks[i] = _same_kind(rng, toks[i], pool)
            continue
        op = rng.random()
        if op < 0.2:
            del toks[i:j]
        elif op < 0.4:
            toks[i] = rng.choice(pool)
        elif op < 0.55:
            toks.insert(i, rng.choice(pool) + rng.choice(["", " "]))
        elif op < 0.65:
            toks[i:i] = toks[i:j]
        elif op < 0.75:
            other = TOKEN.findall(rng.choice(others)) or [""]
            k = rng.randrange(len(other))
            toks = toks[:i] + other[k:]
        elif op < 0.85:
            k = rng.choice([1, 2, 10, 100, 600, 1200])
            left, right = rng.choice([("(", ")"), ("{ ", " }"), ("if (1) { ", " }"),
                                      ("!", ""), ("-", ""), ("1 ? ", " : 0"), ("~", "")])
            toks[i:j] = [left * k] + toks[i:j] + [right * k]
        elif op < 0.92:
            k = rng.choice([2, 50, 500, 3000])
            toks.insert(i, rng.choice(["1+", "$x*", "@m[1]+", "\"a\",", "1 ? 2 : "]) * k)
        else:
            if toks:
                a, b = rng.randrange(len(toks)), rng.randrange(len(toks))
                toks[a], toks[b] = toks[b], toks[a]
        if not toks:
            toks = [""]
    return "".join(toks)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_case(kernel, text: str, dump: frozenset) -> str | None:
    """None when the case compiled or raised a PytraceError, else what went wrong."""
    printer = make_printer("text", io.StringIO(), io.StringIO())
    options = Options(text, "-e", params=["1", "abc"], dump=dump)
    signal.alarm(HANG)
    try:
        compile_script(options, kernel, {}, printer, dump_out=io.StringIO())
    except PytraceError:
        pass
    except Hang:
        return f"hang (> {HANG} s)"
    except BaseException:
        return traceback.format_exc(limit=-6)
    finally:
        signal.alarm(0)
    return None


def _compiles(kernel, text: str) -> bool:
    printer = make_printer("text", io.StringIO(), io.StringIO())
    try:
        compile_script(Options(text, "-e", params=["1", "abc"]), kernel, {}, printer,
                       dump_out=io.StringIO())
        return True
    except Exception:
        return False


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM")
def test_fuzzed_scripts_never_raise_a_traceback_or_hang():
    rng = random.Random(SEED)
    kernel = net_kernel()
    every = seeds()
    # mutate scripts that compile, so most mutants get past the parser
    base = [t for t in every if _compiles(kernel, t)]
    assert len(base) > 100, f"too few seed scripts compile ({len(base)} of {len(every)})"
    pool = words()
    old = signal.signal(signal.SIGALRM, _alarm)
    failures = []
    try:
        for n in range(CASES):
            text = mutate(rng, rng.choice(base), every, pool)
            dump = frozenset(("ast", "ir", "asm")) if n % 10 == 0 else frozenset()
            why = run_case(kernel, text, dump)
            if why is not None:
                failures.append((text, why))
                if len(failures) >= 5:
                    break
    finally:
        signal.signal(signal.SIGALRM, old)
    shown = "\n\n".join(f"script: {t[:600]!r}\n{w}" for t, w in failures)
    assert not failures, f"{len(failures)} fuzzed scripts failed (seed {SEED}):\n{shown}"
