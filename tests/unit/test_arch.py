"""The architecture table: layouts from the kernel's headers, and an
unknown machine as one line with exit status 1 (never a traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytrace.base import arch
from pytrace.base.arch import ByteOrder, UnsupportedArch
from pytrace.base.diagnostics import PytraceError

REPO = Path(__file__).resolve().parents[2]


def _fake_uname(monkeypatch, machine: str) -> None:
    real = os.uname()
    monkeypatch.setattr(arch.os, "uname", lambda: os.uname_result(
        (real.sysname, real.nodename, real.release, real.version, machine)))


def test_an_unknown_machine_is_a_pytrace_error_naming_it_and_what_to_do(monkeypatch):
    _fake_uname(monkeypatch, "sparc64")
    with pytest.raises(UnsupportedArch) as info:
        arch.current()
    err = info.value
    assert isinstance(err, PytraceError) and err.exit_code == 1
    text = err.render()
    assert "\n" not in text
    assert text.startswith("error: pytrace does not know the 'sparc64' architecture (known: ")
    assert "add it to pytrace/base/arch.py" in text


@pytest.mark.parametrize("machine, name", [
    ("x86_64", "x86_64"), ("i686", "i386"), ("armv7l", "arm"), ("aarch64", "aarch64"),
    ("riscv64", "riscv64"), ("ppc64le", "ppc64le"), ("s390x", "s390x"),
    ("mips64", "mips64el")])
def test_uname_spellings(machine, name):
    assert arch.lookup(machine).name == name


def test_a_machine_this_python_cannot_drive_is_one_line_too():
    with pytest.raises(UnsupportedArch, match="big-endian machine and pytrace knows mips64el"):
        arch.check_host(arch.lookup("mips64"), "mips64", ByteOrder.BIG, 64)
    with pytest.raises(UnsupportedArch, match="this Python is 32-bit on a 64-bit kernel"):
        arch.check_host(arch.lookup("aarch64"), "aarch64", ByteOrder.LITTLE, 32)
    assert arch.check_host(arch.lookup("s390x"), "s390x", ByteOrder.BIG, 64).name == "s390x"


def test_the_cli_prints_one_line_and_exits_1_on_an_unknown_machine():
    code = ("import os, sys\n"
            "r = os.uname()\n"
            "os.uname = lambda: os.uname_result((r.sysname, r.nodename, r.release, "
            "r.version, 'sparc64'))\n"
            "from pytrace.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    for args in (["-e", "BEGIN { exit(); }"], ["--info"], ["--dry-run", "-e", "BEGIN { }"]):
        p = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                           stdin=subprocess.DEVNULL, timeout=60)
        assert p.returncode == 1, p.stderr
        assert p.stdout == ""
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.startswith("error: pytrace does not know the 'sparc64' architecture")


# -- layouts: each number is the header's (see the comments in base/arch.py) ----------

@pytest.mark.parametrize("machine, bits, order, nr_bpf, nr_perf, args, ret, ip, sp", [
    # arch/x86/include/asm/ptrace.h (32-bit): bx cx dx si di bp ax ds es fs gs orig_ax ip..
    ("i386", 32, ByteOrder.LITTLE, 357, 336, (24, 8, 4), 24, 48, 60),
    # arch/arm/include/uapi/asm/ptrace.h: uregs[18]
    ("arm", 32, ByteOrder.LITTLE, 386, 364, (0, 4, 8, 12), 0, 60, 52),
    # arch/powerpc/include/uapi/asm/ptrace.h: gpr[32] nip ...; args r3..r10
    ("ppc64le", 64, ByteOrder.LITTLE, 361, 319, tuple(range(24, 88, 8)), 24, 256, 8),
    # arch/s390/include/uapi/asm/ptrace.h: args[1] psw{mask,addr} gprs[16]; args r2..r6
    ("s390x", 64, ByteOrder.BIG, 351, 331, (40, 48, 56, 64, 72), 40, 16, 144),
    # arch/mips/include/asm/ptrace.h (64-bit): regs[32] cp0_status hi lo badvaddr cause epc
    ("mips64el", 64, ByteOrder.LITTLE, 5315, 5292, tuple(range(32, 96, 8)), 16, 296, 232),
])
def test_layouts(machine, bits, order, nr_bpf, nr_perf, args, ret, ip, sp):
    a = arch.lookup(machine)
    assert (a.bits, a.order, a.nr_bpf, a.nr_perf_event_open) == (bits, order, nr_bpf, nr_perf)
    assert tuple(a.arg_offset(i) for i in range(len(a.arg_regs))) == args
    assert (a.reg_offset(a.ret_reg), a.reg_offset(a.ip_reg), a.reg_offset(a.sp_reg)) == \
        (ret, ip, sp)
    assert a.long_size == bits // 8 and a.long_format == ("Q" if bits == 64 else "I")
    assert all(0 <= off < 512 and off % a.long_size == 0 for off in a.regs.values())
    assert all(target in a.regs for target in a.reg_aliases.values())


@pytest.mark.parametrize("machine, alias, name", [
    ("i386", "eax", "ax"), ("arm", "regs[3]", "r3"), ("arm", "r13", "sp"),
    ("ppc64le", "gpr[3]", "r3"), ("s390x", "gprs[15]", "r15"), ("s390x", "psw_addr", "pswaddr"),
    ("mips64el", "regs[4]", "a0"), ("aarch64", "regs[0]", "x0")])
def test_bpftrace_register_aliases(machine, alias, name):
    a = arch.lookup(machine)
    assert a.reg_offset(alias) == a.regs[name]


def test_the_host_byte_order_is_named_once():
    assert arch.BYTE_ORDER == sys.byteorder
    assert arch.STRUCT_ORDER == ("<" if sys.byteorder == "little" else ">")
    assert ByteOrder.BIG.struct == ">" and ByteOrder.LITTLE.struct == "<"
