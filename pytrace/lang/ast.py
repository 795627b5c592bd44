"""The syntax tree: frozen records, one per construct, each with a ``loc``.

Locations do not take part in equality, so two spellings of one program (an
angle-bracket body and a brace body) compare equal.
"""
from __future__ import annotations

from ..base.record import field, record

from ..base.diagnostics import NOWHERE, Loc


def _loc() -> Loc:
    return field(default=NOWHERE, compare=False, repr=False)


class Node:
    loc: Loc

    def children(self) -> tuple["Node", ...]:
        out: list[Node] = []
        for f in self.__record_fields__:  # type: ignore[attr-defined]
            value = getattr(self, f.name)
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, tuple):
                out.extend(v for v in value if isinstance(v, Node))
        return tuple(out)


class Expr(Node):
    pass


class Stmt(Node):
    pass


# -- expressions ------------------------------------------------------------

@record(frozen=True)
class IntLit(Expr):
    value: int
    loc: Loc = _loc()


@record(frozen=True)
class StrLit(Expr):
    value: str
    loc: Loc = _loc()


@record(frozen=True)
class Builtin(Expr):
    """A bare name: ``pid``, ``comm``, ``args``, ``retval``, ``arg0`` …"""
    name: str
    loc: Loc = _loc()


@record(frozen=True)
class Var(Expr):
    """A scratch variable ``$name`` (without the ``$``)."""
    name: str
    loc: Loc = _loc()


@record(frozen=True)
class Positional(Expr):
    """``$1`` … ``$N``."""
    index: int
    loc: Loc = _loc()


@record(frozen=True)
class ParamCount(Expr):
    """``$#``."""
    loc: Loc = _loc()


@record(frozen=True)
class MapRef(Expr):
    """``@name`` or ``@name[k1, k2]``; ``name`` keeps the ``@`` (``"@"`` alone
    is the anonymous map). ``keys`` is empty for a scalar map."""
    name: str
    keys: tuple[Expr, ...] = ()
    loc: Loc = _loc()


@record(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...] = ()
    loc: Loc = _loc()
    #: the location of the function's name alone
    name_loc: Loc = _loc()


