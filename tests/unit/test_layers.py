"""The layout is the pipeline: a module imports only from its own stage or an
earlier one, and the pure stages make no system calls.

Every ``import`` and ``from … import`` in ``pytrace/`` is read with ``ast``
(at the top of a module and inside functions alike, since pytrace imports
lazily), resolved to an absolute module name and checked against ``STAGES``.
This test is the rule; the README's *Layout* section explains it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytrace"

#: the pipeline, earliest first: a module may import its own stage and any
#: earlier one. ``bpf.insn`` (the instruction set) and ``bpf.insn_text`` (its
#: text) are a stage of their own, before ``lang``, because the IR is written
#: in the ISA's words; the rest of ``bpf`` (emit, program BTF) comes after
#: ``lang``, which it consumes.
STAGES: tuple[tuple[str, ...], ...] = (
    ("pytrace.base",),
    ("pytrace.bpf.insn", "pytrace.bpf.insn_text"),
    ("pytrace.btf",),
    ("pytrace.lang",),
    ("pytrace.bpf",),
    ("pytrace.compile",),
    ("pytrace.elf",),
    ("pytrace.kernel",),
    ("pytrace.symbols",),
    ("pytrace.providers",),
    ("pytrace.render",),
    ("pytrace.runtime",),
    ("pytrace.tools",),
    ("pytrace.repl",),
    # entry points: nothing inside the stages imports them
    ("pytrace", "pytrace.__main__", "pytrace.cli", "pytrace.api"),
)

#: stages that compute only: no system calls, no files, no processes
PURE = ("pytrace.lang", "pytrace.bpf")
#: standard modules whose only use is to reach the operating system
SYSTEM_MODULES = frozenset({"os", "ctypes", "mmap", "fcntl", "socket", "subprocess",
                            "select", "signal", "resource", "shutil", "tempfile",
                            "marshal", "pytrace.base.cache"})


def stage_of(module: str) -> int | None:
    """The index in STAGES of the most specific prefix naming ``module``."""
    best, best_len = None, -1
    for i, names in enumerate(STAGES):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_len:
                if name == "pytrace" and module != "pytrace":
                    continue      # the package itself only, not everything under it
                best, best_len = i, len(name)
    return best


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(module: str, source: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in ``source``. ``from X
    import name`` yields X.name too when that could be a submodule, so
    ``from ..kernel import bpf`` counts as importing pytrace.kernel.bpf."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return found


def violations(modules: dict[str, tuple[str, bool]], known: set[str]) -> list[str]:
    """Messages for imports that break the order. ``modules``: name ->
    (source, is_package); ``known``: every module name that exists (so
    ``from . import Name`` of a plain name is not taken for a module)."""
    out = []
    for name, (source, is_pkg) in sorted(modules.items()):
        own = stage_of(name)
        if own is None:
            out.append(f"{name}: in no stage; add its folder to STAGES in tests/unit/test_layers.py")
            continue
        pure = any(name == p or name.startswith(p + ".") for p in PURE) and \
            not name.startswith("pytrace.bpf.insn")
        for line, target in imports(name, source, is_pkg):
            if pure and target in SYSTEM_MODULES:
                out.append(f"{name}:{line}: imports {target}, but {name.rsplit('.', 1)[0]} "
                           f"is a pure stage (no system calls, no files)")
            if not target.startswith("pytrace") or (target not in known and
                                                    target.rpartition(".")[0] in known):
                continue
            theirs = stage_of(target)
            if theirs is not None and theirs > own:
                allowed = ", ".join(n for names in STAGES[:own + 1] for n in names
                                    if n != "pytrace")
                out.append(f"{name}:{line}: imports {target} (a later stage); "
                           f"{name} may import only: {allowed}")
    return out


def tree() -> tuple[dict[str, tuple[str, bool]], set[str]]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        modules[module_name(path, PACKAGE)] = (path.read_text(), path.name == "__init__.py")
    return modules, set(modules)


def test_every_import_follows_the_pipeline():
    modules, known = tree()
    problems = violations(modules, known)
    assert not problems, "\n".join(problems)


def test_every_module_is_in_a_stage():
    modules, _ = tree()
    assert [m for m in modules if stage_of(m) is None] == []


# -- the test of the test -----------------------------------------------------

KNOWN = {"pytrace", "pytrace.lang", "pytrace.lang.ir", "pytrace.lang.compiler",
         "pytrace.bpf", "pytrace.bpf.emit", "pytrace.bpf.insn", "pytrace.base",
         "pytrace.base.record", "pytrace.kernel", "pytrace.kernel.bpf", "pytrace.cli",
         "pytrace.runtime", "pytrace.runtime.session"}


def check(name: str, source: str, is_pkg: bool = False) -> list[str]:
    return violations({name: (source, is_pkg)}, KNOWN | {name})


def test_the_old_lang_to_emit_import_is_caught():
    # what lang/compiler.py did before compile.py existed
    got = check("pytrace.lang.compiler", "from ..bpf.emit import emit\n")
    assert got == ["pytrace.lang.compiler:1: imports pytrace.bpf.emit (a later stage); "
                   "pytrace.lang.compiler may import only: pytrace.base, pytrace.bpf.insn, "
                   "pytrace.bpf.insn_text, pytrace.btf, pytrace.lang"]


def test_imports_inside_functions_count():
    src = "def f():\n    from ..kernel import bpf\n    return bpf\n"
    got = check("pytrace.lang.compiler", src)
    assert [g.split(" (")[0] for g in got] == [
        "pytrace.lang.compiler:2: imports pytrace.kernel",
        "pytrace.lang.compiler:2: imports pytrace.kernel.bpf"]


def test_earlier_stages_and_the_isa_leaf_are_allowed():
    src = "from ..bpf.insn import AluOp\nfrom ..base.record import record\nfrom . import ir\n"
    assert check("pytrace.lang.lower", src) == []
    assert check("pytrace.bpf.emit", "from ..lang import ir\n") == []


def test_the_isa_leaf_may_not_import_the_language():
    got = check("pytrace.bpf.insn", "from ..lang import ir\n")
    assert len(got) == 2 and got[0].startswith("pytrace.bpf.insn:1: imports pytrace.lang ")


def test_entry_points_are_imported_by_nothing():
    got = check("pytrace.runtime.session", "from ..cli import main\n")
    assert got and got[0].startswith("pytrace.runtime.session:1: imports pytrace.cli ")


def test_pure_stages_make_no_system_calls():
    got = check("pytrace.lang.lalr", "import os\nfrom ..base.cache import write_atomic\n")
    assert got == [
        "pytrace.lang.lalr:1: imports os, but pytrace.lang is a pure stage (no system calls, no files)",
        "pytrace.lang.lalr:2: imports pytrace.base.cache, but pytrace.lang is a pure stage "
        "(no system calls, no files)"]


def test_a_plain_name_from_a_package_is_not_a_module():
    # ``from . import Provider`` names a class of the package, not a module
    assert check("pytrace.lang.builtins.net", "from . import FnKind\n") == []


@pytest.mark.parametrize("module,stage", [("pytrace.bpf.insn", 1), ("pytrace.bpf.emit", 4),
                                          ("pytrace", 14), ("pytrace.cli", 14),
                                          ("pytrace.base.arch", 0)])
def test_stage_of(module, stage):
    assert stage_of(module) == stage
