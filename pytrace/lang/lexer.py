"""Characters to tokens for the LALR driver, without regular expressions.

The language needs context to lex: ``tracepoint:syscalls:sys_enter_*`` is one
token where a probe may start and ``a ? b:c`` three elsewhere; the ``/`` that
closes a predicate is not a division; ``if`` is a keyword where a statement
starts. Like Lark's contextual lexer, the lexer asks the parser which
terminals may come next; unlike it, it builds no regex per parser state.
Terminal names are the grammar's (``grammar.lark``).

The REPL reads the same tokens (``tolerant_tokens``) to colour, complete and
decide whether an input is finished: for input that is unfinished or wrong
that mode never raises; it also yields comments, an unclosed string or
comment, and characters that are no token, each as a token of its own.
"""
from __future__ import annotations

from .lalr import Parser, Tables, Token

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
    ("->", "ARROW"), ("++", "INCDEC"), ("--", "INCDEC"), ("..", "DOTDOT"),
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
        #: never raise (``tolerant_tokens``): an unclosed comment ends the text
        self.tolerant = False

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
                    if self.tolerant:
                        return n
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
        while True:
            self._advance_to(self._skip_blank(self.pos))
            if self.pos >= self.n:
                yield self._token("$END", self.pos)
                return
            yield self._next(parser)

    def _next(self, parser) -> Token:
        """The token at ``self.pos`` (which is not blank)."""
        text = self.text
        c = text[self.pos]
        if c in _IDENT_START:
            return self._word(parser)
        if c in _DIGITS:
            return self._number()
        if c == '"':
            return self._string()
        if c == "$":
            return self._dollar()
        if c == "@":
            end = self.pos + 1
            while end < self.n and text[end] in _IDENT:
                end += 1
            return self._token("MAPNAME", end)
        if c == "/":
            return self._slash(parser)
        return self._operator()

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
        path and keeps going until a space, ',' or a brace; a part with a '/'
        that a ':' ends is a relative path (``uprobe:./prog:f``, ``bin/prog``:
        a predicate ``/…/`` never ends in ':'); a part starting with '"' is a
        quoted name (``uprobe:/bin/bash:"echo_builtin"+0``)."""
        text, n = self.text, self.n
        while pos < n and text[pos] == ":":
            pos += 1
            if pos < n and text[pos] == "/":
                while pos < n and text[pos] not in _SPEC_STOP:
                    pos += 1
                continue
            if pos < n and text[pos] == '"':
                close = text.find('"', pos + 1)
                if close > 0 and not any(c in _SPEC_STOP for c in text[pos:close]):
                    pos = close + 1
            while pos < n and text[pos] not in _SPEC_STOP and text[pos] not in "/<>:":
                pos += 1
            if pos < n and text[pos] == "/":
                end = pos
                while end < n and text[end] not in _SPEC_STOP and text[end] != ":":
                    end += 1
                if end < n and text[end] == ":":
                    pos = end
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


# -- the tolerant mode: tokens for an editor ---------------------------------------

#: token types of ``tolerant_tokens`` beyond the grammar's terminals (COMMENT
#: is the grammar's own name for what it ignores)
COMMENT = "COMMENT"
OPEN_COMMENT = "OPEN_COMMENT"      # /* to the end of the text
OPEN_STRING = "OPEN_STRING"        # " to the end of its line
ERROR = "ERROR"                    # what the compiler's lexer rejects ('#', 12ab, $, 1.5)


class Nesting:
    """Where a token stream stands: open braces and brackets, and whether a
    probe's predicate (``/.../`` before its block) is open. ``step`` each
    token type in turn."""
    __slots__ = ("depth", "bracket", "predicate")

    def __init__(self):
        self.depth = self.bracket = 0
        self.predicate = False

    @property
    def top(self) -> bool:
        """Whether a probe (rather than an expression) may come here."""
        return self.depth <= 0 and not self.predicate

    def step(self, type_: str) -> None:
        if type_ == "LBRACE":
            self.depth += 1
            self.predicate = False
        elif type_ == "RBRACE":
            self.depth -= 1
        elif type_ in ("LPAR", "LSQB"):
            self.bracket += 1
        elif type_ in ("RPAR", "RSQB"):
            self.bracket -= 1
        elif type_ == "SLASH" and self.depth <= 0:
            self.predicate = True
        elif type_ == "ENDPRED":
            self.predicate = False


class _Context:
    """What the tolerant lexer asks in place of the parser: the parser's own
    answer while the text so far parses; after the first token the parser
    rejects, a guess from the nesting (a probe may start at the top level,
    keywords and operators come inside blocks and predicates)."""

    def __init__(self, t: Tables):
        self.t = t
        self.parser = Parser(t)
        self.stack = [t.start]
        self.parsing = True
        self.nesting = Nesting()

    def acceptable(self, terminal: str) -> bool:
        if self.parsing:
            return self.parser.accepts(self.stack, terminal)
        top = self.nesting.top
        if terminal in ("PROBE_SPEC", "SLASH"):
            return top
        if terminal == "ENDPRED":
            return self.nesting.predicate
        return terminal == "NAME" or not top

    def shift(self, token: Token) -> bool:
        """Take ``token``; False if the parser rejects it (the context
        guesses from then on, and the caller reads the token again)."""
        if self.parsing and not self._parse(token.type):
            self.parsing = False
            return False
        self.nesting.step(token.type)
        return True

    def _parse(self, terminal: str) -> bool:
        actions, rules, stack = self.t.actions, self.t.rules, self.stack
        while True:
            action = actions[stack[-1]].get(terminal)
            if action is None:
                return False
            if action >= 0:
                stack.append(action)
                return True
            origin, length, *_ = rules[-action - 1]
            if length:
                del stack[-length:]
            stack.append(actions[stack[-1]][origin])


class _TolerantLexer(Lexer):
    def scan(self, context: _Context):
        text, n = self.text, self.n
        self.tolerant = True
        while True:
            pos = self.pos
            while pos < n and text[pos] in " \t\r\n\f\v":
                pos += 1
            self._advance_to(pos)
            if pos >= n:
                return
            if text.startswith("//", pos):
                nl = text.find("\n", pos)
                yield self._token(COMMENT, n if nl < 0 else nl)
            elif text.startswith("/*", pos):
                close = text.find("*/", pos + 2)
                yield self._token(OPEN_COMMENT, n) if close < 0 else \
                    self._token(COMMENT, close + 2)
            else:
                yield self._read(context)

    def _read(self, context: _Context) -> Token:
        mark = (self.pos, self.line, self.line_start)
        token = self._attempt(context, mark)
        if isinstance(token, Token) and context.shift(token):
            return token
        context.parsing = False          # the compiler would stop here: guess on
        self.pos, self.line, self.line_start = mark
        token = self._attempt(context, mark)
        if not isinstance(token, Token):
            token = self._error(token)
        context.shift(token)
        return token

    def _attempt(self, context: _Context, mark) -> Token | LexError:
        try:
            return self._next(context)
        except LexError as exc:
            self.pos, self.line, self.line_start = mark
            return exc

    def _error(self, exc: LexError) -> Token:
        text, pos = self.text, self.pos
        if text[pos] == '"':
            nl = text.find("\n", pos)
            return self._token(OPEN_STRING, self.n if nl < 0 else nl)
        return self._token(ERROR, min(pos + max(exc.width, 1), self.n))


def tolerant_tokens(text: str, t: Tables) -> list[Token]:
    """Every token of ``text`` as the compiler's lexer reads it, plus
    COMMENT, OPEN_COMMENT, OPEN_STRING and ERROR tokens, without ``$END``;
    never raises. Each token covers ``text[start_pos:start_pos + len(token)]``,
    so the tokens and the blanks between them make up the whole text."""
    return list(_TolerantLexer(text, t.literals, t.keywords).scan(_Context(t)))


def keywords(t: Tables) -> frozenset[str]:
    """The words statements and expressions reserve: the grammar's keywords
    that come inside a block (so not ``config``, which opens a program) and
    ``struct``, ``union``, ``enum``."""
    in_block: set[str] = set()
    for row in t.actions:
        if "RBRACE" in row:
            in_block.update(row)
    return frozenset(w for w, terminal in t.keywords.items() if terminal in in_block) \
        | _STRUCT_WORDS
