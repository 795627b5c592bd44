"""Errors through the CLI: exit status 2 for usage and compile errors with
the message pointing at the source, 1 for runtime failures, 3 without
privileges; never a Python traceback."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import REPO, env, needs_root, pytrace, workload

pytestmark = [pytest.mark.kernel, needs_root]


def test_issue_example_caret_under_the_expression():
    r = pytrace("-e", 'BEGIN { $x = "a" + 1; }')
    assert r.rc == 2, r
    lines = r.err.splitlines()
    assert lines[0].startswith("-e:1:14: error:"), r
    assert lines[1] == 'BEGIN { $x = "a" + 1; }', r
    assert lines[2] == " " * 13 + "~~~~~~~", r
    assert r.out == "", r


def test_unknown_tracepoint():
    r = pytrace("-e", "tracepoint:syscalls:sys_enter_nosuchcall { @ = count(); }")
    assert r.rc == 2, r
    assert r.err.startswith("-e:1:1: error: no tracepoint matches syscalls:sys_enter_nosuchcall\n"), r


BAD_PROGRAMS = {
    "unclosed-brace": "BEGIN {",
    "missing-expression": "BEGIN { @x = ; }",
    "unknown-probe-type": "foo:bar { }",
    "unknown-category": "tracepoint:nope:nope { }",
    "unknown-field": "tracepoint:syscalls:sys_enter_openat { printf(\"%d\\n\", args->nofield); }",
    "printf-arity": 'BEGIN { printf("%d %d\\n", 1); }',
    "printf-type": 'BEGIN { printf("%s\\n", 1); }',
    "map-kind-clash": "BEGIN { @a = count(); @a = 1; }",
    "variable-type-clash": 'BEGIN { $x = 1; $x = "s"; }',
    "map-key-clash": 'BEGIN { @x[1] = 1; @x["a"] = 2; }',
    "exit-string": 'BEGIN { exit("a"); }',
    "unassigned-map": "BEGIN { print(@nope); }",
    "unknown-function": "BEGIN { undefined_fn(1); }",
    "bad-interval": "interval:ms:abc { }",
    "lhist-zero-step": "BEGIN { @ = lhist(1, 0, 10, 0); }",
    "division-by-zero": "BEGIN { $x = 1 / 0; }",
    "unterminated-string": 'BEGIN { "abc }',
    "unterminated-comment": "BEGIN { /* no end }",
    "stray-at": "@",
    "non-utf8": "BEGIN { \udcff }",
    "count-arguments": "BEGIN { @ = count(1); }",
    "string-condition": 'BEGIN { if ("a") { exit(); } }',
    "struct-key": "tracepoint:syscalls:sys_enter_openat { @[args] = count(); }",
}


@pytest.mark.parametrize("name", list(BAD_PROGRAMS))
def test_bad_program_is_a_clean_compile_error(name):
    r = pytrace("-e", BAD_PROGRAMS[name])
    assert "Traceback" not in r.err, r
    assert r.rc == 2, r
    assert r.err.startswith("-e:1:") and ": error: " in r.err.splitlines()[0], r
    assert r.out == "", r


BAD_INVOCATIONS = {
    "missing-file": (["/nonexistent/script.pt"], "error: cannot read /nonexistent/script.pt: "),
    "bad-format": (["-f", "xml", "-e", "BEGIN { exit(); }"], "error: -f takes text or json"),
    "unknown-option": (["--bogus"], "error: unknown option --bogus"),
    "unknown-feature": (["--no-feature", "bogus", "-e", "BEGIN { exit(); }"],
                        "error: --no-feature: unknown feature 'bogus'"),
    "e-without-value": (["-e"], "error: -e needs a value"),
    "command-not-found": (["-e", "BEGIN { exit(); }", "-c", "/nonexistent/cmd"],
                          "error: -c: command not found: /nonexistent/cmd"),
    "unbalanced-quote": (["-e", "BEGIN { exit(); }", "-c", "/usr/bin/true 'x"], "error: -c: "),
    "bad-pid": (["-p", "abc", "-e", "BEGIN { exit(); }"], "error: -p takes a process id"),
}


@pytest.mark.parametrize("name", list(BAD_INVOCATIONS))
def test_bad_invocation_is_a_usage_error(name):
    args, start = BAD_INVOCATIONS[name]
    r = pytrace(*args)
    assert "Traceback" not in r.err, r
    assert (r.rc, r.out) == (2, ""), r
    assert r.err.startswith(start) and len(r.err.splitlines()) == 1, r


def test_bad_environment_limit():
    r = pytrace("-e", "BEGIN { exit(); }", extra_env={"PYTRACE_MAX_STRLEN": "abc"})
    assert (r.rc, r.err) == (2, "error: PYTRACE_MAX_STRLEN must be a positive number, "
                                "not 'abc'\n"), r


def test_pid_that_does_not_exist():
    r = pytrace("-p", "999999999", "-e", "BEGIN { exit(); }")
    assert "Traceback" not in r.err, r
    assert r.rc in (1, 2) and r.err.startswith("error: ") and len(r.err.splitlines()) == 1, r


def test_runtime_failure_of_the_command_is_not_a_traceback():
    # the traced command fails at once (its own traceback, on the shared
    # stderr, is the only one): pytrace still ends normally
    r = pytrace("-q", "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }",
                "-c", workload("getppid", "not-a-number"))
    assert (r.rc, r.out) == (0, ""), r
    assert r.err.count("Traceback") == 1 and "getppid.py" in r.err, r
    assert str(REPO / "pytrace") not in r.err and "runpy" not in r.err, r


# -- without privileges ------------------------------------------------------------

def _interpreters_for(user_args: list) -> str | None:
    """An interpreter that the unprivileged user can run pytrace with: ours
    if they can reach it, else the system one (pytrace checks privileges
    before it imports anything beyond the standard library)."""
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([*user_args, python, "-c", "import pytrace"], env=env(),
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return python
    return None


@pytest.mark.parametrize("how", ["nobody", "root-without-capabilities"])
def test_without_privileges_exit_3(how):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv is not installed")
    if how == "nobody":
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    else:
        user = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
    python = _interpreters_for(user)
    if python is None:
        pytest.skip(f"no interpreter that can import pytrace from {REPO} as {how}")
    p = subprocess.run([*user, python, "-m", "pytrace", "-e", "BEGIN { exit(); }"], env=env(),
                       capture_output=True, text=True, timeout=30, cwd="/")
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "root" in lines[0], p.stderr


def test_output_file_that_cannot_be_created():
    r = pytrace("-o", "/nonexistent/dir/out.txt", "-e", "BEGIN { exit(); }")
    assert "Traceback" not in r.err, r
    assert r.rc == 2 and r.err.startswith("error: ") and len(r.err.splitlines()) == 1, r


def test_command_that_is_a_directory():
    r = pytrace("-e", "tracepoint:syscalls:sys_enter_getppid { @ = count(); }", "-c", "/etc")
    assert r.rc == 2 and r.err.startswith("error: -c: "), r
