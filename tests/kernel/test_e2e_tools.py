"""bpftrace's tools, as features: for each tool of bpftrace v0.17.0 that runs
here (opensnoop, statsnoop, execsnoop, syscount, killsnoop, setuids,
syncsnoop, pidpersec, bitesize/cpuwalk, gethostlatency), a script of our own
that uses what the tool uses -- the same probe kinds, printf column formats,
maps keyed by tid and deleted on exit, time builtins, join()/str(), hist()
and lhist(), print(@m, top), clear() -- run against workloads/toolcalls.py,
which makes a known number of each call. Every script filters on
``pid == cpid`` (or the fork parent), so the output is exact: it is
checked line for line, and where bpftrace is installed the same script
runs under it and must print the same lines, after taking out only what
README lists under "Differences from bpftrace 0.17" ("Attaching N
probes...", the blank lines 0.17 adds at exit and after each map, lhist's
single-value labels) and what varies from run to run (the clock)."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import OPEN_MARK_FLAGS, PREAD_MARK_POS, PY, WORKLOADS, needs_root, pytrace, BPFTRACE, bpftrace

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]


def calls(*specs: str) -> str:
    return " ".join([PY, str(WORKLOADS / "toolcalls.py"), *specs])


SCALAR_ZERO = re.compile(r"^@\w*: 0$")
CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")
#: 0.17 prints lhist's one-value buckets as [N, N+1); current bpftrace as [N]
LHIST_017 = re.compile(r"^\[(-?\d+), (-?\d+)\)(?=\s)")


def _one_value(m: re.Match) -> str:
    lo, hi = int(m.group(1)), int(m.group(2))
    label = f"[{lo}]" if hi == lo + 1 else m.group(0)
    return label + " " * (len(m.group(0)) - len(label))


def lines(text: str, bpftrace_017: bool = False) -> list[str]:
    out = []
    for line in text.splitlines():
        if bpftrace_017:
            if line.startswith("Attaching ") and line.endswith(" probes..."):
                continue
            line = LHIST_017.sub(_one_value, line)
            if line.endswith(": ") and line.startswith("@"):       # hist header
                line = line[:-1]
            if SCALAR_ZERO.match(line):     # a scalar map cleared before exit
                continue
        line = CLOCK.sub("HH:MM:SS", line)
        if line.strip():
            out.append(line)
    return out


OPENSNOOP = f"""
BEGIN {{ printf("Tracing open syscalls... Hit Ctrl-C to end.\\n");
        printf("%-16s %4s %3s %s\\n", "COMM", "FD", "ERR", "PATH"); }}
tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat
/pid == cpid && args->flags == {OPEN_MARK_FLAGS}/ {{ @filename[tid] = args->filename; }}
tracepoint:syscalls:sys_exit_open, tracepoint:syscalls:sys_exit_openat /@filename[tid]/ {{
  $ret = args->ret;
  $fd = $ret >= 0 ? $ret : -1;
  $errno = $ret >= 0 ? 0 : - $ret;
  printf("%-16s %4d %3d %s\\n", comm, $fd, $errno, str(@filename[tid]));
  delete(@filename[tid]);
}}
END {{ clear(@filename); }}
"""

STATSNOOP = """
BEGIN { printf("%-16s %3s %s\\n", "COMM", "ERR", "PATH"); }
tracepoint:syscalls:sys_enter_newstat,
tracepoint:syscalls:sys_enter_newlstat, tracepoint:syscalls:sys_enter_newfstatat,
tracepoint:syscalls:sys_enter_statx /pid == cpid && str(args->filename) == "/tmp/pt-tools-no"/
{ @filename[tid] = args->filename; @start[tid] = nsecs; }
tracepoint:syscalls:sys_exit_newstat,
tracepoint:syscalls:sys_exit_newlstat, tracepoint:syscalls:sys_exit_newfstatat,
tracepoint:syscalls:sys_exit_statx /@start[tid]/ {
  $ret = args->ret;
  $errno = $ret >= 0 ? 0 : - $ret;
  $us = (nsecs - @start[tid]) / 1000;
  printf("%-16s %3d %s %s\\n", comm, $errno, str(@filename[tid]), $us < 1000000 ? "fast" : "slow");
  delete(@start[tid]); delete(@filename[tid]);
}
END { clear(@start); clear(@filename); }
"""

EXECSNOOP = """
BEGIN { printf("%-5s %s\\n", "OK", "ARGS"); }
tracepoint:syscalls:sys_enter_execve, tracepoint:syscalls:sys_enter_execveat /pid == cpid/ {
  printf("%-5s ", elapsed > 0 ? "yes" : "no");
  join(args->argv);
}
"""

SYSCOUNT = """
BEGIN { printf("Counting syscalls... Hit Ctrl-C to end.\\n"); }
tracepoint:raw_syscalls:sys_enter /pid == cpid && (args->id == 62 || args->id == 105 ||
    args->id == 162)/ { @syscall[args->id] = count(); @process[comm] = count(); }
