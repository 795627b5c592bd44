"""Build hook: ship the parser tables Lark generates from grammar.lark, so
an installed pytrace never has to import Lark at start-up."""
import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithTables(build_py):
    def run(self):
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location(
            "_pytrace_lalr", os.path.join(here, "pytrace", "lang", "lalr.py"),
            submodule_search_locations=[])
        # lalr.py imports ..cache relatively: load it as part of a package stub
        import sys
        import types
        pkg = types.ModuleType("_pytrace_build")
        pkg.__path__ = [os.path.join(here, "pytrace")]
        sys.modules["_pytrace_build"] = pkg
        lang = types.ModuleType("_pytrace_build.lang")
        lang.__path__ = [os.path.join(here, "pytrace", "lang")]
        sys.modules["_pytrace_build.lang"] = lang
        spec = importlib.util.spec_from_file_location(
            "_pytrace_build.lang.lalr", os.path.join(here, "pytrace", "lang", "lalr.py"))
        lalr = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = lalr
        spec.loader.exec_module(lalr)
        lalr.PACKAGED_TABLES = os.path.join(self.build_lib, "pytrace", "lang", "grammar.tables")
        lalr.write_packaged()


setup(cmdclass={"build_py": BuildPyWithTables})
