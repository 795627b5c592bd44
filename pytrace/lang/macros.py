"""bpftrace's hygienic macros (``macro name($a, b, @c) { … }``), expanded in
the syntax tree before checking, and blocks used as values.

A parameter's spelling says what it takes: ``$a`` a scratch variable (the
caller's, which the body may change), ``@c`` a map (the caller's), ``b``
any expression, inserted wherever the body names ``b``. Variables the body
makes are its own: each expansion renames them, so they never meet the
caller's. The body may use no other map. A body that ends with an
expression (no ``;``) gives that value; a call in a statement runs the body.
A zero-parameter macro may be called without parentheses (``if sysname {``).
"""
from __future__ import annotations

from ..base.diagnostics import CompileError, Diagnostic, Loc, Severity
from ..base.record import fields, replace
from . import ast as A

#: expansions inside expansions before the macro is taken to call itself
MAX_DEPTH = 64


def block_value(block: A.Block) -> A.Expr:
    """A ``{ …; value }`` block where a value is wanted."""
    if not block.stmts or not isinstance(block.stmts[-1], A.ExprStmt):
        raise CompileError(Diagnostic(
            Severity.ERROR, "this block has no value: it must end with an expression",
            block.loc, "end it with the value, without a ';': { $x = 1; $x + 1 }"))
    return _value_of(block.stmts[:-1], block.stmts[-1].expr, block.loc)


def _value_of(stmts: tuple, value: A.Expr, loc: Loc) -> A.Expr:
    return A.BlockExpr(tuple(stmts), value, loc) if stmts else value


def expand_macros(program: A.Program, macros: list[A.MacroDef]) -> A.Program:
    if not macros:
        return program
    table: dict[str, dict[int, A.MacroDef]] = {}
    for m in macros:
        same = table.setdefault(m.name, {})
        if len(m.params) in same:
            _fail(f"macro {m.name}() with {len(m.params)} parameters is defined twice",
                  m.name_loc, "rename one of them")
        _check_params(m)
        same[len(m.params)] = m
    return _Expander(table).program(program)


def _check_params(m: A.MacroDef) -> None:
    seen = set()
    for p in m.params:
        if p in seen:
            _fail(f"macro {m.name}() has two parameters named {p}", m.name_loc)
        seen.add(p)


def _fail(message: str, loc: Loc, hint: str | None = None):
    raise CompileError(Diagnostic(Severity.ERROR, message, loc, hint))


def _map_children(node: A.Node, fn) -> A.Node:
    """``node`` with every child node replaced by ``fn(child)``."""
    changes = {}
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, A.Node):
            new = fn(value)
        elif isinstance(value, tuple) and any(isinstance(v, A.Node) for v in value):
            new = tuple(fn(v) if isinstance(v, A.Node) else v for v in value)
        else:
            continue
        if new is not value:
            changes[f.name] = new
    return replace(node, **changes) if changes else node


def _clone(n: A.Node) -> A.Node:
    """A copy of ``n`` made of new nodes (types are kept per node)."""
    changes = {}
    for f in fields(n):
        value = getattr(n, f.name)
        if isinstance(value, A.Node):
            changes[f.name] = _clone(value)
        elif isinstance(value, tuple):
            changes[f.name] = tuple(_clone(v) if isinstance(v, A.Node) else v for v in value)
    return replace(n, **changes)


