"""The kernel-function tests on other kernels: one QEMU guest per kernel
(``../shared/vm/vmrun.sh``), each running tests/kernel/test_e2e_kfunc.py with
pytest inside, the repository shared at /host.

    python3 -m pytest tests/vm --vm                 # every leg (~10-20 min)
    python3 -m pytest tests/vm --vm=x86_64-6.1      # one leg

Legs: x86_64 Debian 6.1 and 6.12 (backports) have kprobes and fentry;
arm64 6.1 loads fentry programs but cannot attach them, so there the
fentry tests must find pytrace running them as kprobes; arm64 6.12 has
both. ``PYTRACE_REQUIRE`` makes a missing required feature fail the
guest's tests instead of skipping them, ``PYTRACE_EXPECT`` pins what
``--info`` must find. The guest has Debian's python3.11 and no pip: lark
and pytest (pure Python) are copied from this interpreter into
``.vmdeps/`` (git-ignored), the parser tables are generated next to the
grammar, and BTF indexes persist in ``.vmdeps/cache`` between runs.
A failing leg shows the guest's whole output.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VMRUN = Path(os.environ.get("PYTRACE_VMRUN", REPO.parent / "shared" / "vm" / "vmrun.sh"))
VMDEPS = REPO / ".vmdeps"
#: pure-Python packages the guest needs, copied from this interpreter
GUEST_MODULES = ("lark", "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments",
                 "py")
TESTS = "tests/kernel/test_e2e_kfunc.py"


@dataclass(frozen=True)
class Leg:
    name: str
    arch: str
    backports: bool
    #: features the kernel must have: tests needing them may not skip
    require: str
    #: PYTRACE_EXPECT: features --info must (not, "-") report
    expect: str
    #: at least this many tests must pass
    min_passed: int


LEGS = [
    Leg("x86_64-6.1", "x86_64", False, "kprobe,fentry,btf,raw_tracepoint,tp_btf",
        "kprobe,fentry,tp_btf,btf", 30),
    Leg("x86_64-6.12", "x86_64", True, "kprobe,fentry,btf,raw_tracepoint,tp_btf",
        "kprobe,fentry,tp_btf,btf,kprobe_multi", 30),
    Leg("arm64-6.1", "arm64", False, "kprobe,btf,raw_tracepoint",
        "kprobe,-fentry,btf", 20),
    Leg("arm64-6.12", "arm64", True, "kprobe,fentry,btf,raw_tracepoint",
        "kprobe,fentry,btf", 30),
]


def _selected(config, leg: Leg) -> bool:
    chosen = config.getoption("--vm")
    return chosen in (None, "all") or leg.name in chosen.split(",")


def _copy_module(name: str) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed here; the guest needs it "
                           f"(pip install --target .vmdeps lark pytest)")
    if spec.submodule_search_locations:
        src = Path(list(spec.submodule_search_locations)[0])
        shutil.copytree(src, VMDEPS / src.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(spec.origin, VMDEPS / Path(spec.origin).name)


def prepare_share() -> None:
    """What the guest cannot make itself: its Python packages, the parser tables."""
    VMDEPS.mkdir(exist_ok=True)
    for name in GUEST_MODULES:
        if not ((VMDEPS / name).exists() or (VMDEPS / f"{name}.py").exists()):
            _copy_module(name)
    from pytrace.base import grammar_tables
    from pytrace.lang import lalr
    grammar_tables.write_packaged(lalr.export, lalr.TABLES_FORMAT)
    (VMDEPS / "cache").mkdir(exist_ok=True)


def guest_command(leg: Leg) -> str:
    env = {
        "PYTHONPATH": "/host/.vmdeps:/host", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTRACE_CACHE_DIR": "/host/.vmdeps/cache", "PYTRACE_REQUIRE": leg.require,
        "PYTRACE_EXPECT": leg.expect,
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    return (f"cd /host && export {exports} && uname -rm && "
            f"python3 -m pytest -q -rfEs --color=no -p no:cacheprovider {TESTS}")


@pytest.mark.vm
@pytest.mark.parametrize("leg", LEGS, ids=[leg.name for leg in LEGS])
def test_kernel_functions_in_a_guest(leg, request):
    if not _selected(request.config, leg):
        pytest.skip(f"--vm does not name {leg.name}")
    if not VMRUN.exists():
        pytest.skip(f"{VMRUN} is not there")
    if os.geteuid() != 0:
        pytest.skip("vmrun.sh needs root (it installs QEMU from Debian packages)")
    prepare_share()
    argv = [str(VMRUN), "--arch", leg.arch, "--share", str(REPO), "--timeout", "2400",
            "--time", *(["--backports"] if leg.backports else []),
            "--", "sh", "-c", guest_command(leg)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=2700)
    shown = f"{leg.name}: {' '.join(argv)}\nexit status {p.returncode}\n{p.stdout}"
    passed = re.search(r"(\d+) passed", p.stdout)
    if p.returncode != 0 or passed is None:
        pytest.fail(f"the guest's tests failed\n{shown}", pytrace=False)
    assert int(passed.group(1)) >= leg.min_passed, shown
    print(shown)
