"""The C preprocessor bpftrace runs scripts through: ``#include``,
``#define`` (object- and function-like), ``#undef``,
``#if/#ifdef/#ifndef/#elif/#else/#endif``.

Our own small one rather than a library (pcpp): the zipapp must run on the
stdlib alone, lang/ stays pure (headers are read through a callback the
caller gives), and only macros matter here: kernel types come from BTF, so
a header's declarations are skipped and only its ``#define`` lines (and the
conditionals around them) are taken. The script keeps its lines: every
directive line becomes an empty one and comments become spaces, so the
parser's line:col still point into the original script.
"""
from __future__ import annotations

import re
from typing import Callable

from ..base.diagnostics import Loc, Source, error
from ..base.record import record

#: (name, angle brackets?, directory of the including file) -> (path, text) or None
Reader = Callable[[str, bool, str], "tuple[str, str] | None"]

_IDENT = re.compile(r"[A-Za-z_]\w*")
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(\w*)(.*)$", re.S)
_MAX_DEPTH = 200


@record(frozen=True)
class Macro:
    body: str
    params: tuple[str, ...] | None = None     # None: object-like
    variadic: bool = False


def has_directives(text: str) -> bool:
    """Whether a script needs preprocessing at all (a shebang does not count)."""
    lines = text.split("\n")
    return any(_DIRECTIVE.match(line) for line in lines[1 if text.startswith("#!") else 0:])


