"""pytrace.pyz: one file, run by a python3 with nothing but its standard
library (``-I -S``: no site-packages, so no Lark and no installed pytrace)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

pytest.importorskip("lark")          # the build needs it; the archive does not

from pytrace.tools import pyz       # noqa: E402


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("pyz") / "pytrace.pyz"
    size = pyz.build(str(out))
    assert size == out.stat().st_size and size < 4 << 20
    return out


def _run(archive, *args, timeout=60):
    return subprocess.run([sys.executable, "-I", "-S", str(archive), *args],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=archive.parent, stdin=subprocess.DEVNULL)


def test_the_archive_holds_the_tables_and_no_cache_files(archive):
    names = zipfile.ZipFile(archive).namelist()
    assert "__main__.py" in names and "pytrace/lang/grammar.tables" in names
    assert "pytrace/lang/grammar.lark" in names and "pytrace/cli.pyc" in names
    assert not [n for n in names if "__pycache__" in n]
    assert archive.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_it_parses_without_lark(archive):
    p = _run(archive, "-e", 'BEGIN { printf("x" }')
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("-e:1:20: error: unexpected '}'"), p.stderr
    assert "Traceback" not in p.stderr and "lark" not in p.stderr
    v = _run(archive, "--version")
    assert v.returncode == 0 and v.stdout.startswith("pytrace ")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to load BPF programs")
def test_it_runs_begin_printf(archive):
    p = _run(archive, "-e", 'BEGIN { printf("hi\\n"); exit(); }')
    if p.returncode != 0 and "Operation not permitted" in p.stderr:
        pytest.skip(p.stderr)
    assert (p.returncode, p.stdout, p.stderr) == (0, "hi\n", "")
