"""LALR(1) tables from grammar.lark, and the driver that runs them.

Lark compiles the grammar: its LALR analysis gives the parse table and its
rules say how each reduction builds a tree (``?rule`` inlining, ``-> alias``,
anonymous tokens filtered, ``[x]`` placeholders). ``export`` turns exactly
that into plain data — lists, dicts, ints and strings. This module reads and
writes no file: ``base.grammar_tables`` keeps the exported tables (shipped
in the package, else in the cache directory), so start-up never imports
Lark; loading the tables takes about a millisecond and parsing a one-liner
less.
"""
from __future__ import annotations

#: the shape of ``export``'s data; part of the key the tables are kept under
TABLES_FORMAT = 2


class Tables:
    """``actions[state][terminal or rule name]``: ``>= 0`` shift/goto to that
    state, ``< 0`` reduce by rule ``-(n + 1)``. ``rules[n]`` is
    ``(origin, length, name, inline_single, keep, trailing_nones)`` where
    ``keep`` lists ``(child index, Nones to insert before it, splice)``:
    a spliced child (a rule named ``_…``, such as Lark's ``x+`` helper rules)
    gives its own children instead of itself."""

    def __init__(self, data: dict):
        self.actions: list[dict[str, int]] = data["actions"]
        self.rules: list[tuple] = data["rules"]
        self.start: int = data["start"]
        self.end: int = data["end"]
        #: terminal name -> its literal text, for terminals defined by a string
        self.literals: dict[str, str] = data["literals"]
        self.keywords: dict[str, str] = data["keywords"]


def export(grammar: bytes) -> dict:
    """Build the tables with Lark (imported only here)."""
    import lark
    from lark.parsers.lalr_analysis import Shift

    parser = lark.Lark(grammar.decode(), parser="lalr", lexer="contextual",
                       maybe_placeholders=True)
    table = parser.parser.parser.parser.parse_table
    rules = parser.rules
    rule_index = {id(r): i for i, r in enumerate(rules)}
    actions = []
    for state in range(len(table.states)):
        row = {}
        for sym, (action, arg) in table.states[state].items():
            row[str(sym)] = arg if action is Shift else -(rule_index[id(arg)] + 1)
        actions.append(row)
    out_rules = []
    for r in rules:
        empty = r.options.empty_indices
        if empty:
            s = "".join(str(int(b)) for b in empty)
            nones = [len(ones) for ones in s.split("0")]
        else:
            nones = [0] * (len(r.expansion) + 1)
        keep, pending = [], 0
        for i, sym in enumerate(r.expansion):
            pending += nones[i]
            if r.options.keep_all_tokens or not (sym.is_term and sym.filter_out):
                splice = not sym.is_term and sym.name.startswith("_")
                keep.append((i, pending, splice))
                pending = 0
        pending += nones[len(r.expansion)]
        name = str(r.alias or r.origin.name)
        inline = bool(r.options.expand1 and not r.alias)
        out_rules.append((str(r.origin.name), len(r.expansion), name, inline, keep, pending))
    literals, keywords = {}, {}
    for t in parser.terminals:
        if type(t.pattern).__name__ == "PatternStr":
            literals[str(t.name)] = str(t.pattern.value)
            if t.pattern.value.isidentifier():
                keywords[str(t.pattern.value)] = str(t.name)
    (start_state,) = table.start_states.values()
    (end_state,) = table.end_states.values()
    return {"actions": actions, "rules": out_rules, "start": start_state, "end": end_state,
            "literals": literals, "keywords": keywords, "format": TABLES_FORMAT}


_tables: Tables | None = None


def tables() -> Tables:
    """The tables for the installed grammar, loaded once (see
    ``base.grammar_tables``: shipped, cached, or built now with ``export``)."""
    global _tables
    if _tables is None:
        from ..base.grammar_tables import load
        _tables = Tables(load(export, TABLES_FORMAT))
    return _tables


# -- the driver ------------------------------------------------------------------

class Token(str):
    """A token: its text, plus ``type`` and where it stands (1-based, end
    column exclusive)."""
    __slots__ = ("type", "line", "column", "end_line", "end_column", "start_pos")

    def __new__(cls, type_: str, value: str, line: int, column: int, end_line: int,
                end_column: int, start_pos: int = 0):
        tok = super().__new__(cls, value)
        tok.type = type_
        tok.line, tok.column, tok.end_line, tok.end_column = line, column, end_line, end_column
        tok.start_pos = start_pos
        return tok


