"""Text to AST: the LALR tables Lark builds from grammar.lark, a context-aware
lexer, and friendly syntax errors.

Lark is the grammar compiler; its tables are exported once as plain data
(see ``lalr.py``), so parsing at start-up never imports Lark.
"""
from __future__ import annotations

from ..base.diagnostics import CompileError, Diagnostic, Loc, Severity, Source
from . import ast as A
from .angles import rewrite_angle_bodies
from ..base.nesting import deep_stack
from .lalr import NestingError, ParseError, Parser, tables
from .lexer import LexError, Lexer
from .macros import block_value, expand_macros


def prepare(text: str) -> str:
    """Blank a ``#!`` first line and turn angle-bracket bodies into braces
    (both keep every character's position)."""
    if text.startswith("#!"):
        end = text.find("\n")
        end = len(text) if end < 0 else end
        text = " " * end + text[end:]
    return rewrite_angle_bodies(text)


def parse(text: str, name: str = "-e") -> A.Program:
    source = Source(name, text)
    t = tables()
    parser = Parser(t)
    lexer = Lexer(prepare(text), t.literals, t.keywords)
    try:
        tree = parser.parse(lexer.tokens(parser))
    except LexError as exc:
        loc = _point(source, exc.line, exc.column, exc.width)
        raise CompileError(Diagnostic(Severity.ERROR, str(exc), loc, exc.hint)) from None
    except ParseError as exc:
        raise CompileError(_syntax_error(t.literals, exc, source)) from None
    except NestingError as exc:
        raise CompileError(nesting_error(source, exc.where.line, exc.where.column,
                                         exc.limit)) from None
    with deep_stack():
        return _Builder(source).build(tree)


def nesting_error(source: Source, line: int, column: int, limit: int) -> Diagnostic:
    return Diagnostic(Severity.ERROR, f"nested too deeply: more than {limit} levels",
                      _point(source, line, column),
                      "split the expression or the blocks, e.g. into variables "
                      "assigned one after another")


# -- syntax errors ------------------------------------------------------------

_WORDS = {
    "NAME": "a name", "INT": "a number", "STRING": "a string",
    "VAR": "a variable", "MAPNAME": "a map", "PROBE_SPEC": "a probe",
    "POSITIONAL": "a positional parameter", "ENDPRED": "'/' closing the predicate",
    "AUGOP": "an assignment operator", "INCDEC": "'++' or '--'",
    "EQOP": "'==' or '!='", "RELOP": "a comparison", "SHIFTOP": "a shift",
    "ADDOP": "'+' or '-'", "MULOP": "'/' or '%'", "UNARYOP": "'!' or '~'",
    "INTTYPE": "a type", "STRUCTKW": "'struct'", "$END": "the end of the program",
}
#: tokens that can start an expression; when most are expected, say "an expression"
_EXPR_START = {"INT", "STRING", "VAR", "MAPNAME", "NAME", "LPAR", "ADDOP", "UNARYOP",
               "POSITIONAL", "PARAMCOUNT", "STAR", "AMP", "SIZEOF", "OFFSETOF"}
#: tokens that continue an operand (a call's '(', an index's '[', a field's '.')
_CONTINUATIONS = {"LPAR", "LSQB", "DOT", "ARROW"}
#: tokens that start an operand and can never continue one
_OPERAND_START = {"INT", "STRING", "VAR", "MAPNAME", "NAME", "POSITIONAL", "PARAMCOUNT",
                  "UNARYOP"}
_STMT_START = {"IF", "WHILE", "UNROLL", "FOR", "BREAK", "CONTINUE", "RETURN", "LET",
               "INCDEC", "LBRACE"}
#: operators that may continue an expression; left unsaid when a statement
#: could also end here (a person expects "';' or '}'", not a list of operators)
_OPERATORS = {"OROR", "ANDAND", "PIPE", "CARET", "AMP", "EQOP", "RELOP", "SHIFTOP",
              "ADDOP", "MULOP", "STAR", "ARROW", "DOT", "LSQB", "QMARK", "AUGOP",
              "INCDEC"}


def _describe(literals: dict[str, str], terminal: str) -> str:
    if terminal in _WORDS:
        return _WORDS[terminal]
    if terminal in literals:
        return f"'{literals[terminal]}'"
    return terminal.lower()


