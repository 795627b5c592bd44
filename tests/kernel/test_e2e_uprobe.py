"""uprobe/uretprobe end to end: exact counts and return values from
deterministic workloads, bpftrace 0.17 as the oracle for count and retval
maps, every spelling of an attach point, -p PID, listings, user stacks
and symbols of exited processes, and that no uprobe stays in a process
after pytrace ends (the breakpoint byte is read from the process's memory
while tracing and after)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import (PY, WORKLOADS, finish, needs_root, normalise_map_text, pytrace, start,
                      wait_attached)
from cprogs import cprog  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

sys.path.insert(0, str(WORKLOADS.parents[2]))
from pytrace.elf.reader import ElfFile  # noqa: E402
from pytrace.symbols.procmaps import read_maps  # noqa: E402

MACHINE = os.uname().machine
#: the breakpoint a uprobe writes over the first instruction
BREAKPOINT = {"x86_64": b"\xcc", "aarch64": (0xd42000a0).to_bytes(4, "little")}


def test_libc_getppid_counted_exactly():
    r = pytrace("-e", "uprobe:libc:getppid /pid == cpid/ { @ = count(); }",
                "-c", f"{PY} -c 'import os; [os.getppid() for _ in range(321)]'")
    assert (r.rc, r.out) == (0, "\n\n@: 321\n"), r
    assert r.err == "Attached 1 probe\n", r


def test_uretprobe_prints_known_return_values(cprog):
    prog = cprog("retval")
    r = pytrace("-e", f"uretprobe:{prog}:answer {{ @ret[retval] = count(); }} "
                f"uprobe:{prog}:answer {{ @arg[arg0] = count(); }}", "-c", f"{prog} 10")
    # answer(x) = 6x - 5 for x = i % 3, i < 10; an int, so -5 is 0xfffffffb in rax
    assert r.out == ("\n\n@arg[1]: 3\n@arg[2]: 3\n@arg[0]: 4\n"
                     "@ret[1]: 3\n@ret[7]: 3\n@ret[4294967291]: 4\n"), r


def test_same_maps_as_bpftrace(cprog, oracle):
    prog = cprog("retval")
    script = (f"uprobe:{prog}:answer /pid == cpid/ {{ @args[arg0] = count(); @n = count(); }} "
              f"uretprobe:{prog}:answer /pid == cpid/ {{ @ret[retval] = count(); "
              f"@sum = sum(retval); }} "
              f"uretprobe:{prog}:negative /pid == cpid && retval == 0/ {{ @zero[probe] = count(); }}")
    ours = pytrace("-e", script, "-c", f"{prog} 25")
    theirs = oracle(script, "-c", f"{prog} 25")
    assert ours.rc == 0 and theirs.rc == 0, (ours, theirs)
    assert normalise_map_text(ours.out) == normalise_map_text(theirs.out, True), (ours, theirs)


def _second_instruction(path: str, func: str) -> int:
    """The offset of ``func``'s second instruction (a safe place for a
    uprobe): from objdump on x86, where instructions vary in length."""
    if MACHINE != "x86_64":
        return 4
    out = subprocess.run(["objdump", "-d", f"--disassemble={func}", path], capture_output=True,
                         text=True, check=True).stdout
    addrs = [int(line.split(":")[0], 16) for line in out.splitlines()
             if line.startswith("  ") and ":" in line and line.split(":")[0].strip()]
    return addrs[1] - addrs[0]


def test_every_spelling_of_an_attach_point(cprog):
    prog = cprog("retval")
    with ElfFile(prog) as elf:
        address = elf.symbol("answer").value
    second = _second_instruction(prog, "answer")
    r = pytrace("-e", f"uprobe:{prog}:answer {{ @[probe] = count(); }} "
                f"u:{prog}:answer+{second} {{ @[probe] = count(); }} "
                f"uprobe:{prog}:0x{address:x} {{ @[probe] = count(); }} "
                f"ur:{prog}:answ* {{ @[probe] = count(); }}", "-c", f"{prog} 7")
    assert r.rc == 0 and r.err == "Attached 4 probes\n", r
    assert r.out.startswith("\n\n"), r
    assert sorted(r.out.split("\n")[2:-1]) == [
        f"@[uprobe:{prog}:0x{address:x}]: 7", f"@[uprobe:{prog}:answer+{second}]: 7",
        f"@[uprobe:{prog}:answer]: 7", f"@[uretprobe:{prog}:answer]: 7"], r


def test_pid_limits_uprobes_to_one_process():
    traced = subprocess.Popen([PY, str(WORKLOADS / "gated_getppid.py"), "250"],
                              stdin=subprocess.PIPE, text=True)
    noise = subprocess.Popen([PY, "-c", "import os, time\nwhile True:\n    os.getppid()\n"
                              "    time.sleep(0.001)"])
    try:
        p = start("-p", traced.pid, "-e", f"uprobe:libc:getppid {{ @[pid == {traced.pid}] = "
                  "count(); } uretprobe:libc:getppid { @ret = count(); }")
        wait_attached(p)
        traced.communicate("go\n", timeout=20)
        r = finish(p, timeout=20)
    finally:
        noise.kill()
        noise.wait()
        traced.wait()
    assert (r.rc, r.out) == (0, "\n\n@[1]: 250\n@ret: 250\n"), r


def test_listing_matches_bpftrace(oracle):
    from conftest import run, BPFTRACE
    ours = pytrace("-l", "uprobe:/bin/bash:read*")
    theirs = run([BPFTRACE, "-l", "uprobe:/bin/bash:read*"])
    assert ours.rc == 0 and ours.out == theirs.out, (ours, theirs)
    assert "uprobe:/bin/bash:read_command\n" in ours.out


def test_user_stack_symbols_and_uaddr_after_exit(cprog):
    prog = cprog("retval")
    r = pytrace("-e", f"uprobe:{prog}:answer {{ @s[ustack(2)] = count(); "
                f"@p[ustack(perf, 1)] = count(); @c = *uaddr(\"counter\"); }}",
                "-c", f"{prog} 5")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    # answer's entry, then its caller; bpftrace's offsets are decimal
    assert lines[2:5] == ["@c: 42", "@p[", f"\t{lines[4][1:].split()[0]} answer+0 ({prog})"], r
    # at a function's entry the frame-pointer walk skips the direct caller
    # (its return address is on the stack, not yet in a frame)
    s = lines.index("@s[")
    assert lines[s + 1] == "    answer+0", r
    assert re.fullmatch(r"    (main|__libc_start_call_main)\+\d+", lines[s + 2]), r
    assert lines[s + 3] == "]: 5", r


def _probe_address(pid: int, path_part: str, func: str) -> tuple[int, bytes]:
    """The run-time address of ``func`` in ``pid`` and the file's bytes there."""
    m = next(m for m in read_maps(pid) if path_part in m.path and m.executable)
    with ElfFile(m.path) as elf:
        off = elf.vaddr_to_offset(elf.symbol(func).value)
    with open(m.path, "rb") as f:
        f.seek(off)
        original = f.read(4)
    return m.start + off - m.pgoff, original