class Meta:
    """Where a tree stands, and ``depth``: how many trees it nests (a
    token is 0)."""
    __slots__ = ("empty", "line", "column", "end_line", "end_column", "depth")

    def __init__(self):
        self.empty = True
        self.depth = 1


class Tree:
    __slots__ = ("data", "children", "meta")

    def __init__(self, data: str, children: list, meta: Meta):
        self.data, self.children, self.meta = data, children, meta


class NestingError(Exception):
    """The tree being built is more than ``MAX_NESTING`` deep; ``where`` (a
    Token or Meta: ``line`` and ``column``) starts the subtree that went over."""

    def __init__(self, where, limit: int):
        super().__init__("nested too deeply")
        self.where, self.limit = where, limit


class ParseError(Exception):
    """``token`` was not expected; ``expected`` are the terminals the state
    lists, ``accepts`` those that would really be shifted."""

    def __init__(self, token: Token, expected: set[str], accepts: set[str],
                 previous: Token | None = None):
        super().__init__(f"unexpected {token.type}")
        self.token, self.expected, self.accepts = token, expected, accepts
        self.previous = previous


def _first_last(children: list):
    """The first and last child with a position, and the deepest child's depth."""
    first = last = None
    depth = 0
    for c in children:
        if isinstance(c, Tree):
            m = c.meta
            if m.depth > depth:
                depth = m.depth
        else:
            m = c
        if m is None or (isinstance(c, Tree) and m.empty):
            continue
        if first is None:
            first = m
        last = m
    return first, last, depth


class Parser:
    """Runs the tables over tokens, building ``Tree``s the way Lark would."""

    def __init__(self, t: Tables, max_depth: int | None = None):
        self.t = t
        if max_depth is None:
            from ..base.nesting import MAX_NESTING
            max_depth = MAX_NESTING
        self.max_depth = max_depth

    def _reduce(self, rule: int, stack: list, values: list):
        origin, length, name, inline, keep, trailing = self.t.rules[rule]
        children = values[len(values) - length:] if length else []
        if length:
            del stack[-length:]
            del values[-length:]
        kept = []
        for i, nones, splice in keep:
            kept.extend([None] * nones)
            if splice:
                kept.extend(children[i].children)
            else:
                kept.append(children[i])
        kept.extend([None] * trailing)
        if inline and len(kept) == 1:
            node = kept[0]
        else:
            meta = Meta()
            first, last, depth = _first_last(children)
            # a helper rule (``_…``: a list such as ``stmt*``) is spliced into
            # its parent, so a long list is one level, not one per item
            meta.depth = depth if name.startswith("_") else depth + 1
            if depth >= self.max_depth and first is not None:
                raise NestingError(first, self.max_depth)
            if first is not None:
                meta.empty = False
                meta.line, meta.column = first.line, first.column
                meta.end_line, meta.end_column = last.end_line, last.end_column
            node = Tree(name, kept, meta)
        goto = self.t.actions[stack[-1]][origin]
        stack.append(goto)
        values.append(node)

    def accepts(self, stack: list, terminal: str) -> bool:
        """Whether ``terminal`` would be shifted after the pending reductions."""
        stack = list(stack)
        while True:
            action = self.t.actions[stack[-1]].get(terminal)
            if action is None:
                return False
            if action >= 0:
                return True
            origin, length, *_ = self.t.rules[-action - 1]
            if length:
                del stack[-length:]
            goto = self.t.actions[stack[-1]].get(origin)
            if goto is None:
                return False
            stack.append(goto)

    def parse(self, tokens) -> Tree:
        """``tokens`` is a generator that receives the parser (to see the
        current state for context) and yields Tokens, ending with ``$END``."""
        actions = self.t.actions
        stack = [self.t.start]
        values: list = []
        self.stack = stack
        previous = None
        for tok in tokens:
            while True:
                action = actions[stack[-1]].get(tok.type)
                if action is None:
                    expected = set(actions[stack[-1]]) - {r[0] for r in self.t.rules}
                    accepts = {t for t in expected if self.accepts(stack, t)}
                    raise ParseError(tok, expected, accepts, previous)
                if action >= 0:
                    stack.append(action)
                    values.append(tok)
                    previous = tok
                    break
                self._reduce(-action - 1, stack, values)
                if tok.type == "$END" and stack[-1] == self.t.end:
                    return values[-1]
        raise AssertionError("token stream ended without $END")

    def acceptable(self, terminal: str) -> bool:
        """For the lexer: can ``terminal`` come next in the current state?"""
        return self.accepts(self.stack, terminal)
