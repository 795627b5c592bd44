"""usdt end to end: a C program with sys/sdt.h probes (registers, memory,
constants, narrow registers, a %rip-relative global, a semaphore-guarded
probe) built by the test, the same program position-independent and
unoptimised, bpftrace 0.17 as the oracle, and a real provider on the
machine (Debian's python3.11 ships audit/gc/function probes, all with
semaphores)."""
from __future__ import annotations

import subprocess

import pytest

from conftest import PY, finish, needs_root, pytrace, start, wait_attached
from cprogs import cprog  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

SCRIPT = ('usdt:{p}:test:plain {{ printf("plain %d %d %d %s\\n", arg0, arg1, arg2, str(arg3)); }} '
          'usdt:{p}:test:hello {{ printf("hello %d %d %d\\n", arg0, arg1, arg2); }} '
          'usdt:{p}:test:consts {{ printf("consts %d %d\\n", arg0, arg1); }} '
          'U:{p}:mem {{ printf("mem %d %d %d\\n", arg0, arg1, arg2); }}')
EXPECTED = "".join(
    f"plain {i} {-i} {-7 * i} hello usdt\nhello {i} {100 + i} {1000 + i * (i + 1) // 2}\n"
    f"consts 42 -5\nmem -3 {i} {-i}\n" for i in (1, 2, 3))


@pytest.mark.parametrize("flags", [(), ("-O0",), ("-O2", "-fPIE", "-pie"), ("-no-pie",)],
                         ids=["O1", "O0", "O2-pie", "no-pie"])
def test_arguments_and_semaphore(cprog, flags):
    prog = cprog("usdt_prog", *flags)
    r = pytrace("-e", SCRIPT.format(p=prog), "-c", f"{prog} 3")
    assert r.rc == 0 and r.err == "Attached 4 probes\n", r
    # the program prints its semaphore at exit (into the same pipe, in no
    # particular order with our output): the kernel counted our probe there
    lines = r.out.splitlines(keepends=True)
    assert "semaphore at exit: 1\n" in lines, r
    lines.remove("semaphore at exit: 1\n")
    assert "".join(lines) == EXPECTED, r


def test_semaphore_is_zero_untraced(cprog):
    prog = cprog("usdt_prog")
    out = subprocess.run([prog, "2"], capture_output=True, text=True, check=True).stdout
    assert out == "semaphore at exit: 0\n"


def test_semaphore_set_while_traced(cprog):
    prog = cprog("usdt_prog")
    p = start("-e", f"usdt:{prog}:test:hello {{ @ = count(); }}")
    try:
        wait_attached(p)
        out = subprocess.run([prog, "4"], capture_output=True, text=True, check=True).stdout
    finally:
        p.terminate()
        r = finish(p)
    assert out == "semaphore at exit: 1\n"
    assert r.rc == 0 and r.out == "\n\n@: 4\n", r
    after = subprocess.run([prog, "1"], capture_output=True, text=True, check=True).stdout
    assert after == "semaphore at exit: 0\n", "the semaphore stayed up after pytrace ended"


def test_listing(cprog):
    prog = cprog("usdt_prog")
    r = pytrace("-l", f"usdt:{prog}")
    assert (r.rc, r.out) == (0, "".join(f"usdt:{prog}:test:{n}\n"
                                        for n in ("consts", "hello", "mem", "plain"))), r
    r = pytrace("-l", f"usdt:{prog}:*:h*")
    assert r.out == f"usdt:{prog}:test:hello\n", r


def test_same_output_as_bpftrace(cprog, oracle):
    prog = cprog("usdt_prog")
    script = (f"usdt:{prog}:test:plain {{ @[arg0, arg2] = count(); }} "
              f"usdt:{prog}:test:consts {{ @c[arg0] = sum(arg0); }}")
    ours = pytrace("-e", script, "-c", f"{prog} 4")
    theirs = oracle(script, "-c", f"{prog} 4")
    assert ours.rc == 0 and theirs.rc == 0, (ours, theirs)
    ours_lines = [ln for ln in ours.out.splitlines() if ln.startswith("@")]
    theirs_lines = [ln for ln in theirs.out.splitlines() if ln.startswith("@")]
    assert sorted(ours_lines) == sorted(theirs_lines), (ours, theirs)


def _python_has_usdt() -> bool:
    from pytrace.elf.reader import ElfFile
    from pytrace.elf.stapsdt import read_probes
    import os
    path = os.path.realpath(PY)
    try:
        with ElfFile(path) as elf:
            return any(p.name == "audit" for p in read_probes(elf))
    except Exception:
        return False


def test_real_provider_python_audit():
    if not _python_has_usdt():
        pytest.skip(f"{PY} has no USDT audit probe")
    import os
    binary = os.path.realpath(PY)
    r = pytrace("-e", f'usdt:{binary}:python:audit /pid == cpid && str(arg0) == "pytrace.test"/ '
                "{ @[str(arg0)] = count(); }", "-c",
                f"{PY} -c 'import sys; [sys.audit(\"pytrace.test\", i) for i in range(23)]'")
    assert (r.rc, r.out) == (0, "\n\n@[pytrace.test]: 23\n"), r
