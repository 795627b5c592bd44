"""The uprobe/usdt/profile/stack checks in an arm64 guest (Debian 6.1
kernel under QEMU, ../shared/vm/vmrun.sh): the C workloads are cross-built
here with Debian's gcc-aarch64-linux-gnu (the guest has no compiler), the
share holds pytrace, lark and the programs, and tests/vm/
guest_user_probes.py runs every check in one boot (Python in the guest
is slow to start). Opt-in: ``pytest --vm`` or PYTRACE_VM=1; marked ``vm``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "tests" / "kernel" / "workloads"
VMRUN = Path(os.environ.get("PYTRACE_VMRUN", REPO.parent / "shared" / "vm" / "vmrun.sh"))
CROSS_CC = "aarch64-linux-gnu-gcc"
CHECKS = ["breakpoint_removed", "getppid", "kstack", "listing", "offsets_and_addresses",
          "profile_ustack", "uretprobe", "usdt"]

pytestmark = pytest.mark.vm


def _enabled(config) -> bool:
    return bool(config.getoption("--vm", default=False)) or os.environ.get("PYTRACE_VM") == "1"


def _sdt_dir() -> Path | None:
    """<sys/sdt.h> is arch-independent; Debian installs it under the host's
    multiarch include directory, which the cross compiler does not search."""
    for d in ("/usr/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu"):
        if (Path(d) / "sys" / "sdt.h").exists():
            return Path(d)
    return None


def _share(tmp: Path) -> Path:
    import lark
    share = tmp / "share"
    shutil.copytree(REPO / "pytrace", share / "pytrace",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(lark.__file__).parent, share / "lark",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (share / "tests" / "vm").mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "guest_user_probes.py", share / "tests" / "vm")
    shutil.copy(Path(__file__).parent / "guest_checks.py", share / "tests" / "vm")
    inc = share / "include" / "sys"
    inc.mkdir(parents=True)
    sdt = _sdt_dir()
    for h in ("sdt.h", "sdt-config.h"):
        shutil.copy(sdt / "sys" / h, inc / h)
    progs = share / "cprogs"
    progs.mkdir()
    flags = ["-O1", "-g", "-fno-omit-frame-pointer"]
    for name, sources in (("retval", ["retval.c"]), ("callchain", ["callchain.c"]),
                          ("usdt_prog", ["usdt_prog.c", "usdt_sem.c"])):
        subprocess.run([CROSS_CC, *flags, f"-I{share / 'include'}", "-o", str(progs / name),
                        *[str(WORKLOADS / s) for s in sources]], check=True, timeout=120)
    return share


@pytest.fixture(scope="module")
def guest_results(request, tmp_path_factory) -> dict:
    if not _enabled(request.config):
        pytest.skip("VM tests are opt-in: pytest --vm (or PYTRACE_VM=1)")
    if not VMRUN.exists():
        pytest.skip(f"{VMRUN} is missing")
    if shutil.which(CROSS_CC) is None:
        pytest.skip(f"{CROSS_CC} is not installed (Debian: apt-get install gcc-aarch64-linux-gnu)")
    if _sdt_dir() is None:
        pytest.skip("<sys/sdt.h> is missing (Debian: apt-get install systemtap-sdt-dev)")
    share = _share(tmp_path_factory.mktemp("vm-arm64"))
    p = subprocess.run([str(VMRUN), "--arch", "arm64", "--share", str(share), "--timeout", "1500",
                        "--", "python3", "tests/vm/guest_user_probes.py"],
                       capture_output=True, text=True, timeout=1800)
    results = dict(re.findall(r"^CHECK (\w+) (ok|FAIL.*)$", p.stdout, re.M))
    if not results:
        pytest.fail(f"the guest ran no check (vmrun exit {p.returncode}):\n{p.stdout[-4000:]}\n"
                    f"{p.stderr[-2000:]}")
    return results


@pytest.mark.parametrize("check", CHECKS)
def test_arm64_guest(guest_results, check):
    assert guest_results.get(check) == "ok", guest_results.get(check, "did not run")
