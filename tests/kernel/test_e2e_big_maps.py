"""A real map of 50,000 keys read whole with BPF_MAP_LOOKUP_BATCH and with
``--no-feature map_batch`` (get_next_key + lookup): the same text and JSON,
every key's exact count (bench/map_fill.c calls getpgid(i) (i % 5) + 1
times for each i), sorted as bpftrace sorts (by count, ties by key)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import pytrace

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
              pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]

N = 50_000
SCRIPT = ("config = { max_map_keys = 60000 }\n"
          "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ { @[args.pid] = count(); }")
HERE = os.path.dirname(os.path.abspath(__file__))
FILL = os.path.join(HERE, "..", "..", "bench", "map_fill.c")


@pytest.fixture(scope="module")
def fill(tmp_path_factory) -> str:
    exe = str(tmp_path_factory.mktemp("fill") / "map_fill")
    subprocess.run(["gcc", "-O2", "-o", exe, FILL], check=True)
    return exe


def _expected() -> str:
    order = sorted(range(N), key=lambda i: (i % 5 + 1, i))
    return "\n\n" + "".join(f"@[{i}]: {i % 5 + 1}\n" for i in order)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_batch_and_fallback_print_the_same_50k_keys(fill, fmt):
    runs = [pytrace("-q", "-f", fmt, *extra, "-e", SCRIPT, "-c", f"{fill} {N}", timeout=120)
            for extra in ([], ["--no-feature", "map_batch"])]
    for r in runs:
        assert r.rc == 0, r
    assert runs[0].out == runs[1].out
    if fmt == "text":
        assert runs[0].out == _expected()
    else:
        data = json.loads(runs[0].out.strip().splitlines()[-1])["data"]["@"]
        assert data == {str(i): i % 5 + 1 for i in range(N)}
