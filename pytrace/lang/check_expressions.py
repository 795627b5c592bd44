"""Checks of expressions (a part of ``semantics.Checker``)."""
from __future__ import annotations

from . import ast as A
from .builtins import FnKind
from .params import param_value, positional
from .types import (BOOL, INT64, UINT64, Agg, Array, Int, Ptr, Str, Struct, StructRef,
                    Tuple, Type, Void, common_int)
from .check_common import describe, is_int, storable, _merge, _as_int, _str_hint, _name_hint
from .check_common import _function_hint


class ExpressionChecks:
    """Checks of expressions: literals, names, calls, operators, tuples, indexing."""

    # -- expressions -----------------------------------------------------
    def expr(self, e: A.Expr) -> Type:
        t = getattr(self, "expr_" + type(e).__name__)(e)
        return self.set(e, t)

    def expr_BlockExpr(self, e: A.BlockExpr) -> Type:
        for s in e.stmts:
            self.stmt(s)
        return self.expr(e.value)

    def expr_IncDec(self, e: A.IncDec) -> Type:
        self.stmt_CompoundAssign(e.assign)
        if isinstance(e.target, A.Var):
            return self.typing.vars.get(e.target.name, INT64)
        return INT64

    def const_int(self, e: A.Expr) -> int | None:
        """The value of a constant integer expression, else None."""
        if isinstance(e, A.IntLit):
            return e.value
        if isinstance(e, A.Unary) and e.op == "-":
            v = self.const_int(e.operand)
            return None if v is None else -v
        if isinstance(e, A.Positional):
            p = self.param(e.index)
            return p if isinstance(p, int) else None
        if isinstance(e, A.ParamCount):
            return len(positional(self.params))
        return None

    def param(self, n: int) -> int | str:
        return param_value(self.params, n)

    def expr_IntLit(self, e: A.IntLit) -> Type:
        if e.value >= 1 << 64:
            self.error("integer literal does not fit in 64 bits", e.loc)
        return UINT64 if e.value >= 1 << 63 else INT64

    def expr_StrLit(self, e: A.StrLit) -> Type:
        n = len(e.value.encode("utf-8", "surrogateescape")) + 1
        if n > self.limits.max_strlen:
            self.error(f"string literal is longer than the string limit "
                       f"({self.limits.max_strlen} bytes)", e.loc,
                       "raise it with config = { max_strlen = N } or PYTRACE_MAX_STRLEN")
        return Str(n)

    def expr_Positional(self, e: A.Positional) -> Type:
        p = self.param(e.index)
        if isinstance(p, int):
            return INT64
        return Str(len(p.encode()) + 1)

    def expr_ParamCount(self, e: A.ParamCount) -> Type:
        return INT64

    def expr_Var(self, e: A.Var) -> Type:
        t = self.typing.vars.get(e.name)
        if t is None or e.name not in self._assigned_vars:
            self.error(f"${e.name} is used before it is assigned", e.loc,
                       f"assign it first: ${e.name} = …;")
            return t or INT64
        return t

    def expr_MapRef(self, e: A.MapRef) -> Type:
        return self.map_read(e)

    def expr_Builtin(self, e: A.Builtin) -> Type:
        var = self.reg.variable(e.name)
        if var is not None and var.family and var.name == e.name:
            stem = e.name.rstrip("N")   # "argN" names the family, not a variable
            self.error(f"unknown name '{e.name}'", e.loc,
                       f"write {stem}0, {stem}1, … for the arguments")
            return INT64
        if var is None:
            if self.reg.function(e.name) is not None:
                self.error(f"{e.name} is a function: call it as {e.name}(…)", e.loc)
            else:
                self.error(f"unknown name '{e.name}'", e.loc, _name_hint(e.name, self.reg))
            return INT64
        t = var.type(self, e) if callable(var.type) else var.type
        return t

    def expr_Call(self, e: A.Call) -> Type:
        fn = self.reg.function(e.name)
        if fn is None:
            self.error(f"unknown function {e.name}()", e.name_loc, _function_hint(e.name, self.reg))
            for a in e.args:
                self.expr(a)
            return INT64
        if fn.kind is FnKind.AGG:
            self.error(f"{e.name}() must be assigned to a map", e.loc,
                       f"write @name = {e.name}(…)")
            return INT64
        return fn.check(self, e)

    def expect_args(self, e: A.Call, low: int, high: int | None = None) -> bool:
        high = low if high is None else high
        n = len(e.args)
        if low <= n <= high:
            return True
        if low == high:
            want = f"{low} argument{'s' if low != 1 else ''}"
        elif low == 0:
            want = f"at most {high} argument{'s' if high != 1 else ''}"
        else:
            want = f"{low} to {high} arguments"
        fn = self.reg.function(e.name)
        self.error(f"{e.name}() takes {want}, {n} given", e.loc,
                   f"usage: {fn.signature}" if fn else None)
        return False

    def expect_int(self, e: A.Expr, what: str) -> Type:
        t = self.expr(e)
        if not is_int(t):
            self.error(f"{what} must be an integer, not {describe(t)}", e.loc)
        return t

    def expect_map(self, e: A.Expr, what: str) -> A.MapRef | None:
        if not isinstance(e, A.MapRef):
            self.error(f"{what} must be a map (@name)", e.loc)
            return None
        return e

    def expr_Binary(self, e: A.Binary) -> Type:
        lt, rt = self.expr(e.left), self.expr(e.right)
        op = e.op
        if op in ("==", "!=") and (isinstance(lt, Str) or isinstance(rt, Str)):
            if isinstance(lt, Str) and isinstance(rt, Str):
                return BOOL
            self.error(f"'{op}' compares two strings or two integers, not {describe(lt)} "
                       f"and {describe(rt)}", e.loc, _str_hint(lt, rt))
            return BOOL
        if not (is_int(lt) and is_int(rt)):
            self.error(f"'{op}' needs two integers, not {describe(lt)} and {describe(rt)}",
                       e.loc, _str_hint(lt, rt, op))
            return INT64
        if op in ("&&", "||", "==", "!=", "<", ">", "<=", ">="):
            return BOOL
        self._check_const_division(op, e.right)
        if isinstance(lt, Ptr) and op in ("+", "-") and not isinstance(rt, Ptr):
            return lt
        return common_int(_as_int(lt), _as_int(rt))

    def _check_const_division(self, op: str, right: A.Expr) -> None:
        if op in ("/", "%") and self.const_int(right) == 0:
            self.error("division by zero", right.loc)
        if op in ("<<", ">>"):
            n = self.const_int(right)
            if n is not None and not 0 <= n < 64:
                # the verifier refuses such a constant shift, and a computed
                # one is taken modulo 64 by the CPU: neither is what C means
                self.error(f"shift by {n}: a shift amount is 0 to 63", right.loc,
                           "shift by a smaller amount, or write the result as a constant")

    def expr_Unary(self, e: A.Unary) -> Type:
        t = self.expr(e.operand)
        if not is_int(t):
            self.error(f"'{e.op}' needs an integer, not {describe(t)}", e.loc)
            return INT64
        if e.op == "!":
            return BOOL
        return common_int(_as_int(t), INT64)

    def expr_Ternary(self, e: A.Ternary) -> Type:
        self._cond(e.cond)
        a, b = self.expr(e.then), self.expr(e.orelse)
        if is_int(a) and is_int(b):
            return common_int(_as_int(a), _as_int(b))
        merged = _merge(storable(a), storable(b))
        if merged is None:
            self.error(f"both branches of '?:' must have the same kind of value, not "
                       f"{describe(a)} and {describe(b)}", e.loc)
            return a
        return merged

    def expr_TupleIndex(self, e: A.TupleIndex) -> Type:
        t = self.expr(e.operand)
        if not isinstance(t, Tuple):
            self.error(f".{e.index} needs a tuple, not {describe(t)}", e.loc)
            return INT64
        if not 0 <= e.index < len(t.elems):
            self.error(f"the tuple has {len(t.elems)} elements; .{e.index} is past the end",
                       e.loc)
            return INT64
        return t.elems[e.index]

    def expr_Index(self, e: A.Index) -> Type:
        t = self.expr(e.operand)
        self.expect_int(e.index, "an index")
        if isinstance(t, Array):
            return t.elem
        if isinstance(t, Ptr) and not isinstance(t.target, Void):
            return t.target
        if isinstance(t, Str):
            return Int(8, True)
        self.error(f"cannot index {describe(t)}", e.loc)
        return INT64

    def expr_TupleExpr(self, e: A.TupleExpr) -> Type:
        types = []
        for x in e.elems:
            t = self.expr(x)
            if isinstance(t, (Void, Struct, StructRef)) or (isinstance(t, Agg) and
                                                             not t.is_integer):
                self.error(f"{describe(t)} cannot be part of a tuple", x.loc)
            types.append(storable(t))
        return Tuple(tuple(types))

    def expr_Deref(self, e: A.Deref) -> Type:
        t = self.expr(e.operand)
        if isinstance(t, Ptr):
            return t.target if not isinstance(t.target, Void) else UINT64
        self.error(f"'*' needs a pointer, not {describe(t)}", e.loc)
        return INT64

    def expr_AddrOf(self, e: A.AddrOf) -> Type:
        self.error("'&' (address of) is not supported", e.loc)
        return INT64
