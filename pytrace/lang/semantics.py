"""Type checking and inference: every expression gets a type, every map and
variable one consistent type, every mistake a located message.

Maps are global and typed by their uses anywhere in the script, so the
checker walks the whole script twice: the first pass learns map types (a map
may be read in a probe that comes before the one assigning it), the second
checks everything and reports. Variables belong to one probe.
"""
from __future__ import annotations

from ..base.record import field, record

from ..base.diagnostics import CompileError, Diagnostic, Loc, Severity
from .kernelinfo import KernelInfo
from . import ast as A
from .builtins import FnKind, registry
from .params import param_value
from .probes import ProbeContext
from .program import Limits
from .types import (BOOL, INT64, UINT64, Agg, Array, CEnum, Inet6, Int, LpmKey, Ptr,
                    Special, Stack, Str, Struct, StructRef, Tuple, Type, Void, common_int,
                    struct_of)


class Unknown(Type):
    """The type of a map not yet assigned during the first pass."""

    def __str__(self) -> str:
        return "unknown"


UNKNOWN = Unknown()


def describe(t: Type) -> str:
    """A type in words for messages."""
    if isinstance(t, (Int, Ptr, Special)) or (isinstance(t, Agg) and t.is_integer):
        return "an integer"
    if isinstance(t, Inet6):
        return "an IPv6 address"
    if isinstance(t, LpmKey):
        return "an lpm() key"
    if isinstance(t, Str):
        return "a string"
    if isinstance(t, Tuple):
        return "a tuple"
    if isinstance(t, Agg):
        return f"a {t.kind.value} histogram"
    if isinstance(t, (Struct, StructRef)):
        return f"a {t}"
    if isinstance(t, Stack):
        return "a stack"
    if isinstance(t, Void):
        return "nothing (it returns no value)"
    return str(t)


def is_int(t: Type) -> bool:
    return isinstance(t, (Int, Ptr, Special, Unknown)) or (isinstance(t, Agg) and t.is_integer)


def storable(t: Type) -> Type:
    """The type a value takes when stored in a map: integers widen to 64 bits."""
    if isinstance(t, CEnum):
        return CEnum(64, t.signed, t.name, t.values)    # still prints by name
    if isinstance(t, Int):
        return Int(64, t.signed)
    if isinstance(t, Agg):
        return INT64
    if isinstance(t, Tuple):
        return Tuple(tuple(storable(e) for e in t.elems))
    if isinstance(t, Array) and isinstance(t.elem, Int) and t.elem.bits == 8:
        return Str(t.count)
    return t


def _merge(old: Type, new: Type) -> Type | None:
    """The type both can be stored as, or None when they cannot mix."""
    if isinstance(old, Unknown):
        return new
    if isinstance(new, Unknown):
        return old
    if isinstance(old, Int) and isinstance(new, (Int, Ptr, Special)):
        return old
    if isinstance(old, (Ptr, Special)) and isinstance(new, (Int, Ptr, Special)):
        return old
    if isinstance(old, Str) and isinstance(new, Str):
        return old if old.cap >= new.cap else new
    if isinstance(old, Tuple) and isinstance(new, Tuple) and len(old.elems) == len(new.elems):
        elems = [_merge(a, b) for a, b in zip(old.elems, new.elems)]
        return None if None in elems else Tuple(tuple(elems))
    if old == new:
        return old
    return None


@record
class MapInfo:
    name: str
    keyed: bool | None = None
    key: Type | None = None
    value: Type | None = None
    key_loc: Loc | None = None
    value_loc: Loc | None = None
    first_loc: Loc | None = None
    assigned: bool = False


@record
class ProbeTyping:
    """What the checker learned about one probe in one context."""
    types: dict[int, Type] = field(default_factory=dict)
    vars: dict[str, Type] = field(default_factory=dict)


@record
class Group:
    """A probe body compiled once for targets sharing a context."""
    probe: A.Probe
    probe_index: int
    context: ProbeContext
    targets: list