@record(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    loc: Loc = _loc()


@record(frozen=True)
class Unary(Expr):
    op: str            # "-", "+", "!", "~"
    operand: Expr
    loc: Loc = _loc()


@record(frozen=True)
class Deref(Expr):
    operand: Expr
    loc: Loc = _loc()


@record(frozen=True)
class AddrOf(Expr):
    operand: Expr
    loc: Loc = _loc()


@record(frozen=True)
class Ternary(Expr):
    cond: Expr
    then: Expr
    orelse: Expr
    loc: Loc = _loc()


@record(frozen=True)
class TypeName(Node):
    """A type as written in a cast: ``uint32``, ``struct sock *``."""
    name: str                 # "uint32", "struct sock"
    pointers: int = 0
    loc: Loc = _loc()

    def __str__(self) -> str:
        return self.name + (" " + "*" * self.pointers if self.pointers else "")


@record(frozen=True)
class Cast(Expr):
    type: TypeName
    operand: Expr
    loc: Loc = _loc()


@record(frozen=True)
class FieldAccess(Expr):
    """``e->name`` (``arrow``) or ``e.name``."""
    operand: Expr
    name: str
    arrow: bool = False
    loc: Loc = _loc()


@record(frozen=True)
class TupleIndex(Expr):
    """``t.0``"""
    operand: Expr
    index: int
    loc: Loc = _loc()


@record(frozen=True)
class Index(Expr):
    """``e[i]`` on a pointer or array."""
    operand: Expr
    index: Expr
    loc: Loc = _loc()


@record(frozen=True)
class TupleExpr(Expr):
    elems: tuple[Expr, ...]
    loc: Loc = _loc()


@record(frozen=True)
class Sizeof(Expr):
    what: Node                # a TypeName or an Expr
    loc: Loc = _loc()


@record(frozen=True)
class Offsetof(Expr):
    type: TypeName
    member: str
    loc: Loc = _loc()


@record(frozen=True)
class IncDec(Expr):
    """``x++``/``x--`` (``post``) or ``++x``/``--x`` as a value: the update
    is ``assign`` (``x += 1``), which is also the whole statement ``x++;``."""
    assign: "CompoundAssign"
    post: bool
    loc: Loc = _loc()

    @property
    def target(self) -> Expr:
        return self.assign.target

    @property
    def op(self) -> str:
        return self.assign.op


@record(frozen=True)
class BlockExpr(Expr):
    """``{ stmts; value }`` used as a value (and a macro call expanded)."""
    stmts: tuple["Stmt", ...]
    value: Expr
    loc: Loc = _loc()


# -- statements -------------------------------------------------------------

@record(frozen=True)
class ExprStmt(Stmt):
    expr: Expr
    loc: Loc = _loc()


@record(frozen=True)
class AssignMap(Stmt):
    target: MapRef
    value: Expr
    loc: Loc = _loc()


@record(frozen=True)
class AssignVar(Stmt):
    target: Var
    value: Expr
    loc: Loc = _loc()


@record(frozen=True)
class DeclareVar(Stmt):
    """``let $x`` / ``let $x = e``"""
    target: Var
    value: Expr | None = None
    loc: Loc = _loc()


@record(frozen=True)
class CompoundAssign(Stmt):
    """``x op= e``; ``x++`` is ``x += 1``. ``op`` is the binary operator."""
    target: Expr              # MapRef or Var
    op: str
    value: Expr
    loc: Loc = _loc()


@record(frozen=True)
class Block(Stmt):
    stmts: tuple[Stmt, ...] = ()
    loc: Loc = _loc()


@record(frozen=True)
class If(Stmt):
    cond: Expr
    then: Block
    orelse: Stmt | None = None      # Block or If
    loc: Loc = _loc()


@record(frozen=True)
class Unroll(Stmt):
    count: Expr
    body: Block
    loc: Loc = _loc()


@record(frozen=True)
class While(Stmt):
    cond: Expr
    body: Block
    loc: Loc = _loc()


@record(frozen=True)
class ForMap(Stmt):
    """``for ($kv : @map) { … }``"""
    var: Var
    map: MapRef
    body: Block
    loc: Loc = _loc()


@record(frozen=True)
class ForRange(Stmt):
    """``for ($i : start..end) { … }``: start inclusive, end exclusive, both
    evaluated once."""
    var: Var
    start: Expr
    end: Expr
    body: Block
    loc: Loc = _loc()


@record(frozen=True)
class Break(Stmt):
    loc: Loc = _loc()


@record(frozen=True)
class Continue(Stmt):
    loc: Loc = _loc()


@record(frozen=True)
class Return(Stmt):
    loc: Loc = _loc()


# -- top level --------------------------------------------------------------

@record(frozen=True)
class ProbeSpec(Node):
    """One attach point as written (``tracepoint:syscalls:sys_enter_*``)."""
    text: str
    loc: Loc = _loc()

    @property
    def provider(self) -> str:
        return self.text.split(":", 1)[0]


@record(frozen=True)
class Probe(Node):
    specs: tuple[ProbeSpec, ...]
    predicate: Expr | None
    body: Block
    loc: Loc = _loc()


@record(frozen=True)
class MacroDef(Node):
    """``macro name($a, b, @c) { … }``: expanded away by ``lang.macros``
    before checking; ``params`` as written (``$a``, ``b``, ``@c``)."""
    name: str
    params: tuple[str, ...]
    body: Block
    loc: Loc = _loc()
    name_loc: Loc = _loc()


@record(frozen=True)
class ConfigItem(Node):
    name: str
    value: int | str
    loc: Loc = _loc()


@record(frozen=True)
class Program(Node):
    probes: tuple[Probe, ...]
    config: tuple[ConfigItem, ...] = ()
    loc: Loc = _loc()


def walk(node: Node):
    """Every node below and including ``node``, parents first."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))
