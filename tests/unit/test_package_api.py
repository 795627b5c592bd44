"""What ``import pytrace`` offers a library user, and that it stays light."""
from __future__ import annotations

import subprocess
import sys

import pytrace
from pytrace.base import diagnostics


def test_errors_are_reachable_from_the_package():
    assert pytrace.CompileError is diagnostics.CompileError
    assert pytrace.PytraceError is diagnostics.PytraceError
    assert pytrace.RuntimeFailure is diagnostics.RuntimeFailure


def test_importing_the_package_imports_no_stage():
    code = ("import sys, pytrace; "
            "print(sorted(m for m in sys.modules if m.startswith('pytrace')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['pytrace']"