def _code(pid: int, addr: int, n: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(addr)
        return f.read(n)


@pytest.mark.parametrize("how", ["exit", "SIGINT", "SIGTERM"])
def test_no_uprobe_left_in_a_running_process(how):
    if MACHINE not in BREAKPOINT:
        pytest.skip(f"breakpoint instruction of {MACHINE} not known here")
    bp = BREAKPOINT[MACHINE]
    victim = subprocess.Popen([PY, "-c", "import os, time\nwhile True:\n    os.getppid()\n"
                               "    time.sleep(0.002)"])
    try:
        time.sleep(0.3)
        addr, original = _probe_address(victim.pid, "libc.so", "getppid")
        assert _code(victim.pid, addr, len(bp)) == original[:len(bp)]
        script = "uprobe:libc:getppid { @ = count(); }"
        if how == "exit":
            script += " interval:ms:300 { exit(); }"
        p = start("-e", script)
        wait_attached(p)
        assert _code(victim.pid, addr, len(bp)) == bp, "the uprobe is not in place"
        if how != "exit":
            time.sleep(0.1)
            p.send_signal(getattr(signal, how))
        r = finish(p)
        assert r.rc == 0 and r.out.startswith("\n\n@: "), r
        assert _code(victim.pid, addr, len(bp)) == original[:len(bp)], \
            f"a breakpoint is still in the process after {how}"
    finally:
        victim.kill()
        victim.wait()


def test_errors_name_what_to_do():
    r = pytrace("-e", "uprobe:libnosuchlib:f { }")
    assert r.rc == 2 and r.err == (
        "-e:1:1: error: uprobe: cannot find 'libnosuchlib'\n"
        "uprobe:libnosuchlib:f { }\n~~~~~~~~~~~~~~~~~~~~~\n"
        "hint: 'libnosuchlib' is neither a program on $PATH nor a library the dynamic linker "
        "knows (ldconfig -p); give its path\n"), r
    r = pytrace("-e", "uprobe:libc:getppidd { }")
    assert r.rc == 2 and "error: /lib" in r.err and "has no function 'getppidd'" in r.err, r
    assert "hint: did you mean getppid or getpid or __getppid?" in r.err, r
