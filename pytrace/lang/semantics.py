"""Type checking and inference: every expression gets a type, every map and
variable one consistent type, every mistake a located message.

Maps are global and typed by their uses anywhere in the script, so the
checker walks the whole script twice: the first pass learns map types (a map
may be read in a probe that comes before the one assigning it), the second
checks everything and reports. Variables belong to one probe.
"""
from __future__ import annotations

from ..base.nesting import deep_stack
from ..base.diagnostics import CompileError, Diagnostic, Loc, Severity
from .kernelinfo import KernelInfo
from .builtins import registry
from .probes import ProbeContext
from .program import Limits
from .types import Type
from . import ast as A
# the shared vocabulary, imported from here by the builtins and the lowerer
from .check_common import (UNKNOWN, Group, MapInfo, ProbeTyping, Unknown,  # noqa: F401
                           describe, is_int, storable)
from .check_expressions import ExpressionChecks
from .check_kernel_types import KernelTypeChecks
from .check_maps import MapChecks
from .check_statements import StatementChecks


class Checker(StatementChecks, MapChecks, ExpressionChecks, KernelTypeChecks):
    def __init__(self, kernel: KernelInfo, limits: Limits, params: list[str],
                 constants: dict[str, int] | None = None):
        self.kernel = kernel
        self.limits = limits
        self.params = params
        self.constants = constants or {}
        self.reg = registry()
        self.maps: dict[str, MapInfo] = {}
        self.final = False
        self.errors: list[Diagnostic] = []
        self.ctx: ProbeContext | None = None
        self.group: Group | None = None
        self.typing = ProbeTyping()
        self._assigned_vars: set[str] = set()
        self._loop_depth = 0
        self._var_tables: dict[int, dict[str, Type]] = {}
        #: per-run state of builtin modules (the net module's parent maps)
        self.ext: dict = {}

    # -- driver ----------------------------------------------------------
    @deep_stack()
    def check(self, groups: list[Group]) -> list[ProbeTyping]:
        for final in (False, True):
            self.final = final
            self.errors = []
            self._repeats: dict = {}
            self._reported: dict = {}
            results = [self.check_group(i, g) for i, g in enumerate(groups)]
        self._check_maps_defined(groups)
        if self.errors:
            raise CompileError(self._unique(self.errors))
        return results

    def _unique(self, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Drop repeats; a mistake a wildcard probe makes once per tracepoint
        it matches is reported once, with a note of how many more."""
        seen, out = set(), []
        for d in diags:
            key = (d.message, d.loc)
            if key not in seen:
                seen.add(key)
                out.append(d)
        for i, d in enumerate(out):
            extra = self._repeats.get(d.loc, 0)
            if extra:
                out[i] = Diagnostic(d.severity, d.message, d.loc, d.hint, d.notes + (
                    Diagnostic(Severity.NOTE, f"the same error in {extra} more of the "
                                              "probes this line attaches to"),))
        return out

    def check_group(self, index: int, group: Group) -> ProbeTyping:
        self.group = group
        self.ctx = group.context
        self.typing = ProbeTyping(vars=self._var_tables.setdefault(index, {}))
        self._assigned_vars = set()
        if group.probe.predicate is not None:
            t = self.expr(group.probe.predicate)
            if not is_int(t):
                self.error(f"a predicate must be an integer condition, not {describe(t)}",
                           group.probe.predicate.loc)
        self.block(group.probe.body)
        return self.typing

    # -- reporting -------------------------------------------------------
    def error(self, message: str, loc: Loc, hint: str | None = None,
              notes: tuple[Diagnostic, ...] = ()) -> None:
        if not self.final:
            return
        # another group (tracepoint) of a probe line that erred here already
        where = (self.group.probe_index if self.group else -1, loc)
        first = self._reported.setdefault(where, id(self.group))
        if first != id(self.group):
            self._repeats[loc] = self._repeats.get(loc, 0) + 1
            return
        self.errors.append(Diagnostic(Severity.ERROR, message, loc, hint, notes))

    def note(self, message: str, loc: Loc | None) -> tuple[Diagnostic, ...]:
        if loc is None:
            return ()
        return (Diagnostic(Severity.NOTE, message, loc),)

    def set(self, node: A.Node, t: Type) -> Type:
        self.typing.types[id(node)] = t
        return t