END {
  printf("\\nTop 2 syscalls IDs:\\n"); print(@syscall, 2); clear(@syscall);
  printf("\\nTop processes:\\n"); print(@process, 10); clear(@process);
}
"""

KILLSNOOP = """
BEGIN { printf("%-16s %4s %-6s %6s\\n", "COMM", "SIG", "TPID", "RESULT"); }
tracepoint:syscalls:sys_enter_kill /pid == cpid/ { @tpid[tid] = args->pid; @tsig[tid] = args->sig; }
tracepoint:syscalls:sys_exit_kill /@tpid[tid]/ {
  printf("%-16s %4d %-6s %6d\\n", comm, @tsig[tid], @tpid[tid] == pid ? "self" : "other", args->ret);
  delete(@tpid[tid]); delete(@tsig[tid]);
}
"""

SETUIDS = """
BEGIN { printf("%-9s %-16s %-6s %-9s %s\\n", "TIME", "COMM", "UID", "SYSCALL", "ARGS (RET)"); }
tracepoint:syscalls:sys_enter_setuid, tracepoint:syscalls:sys_enter_setfsuid /pid == cpid/
{ @uid[tid] = uid; @setuid[tid] = args->uid; @seen[tid] = 1; }
tracepoint:syscalls:sys_exit_setuid /@seen[tid]/ {
  time("%H:%M:%S ");
  printf("%-16s %-6d setuid    uid=%d (%d)\\n", comm, @uid[tid], @setuid[tid], args->ret);
  delete(@seen[tid]); delete(@uid[tid]); delete(@setuid[tid]);
}
"""

SYNCSNOOP = """
BEGIN { printf("%-9s %-16s %s\\n", "TIME", "COMM", "EVENT"); }
tracepoint:syscalls:sys_enter_sync, tracepoint:syscalls:sys_enter_syncfs,
tracepoint:syscalls:sys_enter_fsync /pid == cpid/ {
  time("%H:%M:%S  ");
  printf("%-16s %s\\n", comm, probe);
}
"""

PIDPERSEC = """
BEGIN { printf("Tracing new processes... Hit Ctrl-C to end.\\n"); }
tracepoint:sched:sched_process_fork /args->parent_pid == cpid/ { @ = count(); @n = count(); }
END { time("%H:%M:%S PIDs: "); print(@); clear(@); printf("total %d\\n", 1); print(@n); }
"""

BITESIZE = f"""
BEGIN {{ printf("I/O size (bytes) histograms by process name:\\n"); }}
tracepoint:syscalls:sys_enter_pread64 /pid == cpid && args->pos == {PREAD_MARK_POS}/ {{
  @size[comm] = hist(args->count);
  @kib = lhist(args->count / 1000, 0, 1000, 1);
  @cpu = lhist(cpu, 0, 1000, 1);
}}
END {{ clear(@cpu); }}
"""

GETHOSTLATENCY = """
BEGIN { printf("%-16s %-10s %s\\n", "COMM", "LAT", "HOST"); }
uprobe:libc:getaddrinfo /pid == cpid/ { @start[tid] = nsecs; @name[tid] = arg0; }
uretprobe:libc:getaddrinfo /@start[tid]/ {
  $lat = (nsecs - @start[tid]) / 1000000;
  printf("%-16s %-10s %s\\n", comm, $lat < 1000 ? "ok" : "slow", str(@name[tid]));
  delete(@start[tid]); delete(@name[tid]);
}
"""

H = "python3         "
CASES = {
    "opensnoop": (OPENSNOOP, calls("open=/etc/hostname:2", "open=/tmp/pt-tools-no:1"), [
        "Tracing open syscalls... Hit Ctrl-C to end.",
        "COMM               FD ERR PATH",
        f"{H}    3   0 /etc/hostname",
        f"{H}    3   0 /etc/hostname",
        f"{H}   -1   2 /tmp/pt-tools-no"]),
    "statsnoop": (STATSNOOP, calls("stat=/tmp/pt-tools-no:3"), [
        "COMM             ERR PATH"] + [f"{H}   2 /tmp/pt-tools-no fast"] * 3),
    "execsnoop": (EXECSNOOP, calls("exec=/usr/bin/true,a,bc,d-e"), [
        "OK    ARGS", f"yes   {calls('exec=/usr/bin/true,a,bc,d-e')}",
        "yes   /usr/bin/true a bc d-e"]),
    "syscount": (SYSCOUNT, calls("kill=5", "setuid=3", "sync=1"), [
        "Counting syscalls... Hit Ctrl-C to end.",
        "Top 2 syscalls IDs:", "@syscall[105]: 3", "@syscall[62]: 6",
        "Top processes:", "@process[python3]: 10"]),
    "killsnoop": (KILLSNOOP, calls("kill=2"), [
        "COMM              SIG TPID   RESULT",
        f"{H}    0 self        0", f"{H}    0 self        0",
        f"{H}    0 other      -3"]),
    "setuids": (SETUIDS, calls("setuid=2"), [
        "TIME      COMM             UID    SYSCALL   ARGS (RET)"]
        + [f"HH:MM:SS {H} 0      setuid    uid=0 (0)"] * 2),
    "syncsnoop": (SYNCSNOOP, calls("sync=2"), [
        "TIME      COMM             EVENT"]
        + [f"HH:MM:SS  {H} tracepoint:syscalls:sys_enter_sync"] * 2),
    "pidpersec": (PIDPERSEC, calls("fork=4"), [
        "Tracing new processes... Hit Ctrl-C to end.",
        "HH:MM:SS PIDs: @: 4", "total 1", "@n: 4", "@n: 4"]),
    "bitesize": (BITESIZE, calls("read=13000:3", "read=16000:2"), [
        "I/O size (bytes) histograms by process name:",
        "@kib:",
        "[13]                   3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
        "[14]                   0 |                                                    |",
        "[15]                   0 |                                                    |",
        "[16]                   2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |",
        "@size[python3]:",
        "[8K, 16K)              5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"]),
    "gethostlatency": (GETHOSTLATENCY, calls("resolve=2"), [
        "COMM             LAT        HOST"] + [f"{H} ok         localhost"] * 2),
}


def both(script: str, command: str):
    with ThreadPoolExecutor(2) as pool:
        theirs = pool.submit(bpftrace, script, "-c", command) if BPFTRACE else None
        ours = pool.submit(pytrace, "-q", "-e", script, "-c", command)
        return (theirs.result() if theirs else None), ours.result()


@pytest.mark.parametrize("tool", list(CASES))
def test_tool_prints_what_bpftrace_prints(tracefs, tool):
    script, command, expected = CASES[tool]
    theirs, ours = both(script, command)
    assert (ours.rc, ours.err) == (0, ""), ours
    assert lines(ours.out) == expected, ours
    if theirs is not None:
        assert theirs.rc == 0, theirs
        assert lines(theirs.out, bpftrace_017=True) == expected, f"{theirs}\n=== ours ===\n{ours}"
