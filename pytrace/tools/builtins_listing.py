"""``pytrace -l builtins[:PATTERN]``: every builtin variable, builtin function
and probe type with its one-line doc; ``-lv`` adds each function's calls and
each probe type's other spellings.

The words come from the builtins registry (``lang.builtins``) and the probe
type registry (``providers``), and the REPL completes from the same list
(``repl.words.SessionWords``), so what is listed is what completes.
"""
from __future__ import annotations

import fnmatch

from ..base.record import record

#: the kinds, in listing order
VARIABLE, FUNCTION, PROBE = "variable", "function", "probe"


@record(frozen=True)
class BuiltinWord:
    """A builtin variable or function, or a probe type."""
    name: str                           # argN for the arg0, arg1, … family
    kind: str                           # VARIABLE, FUNCTION or PROBE
    doc: str
    signature: str = ""                 # a function's calls, " | " between forms
    aliases: tuple[str, ...] = ()       # a probe type's other spellings
    completion: str = ""                # what completion inserts, when not the name


def builtin_words() -> list[BuiltinWord]:
    """The builtin variables, then the builtin functions (an alias such as
    ``quantize`` under its own name), each sorted by name."""
    from ..lang.builtins import registry
    reg = registry()
    out = [BuiltinWord(name, VARIABLE, v.doc, completion=name[:-1] + "0" if v.family else "")
           for name, v in sorted(reg.variables.items())]
    out += [BuiltinWord(name, FUNCTION, f.doc, signature=f.signature)
            for name, f in sorted(reg.functions.items())]
    return out


def probe_types() -> list[BuiltinWord]:
    """The probe types in the registry's order, with their other spellings."""
    from ..providers import providers
    return [BuiltinWord(p.name, PROBE, p.doc, aliases=tuple(p.aliases)) for p in providers()]


def print_builtins(out, pattern: str, verbose: bool) -> int:
    """The listing; ``pattern`` (a glob, empty for all) selects by name
    (or a probe type's other spelling)."""
    words = [w for w in builtin_words() + probe_types()
             if not pattern or any(fnmatch.fnmatchcase(n, pattern) for n in (w.name, *w.aliases))]
    width = max((len(w.name) for w in words), default=0) + 2
    for w in words:
        out.write(f"{w.kind:<10}{w.name:<{width}}{w.doc}".rstrip() + "\n")
        if verbose:
            for line in _details(w):
                out.write(f"    {line}\n")
    return 0


def _details(word: BuiltinWord) -> list[str]:
    if word.kind == FUNCTION:
        return word.signature.split(" | ") if word.signature else []
    if word.kind == PROBE and word.aliases:
        return ["also: " + ", ".join(word.aliases)]
    return []
