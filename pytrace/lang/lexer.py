"""Characters to tokens for the LALR driver, without regular expressions.

The language needs context to lex: ``tracepoint:syscalls:sys_enter_*`` is one
token where a probe may start and ``a ? b:c`` three elsewhere; the ``/`` that
closes a predicate is not a division; ``if`` is a keyword where a statement
starts. Like Lark's contextual lexer, the lexer asks the parser which
terminals may come next; unlike it, it builds no regex per parser state.
Terminal names are the grammar's (``grammar.lark``).
"""
from __future__ import annotations

from .lalr import Token

_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_HEX = _DIGITS | frozenset("abcdefABCDEF_")
_INT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                        "uint64", "bool"})
_STRUCT_WORDS = frozenset({"struct", "union", "enum"})
_SPEC_STOP = frozenset(" \t\r\n\f\v,{}")

#: operator spellings, longest first, and their terminals
_OPERATORS = [
    ("<<=", "AUGOP"), (">>=", "AUGOP"),
    ("->", "ARROW"), ("++", "INCDEC"), ("--", "INCDEC"),
    ("+=", "AUGOP"), ("-=", "AUGOP"), ("*=", "AUGOP"), ("/=", "AUGOP"), ("%=", "AUGOP"),
    ("&=", "AUGOP"), ("|=", "AUGOP"), ("^=", "AUGOP"),
    ("||", "OROR"), ("&&", "ANDAND"), ("==", "EQOP"), ("!=", "EQOP"),
    ("<=", "RELOP"), (">=", "RELOP"), ("<<", "SHIFTOP"), (">>", "SHIFTOP"),
    ("<", "RELOP"), (">", "RELOP"), ("+", "ADDOP"), ("-", "ADDOP"), ("%", "MULOP"),
    ("*", "STAR"), ("!", "UNARYOP"), ("~", "UNARYOP"), ("|", "PIPE"), ("^", "CARET"),
    ("&", "AMP"),
]


class LexError(Exception):
    def __init__(self, message: str, line: int, column: int, hint: str | None = None,
                 width: int = 1):
        super().__init__(message)
        self.line, self.column, self.hint, self.width = line, column, hint, width


