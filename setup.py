"""Build hook: ship the parser tables Lark generates from grammar.lark, so
an installed pytrace never has to import Lark at start-up."""
import importlib
import os
import sys
import types

from setuptools import setup
from setuptools.command.build_py import build_py


def _load_table_modules(root: str):
    """pytrace/lang/lalr.py (the tables) and pytrace/base/grammar_tables.py
    (their file), without running the package's ``__init__`` modules: each
    is imported as part of package stubs whose paths are the real folders."""
    for name, folder in (("_pytrace_build", "pytrace"), ("_pytrace_build.base", "pytrace/base"),
                         ("_pytrace_build.lang", "pytrace/lang")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(root, folder)]
        sys.modules[name] = pkg
    return (importlib.import_module("_pytrace_build.lang.lalr"),
            importlib.import_module("_pytrace_build.base.grammar_tables"))


class BuildPyWithTables(build_py):
    def run(self):
        super().run()
        lalr, grammar_tables = _load_table_modules(os.path.dirname(os.path.abspath(__file__)))
        grammar_tables.write_packaged(
            lalr.export, lalr.TABLES_FORMAT,
            os.path.join(self.build_lib, "pytrace", "lang", "grammar.tables"))


setup(cmdclass={"build_py": BuildPyWithTables})
