"""Builtins are data: one record per builtin variable or function.

Each record carries its name, signature, one-line doc, how to type-check a
use (``check``), how to lower it to IR (``lower``, through the lowerer's
public interface: ``Lowerer.PUBLIC``) and the userspace service it needs
(``userspace``). A value that prints specially has the type
``Special(Formatted.X)``; X's formatter (text and JSON) is its entry in
``render.formats.FORMATTERS``. The checker and the lowerer look names up
here and nowhere else, ``pytrace -l builtins`` prints the docs from the
same records, and adding a builtin means adding a record in one of this
package's modules (RECIPE: the README's "Adding a builtin").
"""
from __future__ import annotations

from ...base.record import field, record
from enum import Enum
from typing import Callable, Iterable

from ..types import AggKind, Type


#: the userspace services a builtin may need at run time (``userspace=``):
#: "symbols" symbolizes kernel/user addresses and stacks (kstack, ustack,
#: ksym, usym, func); "mapfiles" reads files into maps (load()); "shell" runs
#: system()'s commands; "files" prints files (cat())
USERSPACE_SERVICES = ("symbols", "mapfiles", "shell", "files")


class FnKind(Enum):
    EXPR = "expression"        # returns a value
    STMT = "statement"         # used for its effect (printf, exit, …)
    AGG = "aggregation"        # only as @map[...] = f(...)


@record(frozen=True)
class Variable:
    """A builtin variable such as ``pid``."""
    name: str
    doc: str
    #: the type, or a function (checker, node) -> type for context-dependent ones
    type: Type | Callable
    #: (lowerer, node) -> ir value or Mem
    lower: Callable
    category: str = "process"
    #: the ``pattern`` for families such as arg0..argN (matched by prefix+digits)
    family: bool = False
    #: the userspace service this variable needs (one of USERSPACE_SERVICES), or None
    userspace: str | None = None


@record(frozen=True)
class Function:
    name: str
    signature: str
    doc: str
    kind: FnKind
    #: (checker, call node) -> result type; reports its own errors
    check: Callable
    #: EXPR/STMT: (lowerer, call node) -> value; AGG: see aggregations.py
    lower: Callable | None = None
    aliases: tuple[str, ...] = ()
    agg: AggKind | None = None
    #: AGG only: argument count (min, max) for the generic checks
    extra: dict = field(default_factory=dict, compare=False)
    #: the userspace service this function needs (one of USERSPACE_SERVICES), or None
    userspace: str | None = None


@record(frozen=True)
class Registry:
    variables: dict[str, Variable]
    functions: dict[str, Function]

    def variable(self, name: str) -> Variable | None:
        v = self.variables.get(name)
        if v is None:
            digits = name.lstrip("abcdefghijklmnopqrstuvwxyz_")
            stem = name[:len(name) - len(digits)]
            if digits.isdigit() and stem:
                fam = self.variables.get(stem + "N")
                if fam is not None and fam.family:
                    return fam
        return v

    def function(self, name: str) -> Function | None:
        return self.functions.get(name)

    def names(self) -> list[str]:
        return sorted(set(self.variables) | set(self.functions))

    def userspace(self, names: Iterable[str]) -> frozenset[str]:
        """The userspace services the builtins called ``names`` need."""
        found = (self.variable(n) or self.function(n) for n in names)
        return frozenset(b.userspace for b in found if b is not None and b.userspace)


def _build() -> Registry:
    from . import (actions, aggregations, convert, functions, kernel, lpm, net, options, stacks,
                   strings, variables)
    fns: dict[str, Function] = {}
    for module in (functions, aggregations, stacks, net, lpm, kernel, convert, strings, actions,
                   options):
        for f in module.FUNCTIONS:
            for n in (f.name, *f.aliases):
                assert n not in fns, n
                fns[n] = f
    vars_ = {v.name: v for v in variables.VARIABLES + stacks.VARIABLES + net.VARIABLES +
             kernel.VARIABLES}
    return Registry(vars_, fns)


_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = _build()
    return _registry
