"""Runs inside an arm64 guest (tests/vm/test_vm_user_probes.py boots it):
the uprobe/usdt/profile/stack checks of tests/kernel on the guest's kernel
and C programs cross-built on the host. Standard library only (the guest
has python3.11 and nothing else); prints one line per check:

    CHECK <name> ok
    CHECK <name> FAIL <repr of what went wrong>
"""
import os
import re
import subprocess
import sys
import time

from guest_checks import checks_of, run_checks

HOST = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=HOST, PYTRACE_CACHE_DIR=os.path.join(HOST, ".cache"))
PROGS = os.path.join(HOST, "cprogs")
PY = sys.executable
sys.path.insert(0, HOST)


def pytrace(*args, timeout=240):
    p = subprocess.run([PY, "-m", "pytrace", *map(str, args)], capture_output=True, text=True,
                       env=ENV, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def check_getppid():
    r = pytrace("-e", "uprobe:libc:getppid /pid == cpid/ { @ = count(); }",
                "-c", f"{PY} -c 'import os; [os.getppid() for _ in range(321)]'")
    assert r[:2] == (0, "\n\n@: 321\n"), r


def check_uretprobe():
    prog = f"{PROGS}/retval"
    r = pytrace("-e", f"uretprobe:{prog}:answer {{ @ret[retval] = count(); }} "
                f"uprobe:{prog}:answer {{ @arg[arg0] = count(); }}", "-c", f"{prog} 10")
    assert r[:2] == (0, "\n\n@arg[1]: 3\n@arg[2]: 3\n@arg[0]: 4\n"
                        "@ret[1]: 3\n@ret[7]: 3\n@ret[4294967291]: 4\n"), r


def check_offsets_and_addresses():
    from pytrace.elf.reader import ElfFile
    prog = f"{PROGS}/retval"
    with ElfFile(prog) as elf:
        addr = elf.symbol("answer").value
    r = pytrace("-e", f"uprobe:{prog}:answer+4 {{ @a = count(); }} "
                f"uprobe:{prog}:0x{addr:x} {{ @b = count(); }}", "-c", f"{prog} 7")
    assert r[:2] == (0, "\n\n@a: 7\n@b: 7\n"), r
    r = pytrace("-e", f"uprobe:{prog}:answer+2 {{ }}")
    assert r[0] == 2 and "is not a multiple of the instruction size (4 bytes)" in r[2], r


def check_usdt():
    prog = f"{PROGS}/usdt_prog"
    r = pytrace("-e", f'usdt:{prog}:test:plain {{ printf("plain %d %d %d %s\\n", arg0, arg1, '
                f'arg2, str(arg3)); }} usdt:{prog}:test:hello {{ printf("hello %d %d %d\\n", '
                f'arg0, arg1, arg2); }} usdt:{prog}:test:consts {{ printf("consts %d %d\\n", '
                f'arg0, arg1); }} usdt:{prog}:test:mem {{ printf("mem %d %d %d\\n", arg0, arg1, '
                'arg2); }', "-c", f"{prog} 2")
    lines = r[1].splitlines(keepends=True)
    assert r[0] == 0 and "semaphore at exit: 1\n" in lines, r
    lines.remove("semaphore at exit: 1\n")
    want = "".join(f"plain {i} {-i} {-7 * i} hello usdt\nhello {i} {100 + i} "
                   f"{1000 + i * (i + 1) // 2}\nconsts 42 -5\nmem -3 {i} {-i}\n" for i in (1, 2))
    assert "".join(lines) == want, r


def check_profile_ustack():
    r = pytrace("-e", "profile:hz:499 /pid == cpid/ { @[ustack] = count(); }",
                "-c", f"{PROGS}/callchain 1500")
    assert r[0] == 0, r
    total = hits = 0
    for block, count in re.findall(r"@\[\n(.*?)\n\]: (\d+)", r[1], re.S):
        names = [f.strip().split("+")[0] for f in block.split("\n")]
        total += int(count)
        if names[:4] == ["inner_spin", "middle_fn", "outer_fn", "main"]:
            hits += int(count)
    assert total >= 30 and hits >= total * 0.6, (total, hits, r)


def check_kstack():
    # not a syscall tracepoint: before Linux 6.x those hand BPF the user
    # registers, so a kernel stack from them is empty (bpftrace's too)
    r = pytrace("-e", "tracepoint:sched:sched_process_exec /pid == cpid/ "
                "{ @[kstack] = count(); }", "-c", f"{PY} -c 'import os; os.getppid()'")
    frames = re.findall(r"^    (\w+)\+\d+$", r[1], re.M)
    with open("/proc/kallsyms") as f:
        names = {line.split()[2] for line in f}
    assert r[0] == 0 and frames and all(n in names for n in frames), r


def check_breakpoint_removed():
    from pytrace.elf.reader import ElfFile
    from pytrace.symbols.procmaps import read_maps
    victim = subprocess.Popen([PY, "-c", "import os, time\nwhile True:\n    os.getppid()\n"
                               "    time.sleep(0.005)"])
    try:
        time.sleep(2)
        m = next(m for m in read_maps(victim.pid) if "libc.so" in m.path and m.executable)
        with ElfFile(m.path) as elf:
            off = elf.vaddr_to_offset(elf.symbol("getppid").value)
        addr = m.start + off - m.pgoff

        def code():
            with open(f"/proc/{victim.pid}/mem", "rb") as f:
                f.seek(addr)
                return f.read(4)
        before = code()
        p = subprocess.Popen([PY, "-m", "pytrace", "-e", "uprobe:libc:getppid { @ = count(); }"],
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        during = code()
        p.terminate()
        out, err = p.communicate(timeout=60)
        after = code()
        brk = (0xd42000a0).to_bytes(4, "little")
        assert line.startswith("Attached") and during == brk and after == before != brk, \
            (line, before.hex(), during.hex(), after.hex(), err)
    finally:
        victim.kill()
        victim.wait()


def check_listing():
    r = pytrace("-l", f"uprobe:{PROGS}/retval:*")
    names = [line.rsplit(":", 1)[1] for line in r[1].splitlines()]
    assert r[0] == 0 and {"answer", "negative", "main"} <= set(names), r


CHECKS = checks_of(globals())


def main() -> int:
    wanted = set(sys.argv[1:])
    return run_checks(CHECKS, lambda name: not wanted or name in wanted)


if __name__ == "__main__":
    sys.exit(main())
