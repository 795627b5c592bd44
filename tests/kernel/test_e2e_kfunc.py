"""Kernel functions and kernel types on the running kernel, end to end.

Which tests run depends on the kernel: this project's machines have no
kprobes and refuse fentry, so here the kprobe/fentry tests skip and the
raw tracepoint, curtask/BTF and "no mechanism" tests run; inside the QEMU
guests of tests/vm (Debian 6.1 and 6.12, x86_64 and arm64) everything
runs. ``PYTRACE_REQUIRE=kprobe,fentry`` turns a skip for a missing
feature into a failure (the guests set it to what their kernel must
have), ``PYTRACE_EXPECT=kprobe,-fentry`` states the features the kernel
must (not) have.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import PY, finish, needs_root, pytrace, start, wait_attached, workload

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

OPEN_COUNT = 5


# -- what the kernel has --------------------------------------------------------------

_features: frozenset | None = None


def features() -> frozenset[str]:
    global _features
    if _features is None:
        from pytrace.kernel.features import probe_features
        _features = frozenset(f.value for f in probe_features())
    return _features


def _env_list(name: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, "").split(",") if x.strip()]


def need(*names: str) -> None:
    """Skip unless the kernel has every feature named; a feature listed in
    PYTRACE_REQUIRE must be there (the VM legs), so its absence fails."""
    missing = [n for n in names if n not in features()]
    if not missing:
        return
    required = [n for n in missing if n in _env_list("PYTRACE_REQUIRE")]
    if required:
        pytest.fail(f"this kernel must have {', '.join(required)} (PYTRACE_REQUIRE) but "
                    f"pytrace --info says it has not")
    pytest.skip(f"the kernel lacks {', '.join(missing)}")


def test_expected_features():
    expect = _env_list("PYTRACE_EXPECT")
    if not expect:
        pytest.skip("PYTRACE_EXPECT is not set (the VM legs set it)")
    have = features()
    wrong = [e for e in expect if (e.startswith("-") and e[1:] in have) or
             (not e.startswith("-") and e not in have)]
    assert not wrong, f"features {sorted(have)} do not meet {expect}"


# -- helpers ---------------------------------------------------------------------------

@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pytrace-marker"
    path.write_text("")
    return str(path)


def opens(marker: str, fdfile: str | None = None) -> str:
    return workload("open_marker", marker, OPEN_COUNT, *([fdfile] if fdfile else []))


def kprobe_fallback_args() -> list[str]:
    """Arguments that make a kprobe script run as fentry on this kernel."""
    need("fentry")
    return ["--no-feature", "kprobe"] if "kprobe" in features() else []


def fentry_fallback_args() -> list[str]:
    """Arguments that make an fentry script run as a kprobe (arm64 6.1 needs none)."""
    need("kprobe")
    return ["--no-feature", "fentry"] if "fentry" in features() else []


def fds_of(path) -> dict[int, int]:
    with open(path) as f:
        fds = [int(x) for x in f.read().split()]
    return {fd: fds.count(fd) for fd in fds}


def map_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("@")]


def count_script(probe: str, predicate: str) -> str:
    return f"{probe} /pid == cpid && {predicate}/ {{ @ = count(); }}"


# -- kprobes -----------------------------------------------------------------------------

def test_kprobe_str_arg_counts_the_marker_opens(marker):
    need("kprobe")
    r = pytrace("-q", "-e", count_script("kprobe:do_sys_openat2", f'str(arg1) == "{marker}"'),
                "-c", opens(marker))
    assert (r.rc, r.err, map_lines(r.out)) == (0, "", [f"@: {OPEN_COUNT}"]), r


def test_kretprobe_retval_is_the_fd(marker, tmp_path):
    need("kprobe")
    fdfile = tmp_path / "fds"
    r = pytrace("-q", "-e",
                f'kprobe:do_sys_openat2 /pid == cpid && str(arg1) == "{marker}"/ '
                "{ @m[tid] = 1; } "
                "kretprobe:do_sys_openat2 /@m[tid]/ { @fds[retval] = count(); delete(@m[tid]); }",
                "-c", opens(marker, str(fdfile)))
    assert (r.rc, r.err) == (0, ""), r
    assert map_lines(r.out) == [f"@fds[{fd}]: {n}" for fd, n in sorted(fds_of(fdfile).items())], r


def test_kprobe_curtask_func_and_reg(marker):
    need("kprobe")
    r = pytrace("-q", "-e",
                f'kprobe:do_sys_openat2 /pid == cpid && str(arg1) == "{marker}"/ '
                '{ @[func, curtask->tgid == pid, curtask->pid == tid, reg("sp") != 0] = count(); }',
                "-c", opens(marker))
    assert (r.rc, r.err) == (0, ""), r
    assert map_lines(r.out) == [f"@[do_sys_openat2, 1, 1, 1]: {OPEN_COUNT}"], r


def test_kprobe_at_an_offset(marker):
    need("kprobe")
    # an offset must fall on an instruction boundary: after endbr64 (4 bytes)
    # and/or the 5-byte ftrace nop on x86-64, any multiple of 4 on arm64
    tried = []
    for offset in (4, 9, 5, 8):
        r = pytrace("-q", "-e", f"kprobe:do_sys_openat2+{offset} /pid == cpid/ "
                    "{ @[probe] = count(); }", "-c", opens(marker))
        if r.rc == 0:
            (line,) = map_lines(r.out)
            name, n = re.fullmatch(r"@\[(.*)\]: (\d+)", line).groups()
            assert name == f"kprobe:do_sys_openat2+{offset}" and int(n) >= OPEN_COUNT, r
            return
        tried.append(r)
    pytest.fail("no offset attached:\n" + "\n".join(map(repr, tried)))


def test_the_design_one_liner_prints_counts_at_ctrl_c(marker):
    need("kprobe")
    p = start("-e", "kprobe:do_sys_openat2 < @[comm] = count() >")
    try:
        wait_attached(p)
        subprocess.run([PY, "-c", f"import os\nfor _ in range(20): os.close(os.open("
                                  f"{marker!r}, 0))"], check=True)
        time.sleep(0.5)
    finally:
        p.send_signal(signal.SIGINT)
    r = finish(p)
    assert r.rc == 0, r
    counts = dict(re.findall(r"^@\[(.*)\]: (\d+)$", r.out, re.M))
    assert int(counts.get("python3", 0)) >= 20, r


def test_kprobe_through_tracefs_kprobe_events_leaves_nothing(marker):
    need("kprobe")
    r = pytrace("-q", "-e", count_script("kprobe:do_sys_openat2", f'str(arg1) == "{marker}"'),
                "-c", opens(marker), extra_env={"PYTRACE_KPROBE_VIA": "tracefs"})
    assert (r.rc, r.err, map_lines(r.out)) == (0, "", [f"@: {OPEN_COUNT}"]), r
    with open("/sys/kernel/tracing/kprobe_events") as f:
        assert "pytrace_" not in f.read()


def test_stale_kprobe_events_of_a_killed_pytrace_are_swept(marker):
    need("kprobe")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"pytrace_{dead.pid}/do_sys_openat2_1"
    fd = os.open("/sys/kernel/tracing/kprobe_events", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, f"p:{stale} do_sys_openat2\n".encode())
    finally:
        os.close(fd)
    r = pytrace("-q", "-e", count_script("kprobe:do_sys_openat2", f'str(arg1) == "{marker}"'),
                "-c", opens(marker))
    assert (r.rc, map_lines(r.out)) == (0, [f"@: {OPEN_COUNT}"]), r
    with open("/sys/kernel/tracing/kprobe_events") as f:
        assert stale not in f.read()


def test_kprobe_wildcard_shares_a_program_and_names_the_probe(marker):
    need("kprobe")
    r = pytrace("-e", f'kprobe:do_sys_open* /pid == cpid && str(arg1) == "{marker}"/ '
                "{ @[probe] = count(); }", "-c", opens(marker))
    assert r.rc == 0, r
    attached = int(re.search(r"Attached (\d+) probes", r.err).group(1))
    assert attached >= 2, r
    assert map_lines(r.out) == [f"@[kprobe:do_sys_openat2]: {OPEN_COUNT}"], r


def test_kprobe_multi_attaches_a_big_wildcard_at_once(marker):
    need("kprobe", "kprobe_multi")
    r = pytrace("-e", "kprobe:vfs_* /pid == cpid/ { @[probe] = count(); }",
                "-c", opens(marker))
    assert r.rc == 0, r
    assert int(re.search(r"Attached (\d+) probes", r.err).group(1)) >= 20, r
    counts = dict(re.findall(r"^@\[(.*)\]: (\d+)$", r.out, re.M))
    assert int(counts.get("kprobe:vfs_open", 0)) >= OPEN_COUNT, r


def test_kprobe_in_a_module():
    need("kprobe")
    if not os.path.isdir("/sys/module/9pnet/sections"):
        pytest.skip("9pnet is not a loaded module here (the VM guests load it)")
    r = pytrace("-q", "-e", "kprobe:9pnet:p9_client_rpc /pid == cpid/ { @ = count(); }",
                "-c", f"{PY} -c pass")
    assert r.rc == 0 and re.fullmatch(r"@: \d+", map_lines(r.out)[0]), r


def test_fentry_in_a_module():
    need("fentry")
    if not os.path.exists("/sys/kernel/btf/9pnet"):
        pytest.skip("9pnet is not a loaded module with BTF here (the VM guests load it)")
    # reads of a 9p file (the /host share: cache=mmap) go to the server
    r = pytrace("-q", "-e", "fentry:9pnet:p9_client_read /pid == cpid/ "
                "{ @[args->fid != 0] = count(); }",
                "-c", f'{PY} -c "open({__file__!r}).read()"')
    assert r.rc == 0 and re.fullmatch(r"@\[1\]: \d+", map_lines(r.out)[0]), r


def test_kprobe_runs_as_fentry_when_kprobes_are_missing(marker):
    args = kprobe_fallback_args()
    r = pytrace("-q", *args, "-e",
                count_script("kprobe:do_sys_openat2", f'str(arg1) == "{marker}"'),
                "-c", opens(marker))
    assert r.rc == 0, r
    assert r.err.startswith("note: kprobe:do_sys_openat2 runs as fentry:do_sys_openat2: "), r
    assert map_lines(r.out) == [f"@: {OPEN_COUNT}"], r


def test_kretprobe_runs_as_fexit(marker, tmp_path):
    args = kprobe_fallback_args()
    fdfile = tmp_path / "fds"
    r = pytrace("-q", *args, "-e",
                f'kprobe:do_sys_openat2 /pid == cpid && str(arg1) == "{marker}"/ '
                "{ @m[tid] = 1; } "
                "kretprobe:do_sys_openat2 /@m[tid]/ { @fds[retval] = count(); delete(@m[tid]); }",
                "-c", opens(marker, str(fdfile)))
    assert r.rc == 0 and "runs as fexit:do_sys_openat2" in r.err, r
    assert map_lines(r.out) == [f"@fds[{fd}]: {n}" for fd, n in sorted(fds_of(fdfile).items())], r


def test_no_fallback_refuses_to_run_a_kprobe_as_fentry():
    need("fentry")
    r = pytrace("--no-feature", "kprobe", "--no-fallback", "-e",
                "kprobe:do_sys_openat2 { @ = count(); }")
    assert r.rc == 1, r
    assert r.err.splitlines()[0] == (
        "-e:1:1: error: kprobe:do_sys_openat2 needs kprobes, but kprobe is masked "
        "(--no-feature kprobe) (--no-fallback: not tried as fentry)"), r


def test_dry_run_verifies_kprobes_it_cannot_attach_with_one_note():
    """--dry-run loads kprobe programs (a wildcard's, a kretprobe's, one with
    an offset) even where nothing could attach them: one note for all."""
    masks = [a for f in ("kprobe", "fentry") if f in features() for a in ("--no-feature", f)]
    why = ("kprobe is masked (--no-feature kprobe)" if "kprobe" in features() else
           "this kernel has no kprobes (no perf kprobe PMU, no tracefs kprobe_events)")
    r = pytrace(*masks, "--dry-run", "-e",
                'kprobe:vfs_read, kprobe:vfs_write+4 { @[func] = count(); } '
                'kretprobe:vfs_rea* { @r = hist(retval); } fentry:vfs_read { @c = args.count; }')
    assert (r.rc, r.out) == (0, ""), r
    lines = r.err.splitlines()
    assert lines[0] == ("note: --dry-run: kernel-function programs are loaded and verified, "
                        "attaching them is not tried: " + why), r
    assert lines[-1].endswith(" program(s) loaded and verified; nothing attached (--dry-run)"), r
    assert len(lines) == 3 and "fentry programs are verified as kprobe programs" in lines[1], r


def test_without_kprobes_and_fentry_the_error_names_them_and_a_tracepoint():
    # on this project's machines both are missing; elsewhere mask them
    masks = [a for f in ("kprobe", "fentry") if f in features() for a in ("--no-feature", f)]
    r = pytrace(*masks, "-e", "kprobe:do_sys_openat2 { @[comm] = count(); }")
    assert r.rc == 1, r
    lines = r.err.splitlines()
    assert lines[0].startswith("-e:1:1: error: cannot attach kprobe:do_sys_openat2: "), r
    assert "kprobe" in lines[0] and "fentry" in lines[0] and "Traceback" not in r.err, r
    assert lines[-1] == ("hint: trace the system call instead: "
                         "tracepoint:syscalls:sys_enter_openat or "
                         "tracepoint:syscalls:sys_enter_openat2"), r


# -- fentry/fexit ------------------------------------------------------------------------

def test_fentry_typed_args(marker):
    need("fentry")
    r = pytrace("-q", "-e",
                count_script("fentry:do_sys_openat2", f'str(args->filename) == "{marker}"'),
                "-c", opens(marker))
    assert (r.rc, r.err, map_lines(r.out)) == (0, "", [f"@: {OPEN_COUNT}"]), r


def test_fexit_has_args_and_the_returned_fd(marker, tmp_path):
    need("fentry")
    fdfile = tmp_path / "fds"
    r = pytrace("-q", "-e",
                f'fexit:do_sys_openat2 /pid == cpid && str(args->filename) == "{marker}"/ '
                "{ @fds[retval] = count(); }", "-c", opens(marker, str(fdfile)))
    assert (r.rc, r.err) == (0, ""), r
    assert map_lines(r.out) == [f"@fds[{fd}]: {n}" for fd, n in sorted(fds_of(fdfile).items())], r


def test_fentry_curtask_and_func(marker):
    need("fentry")
    r = pytrace("-q", "-e",
                f'fentry:do_sys_openat2 /pid == cpid && str(args->filename) == "{marker}"/ '
                "{ @[func, curtask->tgid == pid, args->dfd] = count(); }", "-c", opens(marker))
    assert (r.rc, r.err) == (0, ""), r
    assert map_lines(r.out) == [f"@[do_sys_openat2, 1, -100]: {OPEN_COUNT}"], r    # AT_FDCWD


def test_fentry_wildcard_one_program_each(marker):
    need("fentry")
    r = pytrace("-e", f'fentry:do_sys_open* /pid == cpid && str(args->filename) == "{marker}"/'
                " { @[probe] = count(); }", "-c", opens(marker))
    assert r.rc == 0, r
    assert map_lines(r.out) == [f"@[fentry:do_sys_openat2]: {OPEN_COUNT}"], r


def test_fentry_runs_as_a_kprobe_with_args_by_position(marker):
    args = fentry_fallback_args()
    r = pytrace("-q", *args, "-e",
                count_script("fentry:do_sys_openat2", f'str(args->filename) == "{marker}"'),
                "-c", opens(marker))
    assert r.rc == 0, r
    assert r.err.startswith("note: fentry:do_sys_openat2 runs as kprobe:do_sys_openat2: "), r
    if not args:             # arm64 6.1: fentry loads but cannot attach
        assert "cannot attach fentry programs" in r.err, r
    assert map_lines(r.out) == [f"@: {OPEN_COUNT}"], r


def test_fexit_retval_runs_as_a_kretprobe(marker, tmp_path):
    args = fentry_fallback_args()
    fdfile = tmp_path / "fds"
    r = pytrace("-q", *args, "-e",
                f'fentry:do_sys_openat2 /pid == cpid && str(args->filename) == "{marker}"/ '
                "{ @m[tid] = 1; } "
                "fexit:do_sys_openat2 /@m[tid]/ { @fds[retval] = count(); delete(@m[tid]); }",
                "-c", opens(marker, str(fdfile)))
    assert r.rc == 0 and "fexit:do_sys_openat2 runs as kretprobe" in r.err, r
    assert map_lines(r.out) == [f"@fds[{fd}]: {n}" for fd, n in sorted(fds_of(fdfile).items())], r


def test_list_fentry_arguments():
    need("btf")
    r = pytrace("-lv", "fentry:do_sys_openat2")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "fentry:do_sys_openat2", r
    assert "    const char * filename" in lines and "    int dfd" in lines, r


# -- raw tracepoints and kernel types (every kernel with BTF) ------------------------------

# raw prev_state is __state at the switch: TASK_INTERRUPTIBLE (1), with
# TASK_FREEZABLE (0x2000) on newer kernels
SWITCH = ("rawtracepoint:sched_switch /args->prev->pid == cpid && (args->prev_state & 3) == 1 && "
          'args->prev->comm == "ptnapper"/ { @[args->prev->comm] = count(); '
          'printf("%s.\\n", args->prev->comm); }')


@pytest.mark.parametrize("mask", [[], ["--no-feature", "tp_btf"]], ids=["default", "no-tp_btf"])
def test_rawtracepoint_sched_switch_typed_args(mask):
    need("raw_tracepoint", "btf")
    r = pytrace("-q", *mask, "-e", SWITCH, "-c", workload("naps", 5))
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == "ptnapper.\n" * 5 + "\n\n@[ptnapper]: 5\n", r


def test_rawtracepoint_argn_with_a_cast():
    need("raw_tracepoint", "btf")
    r = pytrace("-q", "-e", "rt:sched_switch /((struct task_struct *)arg1)->tgid == cpid && "
                "(arg3 & 3) == 1 && !arg0/ { @ = count(); }", "-c", workload("naps", 5))
    assert (r.rc, r.err, r.out) == (0, "", "\n\n@: 5\n"), r


def test_curtask_in_a_tracepoint():
    need("btf")
    p = start("-q", "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
              "{ @[curtask->tgid == pid, curtask->pid == tid, curtask->comm, "
              "curtask->real_parent->tgid] = count(); }", "-c", workload("getppid", 7))
    r = finish(p)
    assert (r.rc, r.err) == (0, ""), r
    assert map_lines(r.out) == [f"@[1, 1, python3, {p.pid}]: 7"], r


@pytest.mark.parametrize("reset", [0, 1])
def test_bitfield(reset):
    need("btf")
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
                "{ @[curtask->sched_reset_on_fork] = count(); }",
                "-c", workload("reset_on_fork", 3, reset))
    assert (r.rc, r.err, map_lines(r.out)) == (0, "", [f"@[{reset}]: 3"]), r


def test_enums_print_by_name():
    need("btf")
    r = pytrace("-q", "-e", 'BEGIN { @[(enum pid_type)1] = count(); '
                'printf("%s %d\\n", (enum pid_type)2, (enum pid_type)2); exit(); }')
    assert (r.rc, r.err, r.out) == (0, "", "PIDTYPE_PGID 2\n\n\n@[PIDTYPE_TGID]: 1\n"), r


def test_enum_arguments_of_a_raw_tracepoint_print_by_name():
    need("raw_tracepoint", "btf")
    from pytrace.btf.reader import Btf
    from pytrace.btf.records import BtfKind
    btf = Btf.load()
    values = {v.name: v.value for v in btf.type(btf.find("hrtimer_mode", BtfKind.ENUM)).values}
    r = pytrace("-q", "-e", 'rawtracepoint:hrtimer_start /pid == cpid/ '
                '{ printf("%s %d\\n", args->mode, args->mode); }',
                "-c", f"{PY} -c 'import time; time.sleep(0.01)'")
    assert r.rc == 0 and r.out.strip(), r
    pairs = [line.split() for line in r.out.strip().splitlines()]
    assert all(values.get(name) == int(num) for name, num in pairs), r


def test_sizeof_and_offsetof_agree_with_btf():
    need("btf")
    from pytrace.btf.reader import Btf
    from pytrace.btf.records import BtfKind
    btf = Btf.load()
    task = btf.type(btf.find("task_struct", BtfKind.STRUCT))
    comm = next(m for m in task.members if m.name == "comm")
    r = pytrace("-q", "-e", 'BEGIN { printf("%d %d\\n", sizeof(struct task_struct), '
                'offsetof(struct task_struct, comm)); exit(); }')
    assert (r.rc, r.out) == (0, f"{task.size} {comm.bit_offset // 8}\n"), r


def test_list_struct_like_bpftrace():
    need("btf")
    r = pytrace("-lv", "struct list_head")
    assert (r.rc, r.out) == (0, "struct list_head {\n\tstruct list_head *next;\n"
                                "\tstruct list_head *prev;\n};\n\n"), r


def test_list_rawtracepoint_arguments():
    need("btf")
    r = pytrace("-lv", "rawtracepoint:sched_switch")
    assert r.rc == 0 and r.out.splitlines()[:2] == ["rawtracepoint:sched_switch",
                                                   "    bool preempt"], r
