"""Build ``pytrace.pyz``: pytrace as one file for devices without pip.

    python3 -m pytrace.tools.pyz [-o pytrace.pyz] [--no-pyc]

The archive holds the ``pytrace`` package (sources, ``grammar.lark``) and
the parser tables built now from the grammar (this needs Lark, here, at
build time only: nothing imports Lark at run time once the tables are
there), plus a ``__main__`` that runs the command line. It runs with any
``python3`` (3.10+) and its standard library alone:

    python3 pytrace.pyz -e 'BEGIN { printf("hi\\n"); exit(); }'

prompt-toolkit (the REPL) and pyroute2 (tc) stay optional, imported only
when used, as in an installed pytrace.

Unless ``--no-pyc``, each module is also stored compiled for the building
interpreter (an unchecked-hash ``.pyc`` beside its source): a device's
python3 of the same version imports those without compiling (on a slow
CPU that is most of start-up); any other version compiles the sources,
as zipimport does.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import py_compile
import sys
import tempfile
import zipfile

from ..base import grammar_tables
from ..lang import lalr

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MAIN = ("import sys\n"
         "from pytrace.cli import main\n"
         "sys.exit(main())\n")
#: what an archive never needs
_SKIP_DIRS = {"__pycache__"}
_KEEP = (".py", ".lark")


def _sources(root: str):
    """(path on disk, name in the archive) of every file the package ships."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(_KEEP):
                path = os.path.join(folder, name)
                yield path, os.path.join("pytrace", os.path.relpath(path, root))


def _pyc(path: str, arcname: str, tmp: str) -> str:
    out = os.path.join(tmp, arcname.replace(os.sep, "_") + "c")
    py_compile.compile(path, cfile=out, dfile=arcname, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return out


def build(output: str, pyc: bool = True) -> int:
    """Write the archive to ``output``; its size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        tables = grammar_tables.write_packaged(lalr.export, lalr.TABLES_FORMAT,
                                               os.path.join(tmp, "grammar.tables"))
        part = output + ".part"
        with open(part, "wb") as f:
            f.write(b"#!/usr/bin/env python3\n")
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
                z.writestr("__main__.py", _MAIN)
                for path, arcname in _sources(_PACKAGE):
                    z.write(path, arcname)
                    if pyc and arcname.endswith(".py"):
                        z.write(_pyc(path, arcname, tmp), arcname + "c")
                z.write(tables, os.path.join("pytrace", "lang", "grammar.tables"))
        os.chmod(part, 0o755)
        os.replace(part, output)
    return os.path.getsize(output)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m pytrace.tools.pyz",
                                 description="build pytrace.pyz, a single-file pytrace")
    ap.add_argument("-o", "--output", default="pytrace.pyz")
    ap.add_argument("--no-pyc", action="store_true",
                    help="sources only (smaller; each start compiles what it imports)")
    a = ap.parse_args(argv)
    if importlib.util.find_spec("lark") is None:
        sys.stderr.write("error: building the parser tables needs Lark here "
                         "(pip install lark); the archive will not need it\n")
        return 1
    size = build(a.output, pyc=not a.no_pyc)
    sys.stdout.write(f"{a.output}: {size} bytes ({size / 1024:.0f} KiB)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