def blank_comments(text: str) -> str:
    """Comments as spaces (newlines kept); strings and char literals untouched."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Preprocessor:
    def __init__(self, read: Reader, defines: dict[str, str] | None = None):
        self.read = read
        self.macros: dict[str, Macro] = {k: Macro(v) for k, v in (defines or {}).items()}
        self.seen_once: set[str] = set()

    # -- the script ----------------------------------------------------------------
    def script(self, text: str, name: str, includes: tuple[str, ...] = ()) -> str:
        source = Source(name, text)
        for inc in includes:
            self._include(inc, False, "", Loc(source, 1, 1, 1, 1), 0, keep=False)
        return self._run(text, source, "", 0, keep=True)

    def _run(self, text: str, source: Source, here: str, depth: int, keep: bool) -> str:
        shebang = text.startswith("#!")
        lines = blank_comments(text).split("\n")
        out: list[str] = []
        stack: list[list] = []    # [taking now, taken already, parent taking, loc, word]
        i = 0
        while i < len(lines):
            line, lineno = lines[i], i + 1
            i += 1
            m = _DIRECTIVE.match(line) if not (shebang and lineno == 1) else None
            if m is None:
                taking = all(s[0] for s in stack)
                if keep:
                    out.append(self.expand(line, source, lineno) if taking else "")
                continue
            extra = 0
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + " " + lines[i]
                i += 1
                extra += 1
            m = _DIRECTIVE.match(line)
            word, rest = m.group(1), m.group(2).strip()
            loc = Loc(source, lineno, line.index("#") + 1, lineno, len(line) + 1)
            taking = all(s[0] for s in stack)
            if word in ("if", "ifdef", "ifndef"):
                cond = taking and (self._cond(word, rest, loc))
                stack.append([cond, cond, taking, loc, word])
            elif word in ("elif", "else"):
                if not stack:
                    raise error(f"#{word} without #if", loc, "every #elif/#else follows an "
                                "#if, #ifdef or #ifndef")
                top = stack[-1]
                if top[1] or not top[2]:
                    top[0] = False
                else:
                    top[0] = word == "else" or self._cond("if", rest, loc)
                    top[1] = top[0]
            elif word == "endif":
                if not stack:
                    raise error("#endif without #if", loc, "remove it or add the #if it ends")
                stack.pop()
            elif not taking:
                pass
            elif word == "define":
                self._define(rest, loc)
            elif word == "undef":
                self.macros.pop(rest.split()[0] if rest else "", None)
            elif word == "include":
                self._include_line(rest, here, loc, depth)
            elif word == "pragma":
                if rest.split()[:1] == ["once"]:
                    self.seen_once.add(source.name)
            elif word == "error":
                raise error(f"#error {rest}", loc)
            elif word in ("warning", "line", "ident", ""):
                pass
            else:
                raise error(f"unknown preprocessor directive #{word}", loc,
                            "known: #include, #define, #undef, #if, #ifdef, #ifndef, #elif, "
                            "#else, #endif")
            if keep:
                out.extend([""] * (1 + extra))
        if stack and keep:
            raise error(f"this #{stack[-1][4]} has no #endif", stack[-1][3],
                        "end every #if, #ifdef and #ifndef with #endif")
        return "\n".join(out)

    # -- directives -------------------------------------------------------------------
    def _define(self, rest: str, loc: Loc) -> None:
        m = _IDENT.match(rest)
        if m is None:
            raise error("#define needs a macro name", loc, "write #define NAME VALUE")
        name, after = m.group(0), rest[m.end():]
        if after.startswith("("):
            close = after.find(")")
            if close < 0:
                raise error(f"macro {name}'s parameter list has no ')'", loc)
            params = [p.strip() for p in after[1:close].split(",") if p.strip()]
            variadic = bool(params) and params[-1] == "..."
            if variadic:
                params[-1] = "__VA_ARGS__"
            self.macros[name] = Macro(after[close + 1:].strip(), tuple(params), variadic)
        else:
            self.macros[name] = Macro(after.strip())

    def _include_line(self, rest: str, here: str, loc: Loc, depth: int) -> None:
        rest = self.expand(rest, loc.source, loc.line) if rest[:1] not in "<\"" else rest
        m = re.match(r'<([^>]+)>|"([^"]+)"', rest)
        if m is None:
            raise error("#include needs <FILE> or \"FILE\"", loc,
                        'write #include <linux/sched.h> or #include "my.h"')
        self._include(m.group(1) or m.group(2), m.group(1) is not None, here, loc, depth)

    def _include(self, name: str, angle: bool, here: str, loc: Loc, depth: int,
                 keep: bool = False) -> None:
        if depth >= _MAX_DEPTH:
            raise error(f"#include nested too deeply ({_MAX_DEPTH}) at {name}", loc,
                        "does a header include itself without a guard?")
        found = self.read(name, angle, here)
        if found is None:
            return                      # the caller's reader decides when that is fatal
        path, text = found
        if path in self.seen_once:
            return
        directory = path.rpartition("/")[0]
        self._run(text, Source(path, text), directory, depth + 1, keep=False)

    # -- #if expressions ----------------------------------------------------------------
    def _cond(self, word: str, rest: str, loc: Loc) -> bool:
        if word in ("ifdef", "ifndef"):
            m = _IDENT.match(rest)
            if m is None:
                raise error(f"#{word} needs a macro name", loc, f"write #{word} NAME")
            return (m.group(0) in self.macros) == (word == "ifdef")
        return self.evaluate(rest, loc) != 0

    def evaluate(self, expr: str, loc: Loc) -> int:
        expr = re.sub(r"\bdefined\s*\(\s*(\w+)\s*\)|\bdefined\s+(\w+)",
                      lambda m: "1" if (m.group(1) or m.group(2)) in self.macros else "0", expr)
        expr = self.expand(expr, loc.source, loc.line)
        try:
            return _CondParser(expr).parse()
        except (ValueError, IndexError, ZeroDivisionError):
            raise error(f"cannot evaluate #if {expr.strip()}", loc,
                        "#if takes integer constants, macros, defined(NAME) and C operators"
                        ) from None

    # -- expansion ---------------------------------------------------------------------
    def expand(self, text: str, source: Source, line: int, hidden: frozenset = frozenset()
               ) -> str:
        if not self.macros:
            return text
        out, i, n = [], 0, len(text)
        while i < n:
            c = text[i]
            if c in "\"'":
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if text[j] == "\\" else 1
                out.append(text[i:j + 1])
                i = j + 1
                continue
            m = _IDENT.match(text, i) if (c.isalpha() or c == "_") else None
            if m is None:
                out.append(c)
                i += 1
                continue
            name = m.group(0)
            macro = self.macros.get(name)
            if macro is None or name in hidden:
                out.append(name)
                i = m.end()
                continue
            if macro.params is None:
                out.append(self.expand(macro.body, source, line, hidden | {name}))
                i = m.end()
                continue
            j = m.end()
            while j < n and text[j] in " \t":
                j += 1
            if j >= n or text[j] != "(":
                out.append(name)        # a function-like macro's name alone stays
                i = m.end()
                continue
            args, i = _arguments(text, j, source, line, m.start())
            out.append(self.expand(self._substitute(macro, name, args, source, line, hidden),
                                   source, line, hidden | {name}))
        return "".join(out)

    def _substitute(self, macro: Macro, name: str, args: list[str], source: Source,
                    line: int, hidden: frozenset) -> str:
        params = macro.params or ()
        if args == [""] and not params:
            args = []
        if macro.variadic and len(args) >= len(params):
            args = args[:len(params) - 1] + [",".join(args[len(params) - 1:])]
        if len(args) != len(params) and not (macro.variadic and len(args) == len(params) - 1):
            raise error(f"macro {name}() takes {len(params)} argument(s), got {len(args)}",
                        Loc(source, line, 1, line, len(source.line(line)) + 1),
                        f"#define {name}({', '.join(params)})")
        values = dict(zip(params, (a.strip() for a in args)))
        body = re.sub(r"\s*##\s*", "\x00", macro.body)
        body = re.sub(r"#\s*([A-Za-z_]\w*)",
                      lambda m: '"' + values[m.group(1)].replace('"', '\\"') + '"'
                      if m.group(1) in values else m.group(0), body)
        body = _IDENT.sub(lambda m: self.expand(values[m.group(0)], source, line, hidden)
                          if m.group(0) in values else m.group(0), body)
        return body.replace("\x00", "")


def _arguments(text: str, j: int, source: Source, line: int, start: int
               ) -> tuple[list[str], int]:
    depth, args, cur = 0, [], []
    k = j + 1
    while k < len(text):
        ch = text[k]
        if ch in "\"'":
            e = k + 1
            while e < len(text) and text[e] != ch:
                e += 2 if text[e] == "\\" else 1
            cur.append(text[k:e + 1])
            k = e + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                args.append("".join(cur))
                return args, k + 1
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(cur))
            cur = []
            k += 1
            continue
        cur.append(ch)
        k += 1
    raise error("a macro call's arguments have no closing ')'",
                Loc(source, line, start + 1, line, len(text) + 1),
                "macro arguments must end on the same line")


_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|('(?:\\.|[^'])')"
                    r"|(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%<>&|^!~?:()]))")
#: binary operators by precedence (C's), lowest first
_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]


class _CondParser:
    """A C constant expression as #if reads it (names left are 0)."""

    def __init__(self, text: str):
        self.toks: list = []
        pos, text = 0, text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(text[pos:])
            num, name, char, op = m.groups()
            if num is not None:
                self.toks.append(int(num, 0) if not (len(num) > 1 and num[0] == "0" and
                                                     num[1].isdigit()) else int(num, 8))
            elif name is not None:
                self.toks.append(0)
            elif char is not None:
                body = char[1:-1]
                self.toks.append(ord(body[-1]) if not body.startswith("\\") else
                                 {"n": 10, "t": 9, "0": 0}.get(body[1], ord(body[1])))
            else:
                self.toks.append(op)
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def parse(self) -> int:
        value = self.ternary()
        if self.i != len(self.toks):
            raise ValueError("trailing")
        return value

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        self.i += 1
        return self.toks[self.i - 1]

    def ternary(self) -> int:
        cond = self.binary(0)
        if self.peek() == "?":
            self.take()
            a = self.ternary()
            if self.take() != ":":
                raise ValueError(":")
            b = self.ternary()
            return a if cond else b
        return cond

    def binary(self, level: int) -> int:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while isinstance(self.peek(), str) and self.peek() in _BINARY[level]:
            op = self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> int:
        tok = self.take()
        if tok == "(":
            value = self.ternary()
            if self.take() != ")":
                raise ValueError(")")
            return value
        if tok == "!":
            return int(not self.unary())
        if tok == "-":
            return -self.unary()
        if tok == "+":
            return self.unary()
        if tok == "~":
            return ~self.unary()
        if isinstance(tok, int):
            return tok
        raise ValueError(str(tok))


def _apply(op: str, a: int, b: int) -> int:
    if op in ("/", "%"):
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return q if op == "/" else a - q * b
    return {"||": lambda: int(bool(a or b)), "&&": lambda: int(bool(a and b)),
            "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
            "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
            ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
            "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b,
            "-": lambda: a - b, "*": lambda: a * b}[op]()
