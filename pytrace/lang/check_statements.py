"""Checks of statements (a part of ``semantics.Checker``)."""
from __future__ import annotations

from ..base.diagnostics import Loc
from . import ast as A
from .builtins import FnKind
from .types import INT64, Agg, Array, Int, Str, Struct, StructRef, Type, Void
from .check_common import Unknown, describe, is_int, storable, _merge


class StatementChecks:
    """Checks of statements: assignments, declarations, control flow."""

    # -- statements ------------------------------------------------------
    def block(self, block: A.Block) -> None:
        for s in block.stmts:
            self.stmt(s)

    def stmt(self, s: A.Stmt) -> None:
        method = getattr(self, "stmt_" + type(s).__name__)
        method(s)

    def stmt_Block(self, s: A.Block) -> None:
        self.block(s)

    def stmt_ExprStmt(self, s: A.ExprStmt) -> None:
        e = s.expr
        if isinstance(e, A.Call):
            fn = self.reg.function(e.name)
            if fn is not None and fn.kind is FnKind.AGG:
                self.error(f"{e.name}() must be assigned to a map",
                           e.loc, f"write @name = {e.name}(…)")
                return
            self.expr(e)
            return
        if isinstance(e, A.Builtin) and self.reg.variable(e.name) is None:
            fn = self.reg.function(e.name)
            if fn is not None:
                self.error(f"{e.name} is a function: call it as {e.name}()", e.loc)
                return
        t = self.expr(e)
        if isinstance(e, A.Builtin) and e.name in (self.ctx.extra if self.ctx else ()):
            return          # actions such as 'drop;' in network probes
        if not isinstance(t, Unknown):
            self.error("this expression has no effect", e.loc,
                       "print it with printf() or print(), or store it in a map")

    def stmt_AssignMap(self, s: A.AssignMap) -> None:
        target, value = s.target, s.value
        info = self.map_info(target)
        self.map_keys(info, target)
        if isinstance(value, A.Call):
            fn = self.reg.function(value.name)
            if fn is not None and fn.kind is FnKind.AGG:
                agg = fn.check(self, value)
                self.set(value, agg)
                self.map_value(info, agg, value.loc)
                return
        t = self.expr(value)
        if isinstance(t, Agg) and isinstance(value, A.MapRef):
            t = INT64
        if isinstance(t, Void):
            info.assigned = True          # reported here; not again as "never assigned"
            if not (isinstance(value, A.Builtin)):
                self.error(f"{getattr(value, 'name', 'this')}() returns no value to store",
                           value.loc)
            return
        if isinstance(t, (Struct, StructRef, Array)) and not isinstance(storable(t), Str):
            self.error(f"cannot store {describe(t)} in a map", value.loc,
                       "store one of its fields instead")
            return
        self.map_value(info, storable(t), value.loc)

    def stmt_AssignVar(self, s: A.AssignVar) -> None:
        t = self.expr(s.value)
        if isinstance(t, Void):
            self.error("this returns no value to store", s.value.loc)
            return
        if isinstance(t, (Struct, StructRef)):     # a whole struct (kernel or args)
            self.error(f"${s.target.name} cannot hold {describe(t)}", s.value.loc,
                       "keep a pointer to it, or one of its fields")
            return
        if isinstance(t, Agg):
            if isinstance(s.value, A.Call):
                self.error(f"{s.value.name}() can only be assigned to a map", s.value.loc,
                           f"write @name = {s.value.name}(…)")
                return
            t = INT64
        self._assign_var(s.target, storable(t), s.value.loc)

    def stmt_DeclareVar(self, s: A.DeclareVar) -> None:
        if s.value is not None:
            self.stmt_AssignVar(A.AssignVar(s.target, s.value, s.loc))
        else:
            self._assign_var(s.target, INT64, s.loc)

    def _assign_var(self, var: A.Var, t: Type, loc: Loc) -> None:
        vars_ = self.typing.vars
        old = vars_.get(var.name)
        if old is None:
            vars_[var.name] = t
        else:
            merged = _merge(old, t)
            if merged is None:
                self.error(f"${var.name} holds {describe(old)}; it cannot also hold {describe(t)}",
                           loc, "use another variable for the other value")
                return
            vars_[var.name] = merged
        self._assigned_vars.add(var.name)
        self.set(var, vars_[var.name])

    def stmt_CompoundAssign(self, s: A.CompoundAssign) -> None:
        if not isinstance(s.target, (A.MapRef, A.Var)):
            # only ++/-- reach here: the grammar gives op= a variable or a map
            self.error(f"'{s.op * 2}' changes a variable or a map, not this expression",
                       s.target.loc, "write it on $name, @name or @name[key]")
            return
        t = self.expr(s.value)
        if not is_int(t):
            self.error(f"'{s.op}=' needs an integer on the right, not {describe(t)}", s.value.loc)
        target = s.target
        if isinstance(target, A.MapRef):
            info = self.map_info(target)
            self.map_keys(info, target)
            if info.value is not None and not isinstance(info.value, (Int, Unknown)):
                self.error(f"'{s.op}=' needs an integer map, but {info.name} holds "
                           f"{describe(info.value)}", target.loc)
                return
            self.map_value(info, INT64, target.loc)
            self.set(target, info.value or INT64)
        else:
            old = self.typing.vars.get(target.name)
            if old is None or target.name not in self._assigned_vars:
                self.error(f"${target.name} is used before it is assigned", target.loc,
                           f"assign it first: ${target.name} = 0;")
                return
            if not isinstance(old, Int):
                self.error(f"'{s.op}=' needs an integer variable, but ${target.name} holds "
                           f"{describe(old)}", target.loc)
            self.set(target, old)
        self._check_const_division(s.op, s.value)

    def stmt_If(self, s: A.If) -> None:
        self._cond(s.cond)
        self.block(s.then)
        if s.orelse is not None:
            self.stmt(s.orelse)

    def _cond(self, e: A.Expr) -> None:
        t = self.expr(e)
        if not is_int(t):
            self.error(f"a condition must be an integer, not {describe(t)}", e.loc,
                       'compare strings explicitly, e.g. comm == "bash"'
                       if isinstance(t, Str) else None)

    def stmt_Unroll(self, s: A.Unroll) -> None:
        n = self.const_int(s.count)
        if n is None or not 1 <= n <= 100:
            self.error("unroll needs a constant count from 1 to 100", s.count.loc)
        self.block(s.body)

    def stmt_While(self, s: A.While) -> None:
        from .kernelinfo import Feature
        if not self.kernel.has(Feature.BOUNDED_LOOPS):
            self.error("while loops need the verifier's bounded loops (Linux 5.3), which this "
                       "kernel lacks", s.loc, "use unroll(N) { … } instead")
        self._cond(s.cond)
        self._loop_depth += 1
        self.block(s.body)
        self._loop_depth -= 1

    def stmt_ForRange(self, s: A.ForRange) -> None:
        from .kernelinfo import Feature
        if not self.kernel.has(Feature.BOUNDED_LOOPS):
            self.error("for loops need the verifier's bounded loops (Linux 5.3), which this "
                       "kernel lacks", s.loc, "use unroll(N) { … } instead")
        for bound in (s.start, s.end):
            t = self.expr(bound)
            if not is_int(t):
                self.error(f"a range's bounds must be integers, not {describe(t)}", bound.loc)
        self._assign_var(s.var, INT64, s.var.loc)
        self._loop_depth += 1
        self.block(s.body)
        self._loop_depth -= 1

    def stmt_ForMap(self, s: A.ForMap) -> None:
        self.error("for loops over maps are not supported yet", s.loc,
                   "print the map with print() instead")

    def _loop_stmt(self, s: A.Stmt, word: str) -> None:
        if self._loop_depth == 0:
            self.error(f"'{word}' outside a loop", s.loc)

    def stmt_Break(self, s: A.Break) -> None:
        self._loop_stmt(s, "break")

    def stmt_Continue(self, s: A.Continue) -> None:
        self._loop_stmt(s, "continue")

    def stmt_Return(self, s: A.Return) -> None:
        pass
