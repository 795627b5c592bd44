"""Runs inside a guest of another architecture (tests/vm/test_vm_arch.py
boots it): pytrace from the zipapp (/host/pytrace.pyz, run with
``python3 -I -S``: the guest's own python3 and its standard library only)
against deterministic workloads, exact expected output. Standard library
only; prints one line per check:

    CHECK <name> ok
    CHECK <name> FAIL <repr of what went wrong>
    TIME begin_exit <seconds> <peak RSS KiB>

argv[1:]: the checks to skip (what this leg's kernel cannot do).
"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time

from guest_checks import checks_of, run_checks

HOST = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYZ = os.path.join(HOST, "pytrace.pyz")
PROGS = os.path.join(HOST, "cprogs")
PY = sys.executable
TRACER = [PY, "-I", "-S", PYZ]
ENV = dict(os.environ, PYTRACE_CACHE_DIR=os.path.join(HOST, ".cache"))
MARK = "/tmp/pytrace-arch-marker"


def pytrace(*args, timeout=300):
    p = subprocess.run([*TRACER, *map(str, args)], capture_output=True, text=True, env=ENV,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def pyc(code: str) -> str:
    """A -c workload: the guest's python3 without site (faster start)."""
    return f"{PY} -I -S -c '{code}'"


def check_begin_end():
    r = pytrace("-e", 'BEGIN { printf("hello %d %s\\n", 42, "str"); printf("%s", "str\\n"); '
                'exit(); } END { printf("end\\n"); }', timeout=120)
    assert r[:2] == (0, "hello 42 str\nstr\nend\n"), r


def check_tracepoint_count_hist():
    r = pytrace("-e", "tracepoint:syscalls:sys_enter_getpgid /pid == cpid/ "
                "{ @n = count(); @h = hist(args->pid); }",
                "-c", pyc("import os\nfor _ in range(5): os.getpgid(0)\n"
                          "for _ in range(3): os.getpgid(1)"))
    want = ("\n\n@h:\n"
            "[0]                    5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
            "[1]                    3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                     |\n"
            "\n@n: 8\n")
    assert r[:2] == (0, want), r


def check_tracepoint_str():
    r = pytrace("-e", "tracepoint:syscalls:sys_enter_openat /pid == cpid/ "
                "{ @[str(args->filename)] = count(); }",
                "-c", pyc(f"import os\nfor _ in range(3):\n try: os.open(\"{MARK}\", 0)\n"
                          " except OSError: pass"))
    assert r[0] == 0 and f"@[{MARK}]: 3\n" in r[1], r


def check_interval():
    r = pytrace("-e", "interval:ms:100 { @n = count(); if (@n == 3) { exit(); } }",
                timeout=120)
    assert r[:2] == (0, "\n\n@n: 3\n"), r


def check_uprobe_uretprobe():
    prog = f"{PROGS}/retval"
    # answer() returns int -5: s390x, ppc64 and riscv64 ABIs sign-extend an
    # int result to the 64-bit register, the others leave it zero-extended
    neg = 2**64 - 5 if os.uname().machine in ("s390x", "ppc64le", "riscv64") else 2**32 - 5
    r = pytrace("-e", f"uretprobe:{prog}:answer {{ @ret[retval] = count(); }} "
                f"uprobe:{prog}:answer {{ @arg[arg0] = count(); }}", "-c", f"{prog} 10")
    assert r[:2] == (0, "\n\n@arg[1]: 3\n@arg[2]: 3\n@arg[0]: 4\n"
                        f"@ret[1]: 3\n@ret[7]: 3\n@ret[{neg}]: 4\n"), r


def check_profile_kstack():
    r = pytrace("-e", "profile:hz:99 { @[kstack] = count(); } interval:s:2 { exit(); }")
    frames = re.findall(r"^    (\w+)\+\d+$", r[1], re.M)
    with open("/proc/kallsyms") as f:
        names = {line.split()[2] for line in f}
    assert r[0] == 0 and frames and all(n in names for n in frames), r


def _stopped_by(sig: int):
    p = subprocess.Popen([*TRACER, "-e", "tracepoint:syscalls:sys_enter_getppid "
                          "/pid == 1/ { @ = count(); } END { printf(\"bye\\n\"); }"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    line = p.stderr.readline()
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert line.startswith("Attached") and p.returncode == 0 and out == "bye\n", \
        (line, p.returncode, out, err)


def check_sigint():
    _stopped_by(signal.SIGINT)


def check_sigterm():
    _stopped_by(signal.SIGTERM)


def check_kprobe():
    # do_sys_openat2(int dfd, const char __user *filename, struct open_how *how)
    reg0 = {"armv7l": "r0", "i686": "ax", "s390x": "r2", "ppc64le": "r3",
            "riscv64": "a0"}[os.uname().machine]
    r = pytrace("-e", f'kprobe:do_sys_openat2 /pid == cpid && str(arg1) == "{MARK}"/ '
                f'{{ @[(int32)arg0, (int32)reg("{reg0}")] = count(); }}',
                "-c", pyc(f"import os\nfor _ in range(4):\n try: os.open(\"{MARK}\", 0)\n"
                          " except OSError: pass"))
    assert r[:2] == (0, "\n\n@[-100, -100]: 4\n"), r


def check_xdp_lo():
    subprocess.run(["ip", "link", "set", "lo", "up"])
    p = subprocess.Popen([*TRACER, "-e", "xdp:lo /udp.dport == 9999/ "
                          "{ @[udp.dport] = count(); drop; }"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    line = p.stderr.readline()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 9999))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(100):
        s.sendto(b"x", ("127.0.0.1", 9999))
    time.sleep(0.5)
    got = 0
    while True:
        try:
            sink.recv(10, socket.MSG_DONTWAIT)
            got += 1
        except BlockingIOError:
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    left = subprocess.run(["ip", "link", "show", "lo"], capture_output=True, text=True).stdout
    assert line.startswith("Attached") and p.returncode == 0 and got == 0 \
        and out == "\n\n@[9999]: 100\n" and "xdp" not in left, (line, got, out, err, left)


def check_no_btf_one_line():
    # fentry itself is no test here: without it pytrace runs fentry as kprobe
    if os.path.exists("/sys/kernel/btf/vmlinux"):
        return
    r = pytrace("-e", "kprobe:vfs_read { @ = (struct file *)arg0; }", timeout=120)
    said = [line for line in r[2].splitlines() if "ERROR" in line or "error" in line]
    assert r[0] != 0 and r[1] == "" and len(said) == 1 and "BTF" in said[0] \
        and "Traceback" not in r[2], r


def time_begin_exit():
    best = None
    for _ in range(3):
        t = time.monotonic()
        subprocess.run([*TRACER, "-e", "BEGIN { exit(); }"], env=ENV, check=True,
                       capture_output=True, timeout=300)
        dt = time.monotonic() - t
        best = dt if best is None else min(best, dt)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"TIME begin_exit {best:.2f} {rss}", flush=True)


CHECKS = checks_of(globals())


def main() -> int:
    skipped = set(sys.argv[1:])
    print("UNAME", " ".join(os.uname()), flush=True)
    time_begin_exit()     # first: peak RSS of the children so far is its own
    return run_checks(CHECKS, lambda name: name not in skipped, timed=True)


if __name__ == "__main__":
    sys.exit(main())