def _expected(literals: dict[str, str], expected) -> str:
    names = set(expected)
    words = []
    if len(names & _OPERAND_START) >= 3:
        names -= _EXPR_START
        if names & (_STMT_START - {"LBRACE", "INCDEC"}):    # both also start values
            names -= _STMT_START
            words.append("a statement")
        else:
            names -= {"LBRACE", "INCDEC"}
            words.append("an expression")
    rest = names - _OPERATORS - _CONTINUATIONS
    if rest and rest != names:
        names = rest
    elif names and names <= _OPERATORS:
        names, words = set(), words + ["an operator"]
    words += sorted({_describe(literals, n) for n in names})
    if not words:
        return ""
    if len(words) > 6:
        words = words[:6] + ["…"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _point(source: Source, line: int, col: int, width: int = 1) -> Loc:
    return Loc(source, line, col, line, col + width)


def _syntax_error(literals: dict[str, str], exc: ParseError, source: Source) -> Diagnostic:
    token = exc.token
    accepts = exc.accepts or exc.expected
    if token.type == "$END":
        if exc.previous is None:
            return Diagnostic(Severity.ERROR, "the program is empty", Loc(source, 0, 0, 0, 0),
                              'write at least one probe, e.g. BEGIN { printf("hello\\n"); }')
        lines = source.text.rstrip().split("\n")
        loc = _point(source, len(lines), len(lines[-1]) + 1)
        want = _expected(literals, accepts)
        hint = "a '{' is not closed" if "RBRACE" in accepts else None
        return Diagnostic(Severity.ERROR, "unexpected end of program"
                          + (f": expected {want}" if want else ""), loc, hint)
    prev = exc.previous
    if prev is not None and prev.type == "NAME" and prev == "else":
        return Diagnostic(Severity.ERROR, "'else' without 'if'",
                          _point(source, prev.line, prev.column, 4))
    width = max(len(str(token)), 1)
    loc = _point(source, token.line, token.column, width)
    want = _expected(literals, accepts)
    message = f"unexpected '{token}'" + (f": expected {want}" if want else "")
    return Diagnostic(Severity.ERROR, message, loc, _hint_for(token, accepts, exc.previous))


def _hint_for(token, expected, previous=None) -> str | None:
    if previous is not None and previous.type == "NAME" and (
            token.type in ("EQUAL", "AUGOP", "INCDEC")):
        return (f"a variable is written ${previous} and a map @{previous}; "
                f"'{previous}' alone names a builtin")
    if "SEMICOLON" in expected and "RBRACE" in expected:
        return "separate statements with ';'"
    if token.type == "MULOP" and token == "/" and "ENDPRED" in expected:
        return "a predicate is written /expr/ right before the probe's '{'"
    if "PROBE_SPEC" in expected:
        return "a program is a list of probes: PROBE [/predicate/] { statements }"
    return None


# -- tree to AST ------------------------------------------------------------

def _unescape(raw: str) -> str:
    """A string token's text (with quotes) to its value."""
    body, out, i = raw[1:-1], [], 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
              "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b"}
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 == len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x":
            digits = body[i + 2:i + 4]
            n = 0
            while n < len(digits) and digits[n] in "0123456789abcdefABCDEF":
                n += 1
            out.append(chr(int(digits[:n], 16)) if n else "x")
            i += 2 + n
        elif nxt in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i + 1:j], 8) & 0xFF))
            i = j
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


#: a literal's value when it is too long to be worth computing: any value
#: of 2**64 or more is reported as "does not fit in 64 bits" by the checker
TOO_BIG = 1 << 64
#: longer digit strings cannot fit in 64 bits in any base (64 binary digits)
_MAX_DIGITS = 70


def parse_int(text: str) -> int:
    t = text.replace("_", "")
    if t[:2] in ("0x", "0X"):
        return int(t[2:], 16) if len(t) <= _MAX_DIGITS else TOO_BIG
    if t[:2] in ("0b", "0B"):
        return int(t[2:], 2) if len(t) <= _MAX_DIGITS else TOO_BIG
    if "e" in t or "E" in t:
        mant, exp = t.lower().split("e")
        if len(mant) > _MAX_DIGITS or len(exp) > 3:
            return TOO_BIG if mant.strip("0") else 0
        m, e = int(mant), int(exp)
        return m * 10 ** e if m == 0 or e <= _MAX_DIGITS else TOO_BIG
    if len(t.lstrip("0")) > _MAX_DIGITS:
        return TOO_BIG
    if len(t) > 1 and t[0] == "0":
        return int(t, 8)            # a leading 0 means octal, as in C and bpftrace
    return int(t, 10)


