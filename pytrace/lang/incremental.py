"""Compiling more probes into a script that is already loaded.

The interactive session (``pytrace.runtime.live``) compiles each input against the
``CompiledScript`` of everything loaded so far (``compile_ast(base=...)``):
maps keep their specs (the kernel's maps cannot change layout), event ids
and pytrace's counters continue after the base's, and a new use of a map
must agree with its loaded type, or the input gets a located compile error
like any other type conflict.
"""
from __future__ import annotations

from ..base.diagnostics import CompileError, Diagnostic, Severity
from . import ast as A
from .program import CompiledScript, MapSpec
from .semantics import Checker, MapInfo


def seed_maps(checker: Checker, base: CompiledScript) -> None:
    """Start the checker with the base's maps typed as they are loaded, so
    the new probes read them, update them, or conflict with them."""
    for spec in base.user_maps:
        key_loc, value_loc = base.map_origins.get(spec.name, (None, None))
        checker.maps[spec.name] = MapInfo(
            spec.name, keyed=spec.key is not None, key=spec.key, value=spec.value,
            key_loc=key_loc, value_loc=value_loc, first_loc=key_loc, assigned=True)


def keep_loaded_maps(maps: dict[str, MapSpec], base: CompiledScript,
                     program: A.Program) -> None:
    """Replace the specs the checker derived for the base's maps by the
    loaded ones; a map whose layout would change is a compile error (for
    instance a string map loaded with 16-byte strings being given longer
    ones)."""
    errors = []
    for old in base.user_maps:
        new = maps.get(old.name)
        if new is None:
            continue
        if (new.kind, new.key, new.value, new.key_size, new.value_size) == \
                (old.kind, old.key, old.value, old.key_size, old.value_size):
            maps[old.name] = old
            continue
        origin = base.map_origins.get(old.name, (None, None))[1]
        notes = (Diagnostic(Severity.NOTE, f"{old.name} was defined here", origin),) \
            if origin is not None else ()
        errors.append(Diagnostic(
            Severity.ERROR, f"{old.name} is loaded with {_layout(old)}; this would need "
            f"{_layout(new)}", _first_use(program, old.name),
            "a loaded map keeps its types: store values that fit them, or use another map",
            notes))
    if errors:
        raise CompileError(errors)


def _layout(spec: MapSpec) -> str:
    if spec.key is None:
        return f"{spec.value} values"
    return f"{spec.key} keys and {spec.value} values"


def _first_use(program: A.Program, name: str):
    for node in A.walk(program):
        if isinstance(node, A.MapRef) and node.name == name:
            return node.loc
    return program.loc