class Checker:
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

    def _check_maps_defined(self, groups: list[Group]) -> None:
        for info in self.maps.values():
            if not info.assigned and info.first_loc is not None:
                self.error(f"map {info.name} is used but never assigned a value",
                           info.first_loc,
                           f"assign it first, e.g. {info.name} = count() or {info.name}[key] = value")

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
        info = self._map(target)
        self._map_keys(info, target)
        if isinstance(value, A.Call):
            fn = self.reg.function(value.name)
            if fn is not None and fn.kind is FnKind.AGG:
                agg = fn.check(self, value)
                self.set(value, agg)
                self._map_value(info, agg, value.loc)
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
        self._map_value(info, storable(t), value.loc)

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
        t = self.expr(s.value)
        if not is_int(t):
            self.error(f"'{s.op}=' needs an integer on the right, not {describe(t)}", s.value.loc)
        target = s.target
        if isinstance(target, A.MapRef):
            info = self._map(target)
            self._map_keys(info, target)
            if info.value is not None and not isinstance(info.value, (Int, Unknown)):
                self.error(f"'{s.op}=' needs an integer map, but {info.name} holds "
                           f"{describe(info.value)}", target.loc)
                return
            self._map_value(info, INT64, target.loc)
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

    # -- maps ------------------------------------------------------------
    def _map(self, ref: A.MapRef) -> MapInfo:
        info = self.maps.get(ref.name)
        if info is None:
            info = self.maps[ref.name] = MapInfo(ref.name)
        if info.first_loc is None:
            info.first_loc = ref.loc
        return info

    def _map_keys(self, info: MapInfo, ref: A.MapRef) -> Type | None:
        """Check the keys a map is used with; returns the key type."""
        if not ref.keys:
            key = None
        else:
            types = [self.expr(k) for k in ref.keys]
            for k, t in zip(ref.keys, types):
                if isinstance(t, (Void, Struct, StructRef)) or (isinstance(t, Agg) and
                                                             not t.is_integer):
                    self.error(f"{describe(t)} cannot be a map key", k.loc)
                    return None
            types = [storable(t) for t in types]
            key = types[0] if len(types) == 1 else Tuple(tuple(types))
        keyed = bool(ref.keys)
        if info.keyed is None:
            info.keyed, info.key, info.key_loc = keyed, key, ref.loc
            return key
        if info.keyed != keyed:
            have = "without keys" if not info.keyed else "with keys"
            self.error(f"{info.name} is used {have} elsewhere; every use of a map needs the "
                       f"same keys", ref.loc,
                       notes=self.note(f"{info.name} first used here", info.key_loc))
            return info.key
        if keyed:
            merged = _merge(info.key, key)
            if merged is None:
                self.error(f"{info.name} is keyed by {_key_words(info.key)} elsewhere, not "
                           f"{_key_words(key)}", ref.loc,
                           notes=self.note(f"{info.name} first keyed here", info.key_loc))
                return info.key
            info.key = merged
        return info.key

    def _map_value(self, info: MapInfo, t: Type, loc: Loc) -> None:
        info.assigned = True
        if info.value is None or isinstance(info.value, Unknown):
            info.value, info.value_loc = t, loc
            return
        old = info.value
        if isinstance(old, Agg) or isinstance(t, Agg):
            if old != t:
                self.error(f"{info.name} already holds {_value_words(old, True)}; it cannot "
                           f"also hold {_value_words(t, True)}", loc,
                           notes=self.note(f"{info.name} first assigned here", info.value_loc))
            return
        merged = _merge(old, t)
        if merged is None:
            self.error(f"{info.name} already holds {_value_words(old)}; it cannot also hold "
                       f"{_value_words(t)}", loc,
                       "use another map for the other value",
                       notes=self.note(f"{info.name} first assigned here", info.value_loc))
            return
        info.value = merged

    def map_read(self, ref: A.MapRef) -> Type:
        info = self._map(ref)
        self._map_keys(info, ref)
        t = info.value
        if t is None:
            return UNKNOWN
        if isinstance(t, Agg):
            if not t.is_integer:
                self.error(f"the value of histogram {ref.name} cannot be read in a probe",
                           ref.loc, f"print it with print({ref.name})")
                return INT64
            if not self.kernel_has_percpu_lookup():
                self.error(f"reading {t.kind.value}() map {ref.name} in a probe needs "
                           f"bpf_map_lookup_percpu_elem (Linux 5.19), which this kernel lacks",
                           ref.loc, "print the map instead, or keep a plain counter: "
                           f"{ref.name}++ instead of {ref.name} = count()")
            return t
        return t

    def kernel_has_percpu_lookup(self) -> bool:
        from .kernelinfo import Feature
        return self.kernel.has(Feature.PERCPU_LOOKUP)

    # -- expressions -----------------------------------------------------
    def expr(self, e: A.Expr) -> Type:
        t = getattr(self, "expr_" + type(e).__name__)(e)
        return self.set(e, t)

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
            return len(self.params)
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
            self.error(f"unknown function {e.name}()", e.name_loc, _name_hint(e.name, self.reg))
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

    def expr_Cast(self, e: A.Cast) -> Type:
        t = self.expr(e.operand)
        name = e.type.name
        if name.startswith(("struct ", "union ", "enum ")):
            return self._kernel_cast(e, t)
        if not is_int(t):
            self.error(f"cannot cast {describe(t)} to {e.type}", e.loc)
            return INT64
        bits = 8 if name == "bool" else int(name.lstrip("uint"))
        base = Int(bits, not name.startswith("u") and name != "bool")
        if e.type.pointers:
            return Ptr(base)
        return base

    def _kernel_cast(self, e: A.Cast, t: Type) -> Type:
        """``(struct sock *)arg0``: the type comes from the kernel's BTF."""
        from .kernel_types import NO_BTF, converter, lookup
        if not is_int(t):
            self.error(f"cannot cast {describe(t)} to {e.type}", e.loc)
            return INT64
        if converter(self.kernel) is None:
            self.error(f"cannot cast to {e.type}: {NO_BTF}", e.type.loc,
                       "read the value as an integer, or use tracepoints whose fields "
                       "are typed")
            return INT64
        target = lookup(self.kernel, e.type.name, e.type.pointers)
        if target is None:
            self.error(f"the kernel has no type '{e.type.name}'", e.type.loc,
                       "list kernel types with: pytrace -lv 'struct NAME'")
            return INT64
        if not e.type.pointers and not isinstance(target, Int):
            self.error(f"cannot cast an integer to {e.type}, only to a pointer to it",
                       e.type.loc, f"write ({e.type} *)")
            return INT64
        return target

    def expr_FieldAccess(self, e: A.FieldAccess) -> Type:
        t = self.expr(e.operand)
        if isinstance(t, Unknown):
            return UNKNOWN              # the operand's error was reported already
        # kernel structs (BTF) are reached through pointers, any number of
        # hops: ``curtask->real_parent->comm``; '.' and '->' both work
        if isinstance(t, Ptr) and isinstance(t.target, (Struct, StructRef)):
            t = t.target
        s = struct_of(t)
        if s is not None:
            f = s.field(e.name)
            if f is None:
                what = s.name if " " in s.name or "(" in s.name or not s.name else str(s)
                self.error(f"{what or 'this struct'} has no field '{e.name}'",
                           e.loc, _field_hint(e.name, s))
                return UNKNOWN          # reported; uses of it stay quiet
            return f.type
        if isinstance(t, Tuple):
            self.error("tuple elements are read by position: t.0, t.1, …", e.loc)
            return INT64
        self.error(f"'{'->' if e.arrow else '.'}{e.name}' needs a struct, not {describe(t)}",
                   e.loc)
        return INT64

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

    def expr_Sizeof(self, e: A.Sizeof) -> Type:
        if isinstance(e.what, A.TypeName):
            if e.what.name.startswith(("struct", "union", "enum")):
                self.kernel_type(e.what, f"sizeof({e.what})")
        else:
            self.expr(e.what)
        return UINT64

    def kernel_type(self, tn: A.TypeName, what: str) -> Type | None:
        """The BTF type a ``TypeName`` names, or None after reporting why not."""
        from .kernel_types import NO_BTF, converter, lookup
        if converter(self.kernel) is None:
            self.error(f"{what} needs kernel type information: {NO_BTF}", tn.loc)
            return None
        t = lookup(self.kernel, tn.name, tn.pointers)
        if t is None:
            self.error(f"the kernel has no type '{tn.name}'", tn.loc,
                       "list kernel types with: pytrace -lv 'struct NAME'")
        return t

    def expr_Offsetof(self, e: A.Offsetof) -> Type:
        t = self.kernel_type(e.type, f"offsetof({e.type}, {e.member})")
        if t is not None:
            s = struct_of(t)
            if s is None:
                self.error(f"offsetof() needs a struct or union, not {e.type}", e.type.loc)
            elif s.field(e.member) is None:
                self.error(f"{s} has no field '{e.member}'", e.loc, _field_hint(e.member, s))
        return UINT64