class Lexer:
    def __init__(self, text: str, literals: dict[str, str], keywords: dict[str, str]):
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.punct = {v: k for k, v in literals.items() if not v.isidentifier()}
        self.keywords = keywords

    # -- positions
    def _advance_to(self, end: int) -> None:
        text = self.text
        nl = text.find("\n", self.pos, end)
        while nl >= 0:
            self.line += 1
            self.line_start = nl + 1
            nl = text.find("\n", nl + 1, end)
        self.pos = end

    def _token(self, type_: str, end: int) -> Token:
        start, line, col = self.pos, self.line, self.pos - self.line_start + 1
        self._advance_to(end)
        return Token(type_, self.text[start:end], line, col, self.line,
                     self.pos - self.line_start + 1, start)

    def _skip_blank(self, pos: int) -> int:
        text, n = self.text, self.n
        while pos < n:
            c = text[pos]
            if c in " \t\r\n\f\v":
                pos += 1
            elif text.startswith("//", pos):
                nl = text.find("\n", pos)
                pos = n if nl < 0 else nl
            elif text.startswith("/*", pos):
                close = text.find("*/", pos + 2)
                if close < 0:
                    self._advance_to(pos)
                    raise LexError("unterminated comment", self.line,
                                   pos - self.line_start + 1, "close it with */")
                pos = close + 2
            else:
                break
        return pos

    # -- the token stream
    def tokens(self, parser):
        """Yield tokens; ``parser.acceptable(terminal)`` decides context."""
        text = self.text
        while True:
            self._advance_to(self._skip_blank(self.pos))
            if self.pos >= self.n:
                yield self._token("$END", self.pos)
                return
            c = text[self.pos]
            if c in _IDENT_START:
                yield self._word(parser)
            elif c in _DIGITS:
                yield self._number()
            elif c == '"':
                yield self._string()
            elif c == "$":
                yield self._dollar()
            elif c == "@":
                end = self.pos + 1
                while end < self.n and text[end] in _IDENT:
                    end += 1
                yield self._token("MAPNAME", end)
            elif c == "/":
                yield self._slash(parser)
            else:
                yield self._operator()

    def _word(self, parser) -> Token:
        text, start = self.text, self.pos
        end = start + 1
        while end < self.n and text[end] in _IDENT:
            end += 1
        word = text[start:end]
        if end < self.n and text[end] == ":" and parser.acceptable("PROBE_SPEC"):
            return self._token("PROBE_SPEC", self._spec_end(end))
        if word in _INT_TYPES and parser.acceptable("INTTYPE"):
            return self._token("INTTYPE", end)
        if word in _STRUCT_WORDS and parser.acceptable("STRUCTKW"):
            return self._token("STRUCTKW", end)
        keyword = self.keywords.get(word)
        if keyword is not None and (parser.acceptable(keyword) or not parser.acceptable("NAME")):
            return self._token(keyword, end)
        return self._token("NAME", end)

    def _spec_end(self, pos: int) -> int:
        """The end of ``provider:part:part``; a part starting with '/' is a
        path and keeps going until a space, ',' or a brace."""
        text, n = self.text, self.n
        while pos < n and text[pos] == ":":
            pos += 1
            if pos < n and text[pos] == "/":
                while pos < n and text[pos] not in _SPEC_STOP:
                    pos += 1
            else:
                while pos < n and text[pos] not in _SPEC_STOP and text[pos] not in "/<>:":
                    pos += 1
        return pos

    def _number(self) -> Token:
        text, pos, n = self.text, self.pos, self.n
        if text.startswith(("0x", "0X"), pos):
            end = pos + 2
            while end < n and text[end] in _HEX:
                end += 1
        elif text.startswith(("0b", "0B"), pos) and pos + 2 < n and text[pos + 2] in "01":
            end = pos + 2
            while end < n and text[end] in "01_":
                end += 1
        else:
            end = pos
            while end < n and (text[end] in _DIGITS or text[end] == "_"):
                end += 1
            if end + 1 < n and text[end] in "eE" and text[end + 1] in _DIGITS:
                end += 1
                while end < n and text[end] in _DIGITS:
                    end += 1
        literal = text[pos:end].replace("_", "")
        if end < n and text[end] in _IDENT:
            bad = end
            while bad < n and text[bad] in _IDENT:
                bad += 1
            self._fail(f"'{text[pos:bad]}' is not a number", pos, bad - pos)
        after_dot = pos > 0 and text[pos - 1] == "."      # t.1.0: tuple indexes
        if not after_dot and end + 1 < n and text[end] == "." and text[end + 1] in _DIGITS:
            frac = end + 1
            while frac < n and text[frac] in _DIGITS:
                frac += 1
            self._fail("floating-point numbers are not supported", pos, frac - pos,
                       "the language has integers only")
        if len(literal) > 1 and literal[0] == "0" and literal.isdigit() and \
                not set(literal) <= set("01234567"):
            self._fail(f"'{text[pos:end]}' is not a number", pos, end - pos,
                       "a leading 0 means octal (digits 0 to 7)")
        return self._token("INT", end)

    def _fail(self, message: str, pos: int, width: int = 1, hint: str | None = None):
        self._advance_to(pos)
        raise LexError(message, self.line, pos - self.line_start + 1, hint, width)

    def _string(self) -> Token:
        text, pos, n = self.text, self.pos + 1, self.n
        while pos < n and text[pos] != '"':
            if text[pos] == "\n":
                break
            pos += 2 if text[pos] == "\\" else 1
        if pos >= n or text[pos] != '"':
            raise LexError("unterminated string", self.line, self.pos - self.line_start + 1,
                           'close the string with " on the same line')
        return self._token("STRING", pos + 1)

    def _dollar(self) -> Token:
        text, pos, n = self.text, self.pos, self.n
        if text.startswith("$#", pos):
            return self._token("PARAMCOUNT", pos + 2)
        end = pos + 1
        if end < n and text[end] in _DIGITS:
            while end < n and text[end] in _DIGITS:
                end += 1
            return self._token("POSITIONAL", end)
        if end < n and text[end] in _IDENT_START:
            while end < n and text[end] in _IDENT:
                end += 1
            return self._token("VAR", end)
        raise LexError("'$' must start a variable ($name) or a parameter ($1, $#)", self.line,
                       pos - self.line_start + 1)

    def _slash(self, parser) -> Token:
        pos = self.pos
        if parser.acceptable("ENDPRED"):
            after = self._skip_blank(pos + 1)
            if after < self.n and self.text[after] == "{":
                return self._token("ENDPRED", pos + 1)
        if self.text.startswith("/=", pos):
            return self._token("AUGOP", pos + 2)
        if parser.acceptable("SLASH") and not parser.acceptable("MULOP"):
            return self._token("SLASH", pos + 1)
        return self._token("MULOP", pos + 1)

    def _operator(self) -> Token:
        text, pos = self.text, self.pos
        for spelling, terminal in _OPERATORS:
            if text.startswith(spelling, pos):
                return self._token(terminal, pos + len(spelling))
        c = text[pos]
        terminal = self.punct.get(c)
        if terminal is None:
            raise LexError(f"unexpected character '{c}'", self.line, pos - self.line_start + 1)
        return self._token(terminal, pos + 1)