_BOOLEANS = {"true": 1, "false": 0}


def _statement(e: A.Expr, loc: Loc) -> A.Stmt:
    """An expression as a statement; ``c ? printf("a") : printf("b");`` runs
    one branch, as an ``if`` would (bpftrace's statement ternary)."""
    if isinstance(e, A.Ternary):
        return A.If(e.cond, A.Block((_statement(e.then, e.then.loc),), e.then.loc),
                    A.Block((_statement(e.orelse, e.orelse.loc),), e.orelse.loc), loc)
    return A.ExprStmt(e, loc)


class _Builder:
    """Turns Lark's parse tree into ``ast`` nodes, one method per rule."""

    def __init__(self, source: Source):
        self.source = source

    # -- helpers
    def loc(self, node) -> Loc:
        if hasattr(node, "meta"):
            m = node.meta
            if getattr(m, "empty", True):
                return Loc(self.source, 0, 0, 0, 0)
            return Loc(self.source, m.line, m.column, m.end_line, m.end_column)
        return Loc(self.source, node.line, node.column, node.end_line, node.end_column)

    def build(self, tree) -> A.Program:
        return self.visit(tree)

    def visit(self, node):
        if node is None:
            return None
        if not hasattr(node, "data"):
            return node                   # a token, used by the parent
        return getattr(self, node.data)(node, node.children)

    def exprs(self, args_tree) -> tuple:
        if args_tree is None:
            return ()
        return tuple(self.visit(c) for c in args_tree.children)

    # -- top level
    def start(self, t, ch):
        config: tuple = ()
        probes, macros = [], []
        for c in ch:
            if c.data == "config":
                config = self.visit(c)
            elif c.data == "macro_def":
                macros.append(self.visit(c))
            else:
                probes.append(self.visit(c))
        program = A.Program(tuple(probes), config, self.loc(t))
        return expand_macros(program, macros)

    def macro_def(self, t, ch):
        params = tuple(str(c) for c in ch[1:-1] if c is not None)
        return A.MacroDef(str(ch[0]), params, self.visit(ch[-1]), self.loc(t), self.loc(ch[0]))

    def block_value(self, t, ch):
        return block_value(self.visit(ch[0]))

    def for_range(self, t, ch):
        return (self.visit(ch[0]), self.visit(ch[2]))

    def config(self, t, ch):
        return tuple(self.visit(c) for c in ch)

    def config_item(self, t, ch):
        name, value = ch
        if value.type == "INT":
            val: int | str = parse_int(value)
        elif value.type == "STRING":
            val = _unescape(value)
        else:
            val = str(value)
        return A.ConfigItem(str(name), val, self.loc(t))

    def probe(self, t, ch):
        specs = self.visit(ch[0])
        pred = self.visit(ch[1]) if len(ch) == 3 else None
        body = self.visit(ch[-1])
        return A.Probe(specs, pred, body, self.loc(t))

    def probe_list(self, t, ch):
        return tuple(self.visit(c) for c in ch)

    def probe_spec(self, t, ch):
        return A.ProbeSpec(str(ch[0]), self.loc(ch[0]))

    def predicate(self, t, ch):
        return self.visit(ch[0])

    # -- statements
    def block(self, t, ch):
        stmts = tuple(self.visit(c) for c in ch if c is not None and not (
            hasattr(c, "data") and c.data == "empty_stmt"))
        return A.Block(stmts, self.loc(t))

    def empty_stmt(self, t, ch):
        return None

    def if_stmt(self, t, ch):
        orelse = self.visit(ch[2]) if len(ch) > 2 else None
        return A.If(self.visit(ch[0]), self.visit(ch[1]), orelse, self.loc(t))

    def unroll_stmt(self, t, ch):
        return A.Unroll(self.visit(ch[0]), self.visit(ch[1]), self.loc(t))

    def while_stmt(self, t, ch):
        return A.While(self.visit(ch[0]), self.visit(ch[1]), self.loc(t))

    def for_stmt(self, t, ch):
        var = A.Var(str(ch[0])[1:], self.loc(ch[0]))
        source = self.visit(ch[1])
        if isinstance(source, tuple):
            return A.ForRange(var, *source, self.visit(ch[2]), self.loc(t))
        return A.ForMap(var, source, self.visit(ch[2]), self.loc(t))

    def assign_map(self, t, ch):
        return A.AssignMap(self.visit(ch[0]), self.visit(ch[1]), self.loc(t))

    def assign_var(self, t, ch):
        var = A.Var(str(ch[0])[1:], self.loc(ch[0]))
        return A.AssignVar(var, self.visit(ch[1]), self.loc(t))

    def declare_var(self, t, ch):
        var = A.Var(str(ch[0])[1:], self.loc(ch[0]))
        value = self.visit(ch[1]) if len(ch) > 1 else None
        return A.DeclareVar(var, value, self.loc(t))

    def compound_assign(self, t, ch):
        target, op, value = ch
        return A.CompoundAssign(self.visit(target), str(op)[:-1], self.visit(value), self.loc(t))

    def _incdec(self, t, target, op, post: bool):
        one = A.IntLit(1, self.loc(op))
        assign = A.CompoundAssign(self.visit(target), str(op)[0], one, self.loc(t))
        return A.IncDec(assign, post, self.loc(t))

    def incdec_post(self, t, ch):
        return self._incdec(t, ch[0], ch[1], True)

    def incdec_pre(self, t, ch):
        return self._incdec(t, ch[1], ch[0], False)

    def break_stmt(self, t, ch):
        return A.Break(self.loc(t))

    def continue_stmt(self, t, ch):
        return A.Continue(self.loc(t))

    def return_stmt(self, t, ch):
        return A.Return(self.loc(t))

    def expr_stmt(self, t, ch):
        e = self.visit(ch[0])
        if isinstance(e, A.IncDec):         # x++ as a statement: x += 1
            return e.assign
        return _statement(e, self.loc(t))

    # -- expressions
    def int_lit(self, t, ch):
        return A.IntLit(parse_int(ch[0]), self.loc(t))

    def str_lit(self, t, ch):
        return A.StrLit("".join(_unescape(s) for s in ch), self.loc(t))

    def var(self, t, ch):
        return A.Var(str(ch[0])[1:], self.loc(t))

    def positional(self, t, ch):
        return A.Positional(int(str(ch[0])[1:]), self.loc(t))

    def param_count(self, t, ch):
        return A.ParamCount(self.loc(t))

    def builtin(self, t, ch):
        if ch[0] in _BOOLEANS:                  # current bpftrace's true and false
            return A.IntLit(_BOOLEANS[ch[0]], self.loc(t))
        return A.Builtin(str(ch[0]), self.loc(t))

    def map_ref(self, t, ch):
        keys = self.exprs(ch[1]) if len(ch) > 1 else ()
        return A.MapRef(str(ch[0]), keys, self.loc(t))

    def call(self, t, ch):
        return A.Call(str(ch[0]), self.exprs(ch[1]), self.loc(t), self.loc(ch[0]))

    def binary(self, t, ch):
        left, op, right = ch
        return A.Binary(str(op), self.visit(left), self.visit(right), self.loc(t))

    def unary(self, t, ch):
        return A.Unary(str(ch[0]), self.visit(ch[1]), self.loc(t))

    def deref(self, t, ch):
        return A.Deref(self.visit(ch[1]), self.loc(t))

    def addr_of(self, t, ch):
        return A.AddrOf(self.visit(ch[1]), self.loc(t))

    def ternary(self, t, ch):
        return A.Ternary(*(self.visit(c) for c in ch), loc=self.loc(t))

    def cast(self, t, ch):
        return A.Cast(self.visit(ch[0]), self.visit(ch[1]), self.loc(t))

    def type_name(self, t, ch):
        words = [str(c) for c in ch if c.type != "STAR"]
        stars = sum(1 for c in ch if c.type == "STAR")
        return A.TypeName(" ".join(words), stars, self.loc(t))

    def field_access(self, t, ch):
        if len(ch) == 3:
            return A.FieldAccess(self.visit(ch[0]), str(ch[2]), True, self.loc(t))
        return A.FieldAccess(self.visit(ch[0]), str(ch[1]), False, self.loc(t))

    def tuple_index(self, t, ch):
        return A.TupleIndex(self.visit(ch[0]), parse_int(ch[1]), self.loc(t))

    def index(self, t, ch):
        return A.Index(self.visit(ch[0]), self.visit(ch[1]), self.loc(t))

    def tuple_expr(self, t, ch):
        return A.TupleExpr(tuple(self.visit(c) for c in ch if c is not None), self.loc(t))

    def sizeof_expr(self, t, ch):
        return A.Sizeof(self.visit(ch[0]), self.loc(t))

    def offsetof_expr(self, t, ch):
        return A.Offsetof(self.visit(ch[0]), str(ch[1]), self.loc(t))