class _Expander:
    def __init__(self, table: dict[str, dict[int, A.MacroDef]]):
        self.table = table
        self.count = 0
        self.depth = 0

    def program(self, p: A.Program) -> A.Program:
        return replace(p, probes=tuple(self.node(pr) for pr in p.probes))

    def node(self, n: A.Node) -> A.Node:
        if isinstance(n, A.ExprStmt):
            e = self.node(n.expr)
            if isinstance(e, A.BlockExpr):          # a value nobody uses: its statements
                return A.Block(e.stmts + (A.ExprStmt(e.value, n.loc),), n.loc)
            if isinstance(e, _NoValue):
                return e.block
            return replace(n, expr=e) if e is not n.expr else n
        macro = self._macro_for(n)
        if macro is not None:
            return self.expand(macro, n)
        out = _map_children(n, self.node)
        for child in out.children():
            if isinstance(child, _NoValue):
                _fail(f"macro {child.name}() has no value: its body does not end with "
                      "an expression", child.loc, "call it as a statement instead")
        return out

    def _macro_for(self, n: A.Node) -> A.MacroDef | None:
        if isinstance(n, A.Call):
            name, nargs, loc = n.name, len(n.args), n.name_loc
        elif isinstance(n, A.Builtin):
            name, nargs, loc = n.name, 0, n.loc
        else:
            return None
        same = self.table.get(name)
        if not same:
            return None
        if nargs in same:
            return same[nargs]
        if isinstance(n, A.Builtin):
            return None                             # a bare name: not a call of it
        counts = " or ".join(str(k) for k in sorted(same))
        _fail(f"macro {name}() takes {counts} arguments, not {nargs}", loc)

    def expand(self, m: A.MacroDef, call: A.Node):
        args = tuple(self.node(a) for a in getattr(call, "args", ()))
        if self.depth >= MAX_DEPTH:
            _fail(f"macro {m.name}() expands into itself without end", call.loc,
                  "a macro may not call itself")
        self.count += 1
        subst = _Substitution(m, args, self.count, call.loc)
        body = subst.block(m.body)
        self.depth += 1
        try:
            body = self.node(body)
        finally:
            self.depth -= 1
        stmts = body.stmts
        if stmts and isinstance(stmts[-1], A.ExprStmt):
            return _value_of(stmts[:-1], stmts[-1].expr, call.loc)
        inner = stmts[-1] if stmts else None
        if isinstance(inner, A.Block) and isinstance(m.body.stmts[-1], A.ExprStmt) and (
                inner.stmts and isinstance(inner.stmts[-1], A.ExprStmt)):
            # the value was a macro call's: its statements, then its value
            return _value_of(stmts[:-1] + inner.stmts[:-1], inner.stmts[-1].expr, call.loc)
        return _NoValue(m.name, A.Block(stmts, call.loc), call.loc)


class _NoValue(A.Expr):
    """A macro call whose body gives no value (only statements)."""

    def __init__(self, name: str, block: A.Block, loc: Loc):
        self.name, self.block, self.loc = name, block, loc

    def children(self) -> tuple:
        return ()


class _Substitution:
    """One expansion of a macro body: parameters replaced by the call's
    arguments, the body's own variables renamed."""

    def __init__(self, m: A.MacroDef, args: tuple, serial: int, loc: Loc):
        self.m = m
        self.vars: dict[str, str] = {}
        self.maps: dict[str, str] = {}
        self.exprs: dict[str, A.Expr] = {}
        self.suffix = f"__{m.name}{serial}"
        for p, a in zip(m.params, args):
            if p.startswith("$"):
                if not isinstance(a, A.Var):
                    _fail(f"macro {m.name}() takes a scratch variable for {p}", a.loc,
                          f"pass a variable such as $x, or name the parameter "
                          f"{p[1:]} to take any expression")
                self.vars[p[1:]] = a.name
            elif p.startswith("@"):
                if not isinstance(a, A.MapRef) or a.keys:
                    _fail(f"macro {m.name}() takes a map for {p}", a.loc,
                          "pass a map by its name alone, such as @m")
                self.maps[p] = a.name
            else:
                self.exprs[p] = a

    def block(self, b: A.Block) -> A.Block:
        return self.node(b)

    def node(self, n: A.Node) -> A.Node:
        if isinstance(n, A.Var):
            name = self.vars.get(n.name)
            return A.Var(name if name is not None else n.name + self.suffix, n.loc)
        if isinstance(n, A.MapRef):
            name = self.maps.get(n.name)
            if name is None:
                _fail(f"macro {self.m.name}() uses {n.name}, which is not one of its "
                      "parameters", n.loc,
                      f"pass the map in: macro {self.m.name}(…, {n.name})")
            return A.MapRef(name, tuple(self.node(k) for k in n.keys), n.loc)
        if isinstance(n, A.Builtin) and n.name in self.exprs:
            return _clone(self.exprs[n.name])      # a node of its own at each use
        return _map_children(n, self.node)
