"""C workloads for the user-space probe tests, built once per test session
from tests/kernel/workloads/*.c with the host's gcc (``-O1 -g
-fno-omit-frame-pointer``, so frame-pointer stack walks see every frame).
USDT programs also need <sys/sdt.h> (Debian: systemtap-sdt-dev). Tests
using a program that cannot be built are skipped with the reason.

    from cprogs import cprog          # the fixture
    def test_x(cprog):
        path = cprog("retval")         # workloads/retval.c -> an executable
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WORKLOADS = Path(__file__).resolve().parent / "workloads"
#: program -> its sources (default: <program>.c)
SOURCES = {"usdt_prog": ["usdt_prog.c", "usdt_sem.c"]}
CFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer"]
SDT_HEADER = "sys/sdt.h"


def build(name: str, out_dir: Path, cc: str = "gcc", extra: list | None = None) -> Path:
    """Compile workloads/<name>.c (and SOURCES) into out_dir/<name>; raises
    RuntimeError with the compiler's output when it fails."""
    out = out_dir / name
    sources = [str(WORKLOADS / s) for s in SOURCES.get(name, [f"{name}.c"])]
    p = subprocess.run([cc, *CFLAGS, *(extra or []), "-o", str(out), *sources],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"{cc} failed for {name}:\n{p.stderr}")
    return out


def has_header(header: str, cc: str = "gcc") -> bool:
    p = subprocess.run([cc, "-E", "-x", "c", "-o", os.devnull, "-"], input=f"#include <{header}>\n",
                       capture_output=True, text=True, timeout=60)
    return p.returncode == 0


def missing_tools(name: str, cc: str = "gcc") -> str | None:
    if shutil.which(cc) is None:
        return f"{cc} is not installed (Debian: apt-get install gcc)"
    if name.startswith("usdt") and not has_header(SDT_HEADER, cc):
        return f"<{SDT_HEADER}> is missing (Debian: apt-get install systemtap-sdt-dev)"
    return None


@pytest.fixture(scope="session")
def cprog(tmp_path_factory):
    """cprog(name[, *flags]) -> path of workloads/<name>.c built with gcc."""
    out_dir = tmp_path_factory.mktemp("cprogs")
    built: dict = {}

    def get(name: str, *flags: str) -> str:
        key = (name, flags)
        if key not in built:
            why = missing_tools(name)
            if why:
                pytest.skip(why)
            sub = out_dir / ("_".join(f.strip("-") for f in flags) or "default")
            sub.mkdir(exist_ok=True)
            built[key] = str(build(name, sub, extra=list(flags)))
        return built[key]
    return get