def _as_int(t: Type) -> Int:
    if isinstance(t, Int):
        return t
    if isinstance(t, Agg):
        return INT64
    return UINT64


def _key_words(t: Type | None) -> str:
    if isinstance(t, Tuple):
        return "(" + ", ".join(_key_words(x) for x in t.elems) + ")"
    if isinstance(t, Str):
        return "string"
    if isinstance(t, (Int, Ptr, Special)):
        return "integer"
    return str(t)


def _value_words(t: Type, plural: bool = False) -> str:
    if isinstance(t, Agg):
        return f"{t.kind.value}() values"
    if isinstance(t, Tuple):
        return ("tuples " if plural else "a tuple ") + _key_words(t)
    if plural:
        return {"an integer": "integers", "a string": "strings"}.get(describe(t), describe(t))
    return describe(t)


def _str_hint(lt: Type, rt: Type, op: str = "==") -> str | None:
    if isinstance(lt, Str) or isinstance(rt, Str):
        if op == "+":
            return "strings cannot be added; print them together with printf(\"%s%d\", …)"
        return "strings compare only with strings; integers only with integers"
    return None


def _near(name: str, names) -> str | None:
    import difflib
    got = difflib.get_close_matches(name, list(names), n=1, cutoff=0.75)
    return got[0] if got else None


def _name_hint(name: str, reg) -> str | None:
    guess = _near(name, reg.names())
    if guess:
        return f"did you mean '{guess}'?"
    return "scratch variables are written $name and maps @name"


def _field_hint(name: str, t: Struct) -> str | None:
    names = [f.name for f in t.fields if not f.name.startswith("common_")]
    guess = _near(name, names)
    if guess:
        return f"did you mean '{guess}'?"
    if names:
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        return f"its fields are: {shown}"
    return None
