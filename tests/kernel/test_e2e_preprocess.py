"""The preprocessor on the real machine: installed headers give macros
(AF_INET from glibc's <sys/socket.h>, O_CREAT from <linux/fcntl.h>),
kernel-internal headers that are not installed are skipped (types from
BTF), BPFTRACE_HAVE_BTF is defined, BTF enumerators stand for names no
header defines, -I/--include work, and a program built that way counts
exactly what a deterministic workload does."""
import pytest

from conftest import PY, needs_root, pytrace

pytestmark = [pytest.mark.kernel, needs_root]

GETPPIDS = 4


def test_macros_from_headers_btf_enumerators_and_conditionals(tmp_path):
    (tmp_path / "mine.h").write_text("#define TIMES(x) ((x) * 2)\n#define WHO \"me\"\n")
    script = tmp_path / "s.bt"
    script.write_text(
        "#!/usr/bin/env bpftrace\n"
        "#include <linux/sched.h>\n"         # not installed: skipped, BTF has the types
        "#include <net/sock.h>\n"
        "#include <sys/socket.h>\n"
        "#include <linux/fcntl.h>\n"
        '#include "mine.h"\n'
        "#ifdef BPFTRACE_HAVE_BTF\n"
        "#define HAVE 1\n"
        "#else\n"
        "#define HAVE 0\n"
        "#endif\n"
        "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n = count(); }\n"
        "END { printf(\"%s %d %d %d %d %d %d\\n\", WHO, HAVE, AF_INET, AF_INET6, O_CREAT,\n"
        "             TIMES(TCP_FIN_WAIT1), sizeof(struct sock) > 0); }\n")
    r = pytrace("-q", script, "-c",
                f"{PY} -c 'import os\nfor _ in range({GETPPIDS}): os.getppid()'")
    assert (r.rc, r.err) == (0, ""), r
    assert r.out == f"me 1 2 10 64 8 1\n\n\n@n: {GETPPIDS}\n", r


def test_include_option_and_include_dir(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "n.h").write_text("#define N 41\n")
    (tmp_path / "pre.h").write_text("#define PLUS1(x) ((x) + 1)\n")
    r = pytrace("-q", "-I", tmp_path / "inc", "--include", tmp_path / "pre.h", "-e",
                '#include <n.h>\nBEGIN { printf("%d\\n", PLUS1(N)); exit(); }')
    assert (r.rc, r.out, r.err) == (0, "42\n", ""), r
    r = pytrace("--include", tmp_path / "nope.h", "-e", "BEGIN { exit(); }")
    assert (r.rc, r.out) == (2, ""), r
    assert r.err.startswith(f"error: --include {tmp_path / 'nope.h'}: no such file"), r


def test_an_error_after_preprocessing_points_at_the_original_line(tmp_path):
    script = tmp_path / "e.bt"
    script.write_text("#include <sys/socket.h>\n#define X 1\n\nBEGIN { @x = X + nope; }\n")
    r = pytrace(script)
    assert (r.rc, r.out) == (2, ""), r
    assert r.err == (f"{script}:4:18: error: unknown name 'nope'\n"
                     "BEGIN { @x = 1 + nope; }\n" + " " * 17 + "~~~~\n"
                     "hint: did you mean 'ntop'?\n"), r
