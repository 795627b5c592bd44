"""End to end: ``python3 -m pytrace`` with no script under a real
pseudo-terminal (pexpect), typed at like a person would: a probe, a
workload, ``.print``, a second probe reading the first one's map, Tab
completion, a syntax error, ``.detach 1``, ``.probes``, Ctrl-D; then the
screen text, the exit status, and that none of its BPF programs is left.

The terminal is xterm without cursor-position reports (pexpect answers
none; PROMPT_TOOLKIT_NO_CPR tells prompt-toolkit not to ask), and the
screen is read with the escape sequences taken out.
"""
import re
import subprocess
import sys
import time

import pytest

from conftest import PY, WORKLOADS, env, needs_root, our_programs, owned_prog_ids

pexpect = pytest.importorskip("pexpect")
pytest.importorskip("prompt_toolkit")

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

TP = "tracepoint:syscalls:sys_enter_getppid"
_CURSOR_RIGHT = re.compile(r"\x1b\[(\d*)C")
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\r")


def screen(raw: str) -> str:
    """Terminal output as text: cursor moves right become spaces, other
    escape sequences and carriage returns go."""
    raw = _CURSOR_RIGHT.sub(lambda m: " " * int(m.group(1) or 1), raw)
    return _ESCAPE.sub("", raw)


def calls(name: str, n: int) -> None:
    subprocess.run([PY, str(WORKLOADS / "named_getppid.py"), name, str(n)], check=True)


class Terminal:
    def __init__(self, tmp_path):
        e = env({"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1",
                 "XDG_STATE_HOME": str(tmp_path / "state")})
        self.child = pexpect.spawn(sys.executable, ["-m", "pytrace"], env=e, encoding="utf-8",
                                   timeout=20, dimensions=(50, 160))
        self.raw = ""

    def expect(self, pattern: str) -> str:
        """Wait for ``pattern`` (a regex) on the screen; returns the screen
        text since the previous expect."""
        self.child.expect(pattern)
        got = self.child.before + self.child.after
        self.raw += got
        return screen(got)

    def prompt(self) -> str:
        return self.expect("pytrace>")

    def type(self, text: str) -> None:
        self.child.send(text)


def test_repl_under_a_real_terminal(tmp_path):
    t = Terminal(tmp_path)
    try:
        t.prompt()
        t.type(f'{TP} /comm == "ptpty1"/ {{ @a = count(); }}\r')
        t.expect(f"probe 1: attached to {TP}")
        t.prompt()
        ours = set(owned_prog_ids([t.child.pid]))
        assert ours, "the session holds no BPF program"
        calls("ptpty1", 5)
        t.type(".print\r")
        assert "@a: 5" in t.expect(r"@a: \d+")
        t.prompt()

        t.type(f'{TP} /comm == "ptpty1"/ {{ @b = count(); @copy = @a; }}\r')
        t.expect("probe 2: attached")
        t.prompt()
        ours |= set(owned_prog_ids([t.child.pid]))

        t.type("tracepoint:syscalls:sys_enter_op\t")
        assert "sys_enter_openat" in t.expect("sys_enter_openat")
        t.type("\x03")                      # Ctrl-C: the line goes
        t.prompt()

        t.type(f"{TP} {{ @c = count( }}\r")
        shown = t.expect(r"~\s")
        assert "error: unexpected '}': expected an expression or ')'" in shown
        assert f"{TP} {{ @c = count( }}" in shown
        t.prompt()

        t.type(".detach 1\r")
        t.expect(f"probe 1 detached: {TP}")
        t.prompt()
        calls("ptpty1", 3)                  # only probe 2 counts these
        t.type(".print\r")
        printed = t.expect(r"@copy: \d+")
        assert "@a: 5" in printed and "@b: 3" in printed and "@copy: 5" in printed
        t.prompt()

        t.type(".probes\r")
        table = t.expect("BPF link")
        # a line printed while the prompt shows starts where the prompt was
        # erased (the cursor moves back): drop what the erase would take
        rows = [ln.replace("pytrace>", "").split() for ln in table.splitlines() if ln.strip()]
        assert ["#", "hits", "probe", "attached", "through"] in rows
        numbered = [r for r in rows if r and r[0].isdigit()]
        assert [r[0] for r in numbered] == ["2"]
        assert numbered[0][2] == TP
        t.prompt()

        t.type("\x04")                      # Ctrl-D
        t.child.expect(pexpect.EOF)
        end = screen(t.child.before)
        t.child.close()
        assert t.child.exitstatus == 0, screen(t.raw + end)
        assert re.search(r"@a: 5\s+@b: 3\s+@copy: 5\s*$", end), end
    finally:
        if t.child.isalive():
            t.child.kill(9)
    # every program the session held is gone (freed a grace period after close)
    deadline = time.monotonic() + 5
    while ours & set(our_programs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours & set(our_programs())


def test_sigterm_ends_the_session_like_ctrl_d(tmp_path):
    import signal
    t = Terminal(tmp_path)
    try:
        t.prompt()
        t.type(f'{TP} /comm == "ptpty2"/ {{ @a = count(); }}\r')
        t.expect("probe 1: attached")
        t.prompt()
        ours = set(owned_prog_ids([t.child.pid]))
        calls("ptpty2", 2)
        t.child.kill(signal.SIGTERM)
        t.child.expect(pexpect.EOF)
        end = screen(t.child.before)
        t.child.close()
        assert t.child.exitstatus == 0
        assert re.search(r"@a: 2\s*$", end), end
    finally:
        if t.child.isalive():
            t.child.kill(9)
    deadline = time.monotonic() + 5
    while ours & set(our_programs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours & set(our_programs())


def test_printf_lands_above_the_line_being_typed(tmp_path):
    t = Terminal(tmp_path)
    try:
        t.prompt()
        t.type(f'{TP} /comm == "ptpty3"/ {{ printf("event %d\\n", 42); }}\r')
        t.expect("probe 1: attached")
        t.prompt()
        t.type("BEGIN { @partial")            # half a line, not sent
        t.expect("@partial")
        calls("ptpty3", 1)
        t.expect("event 42")
        redrawn = t.expect("@partial")        # the prompt and the line come back
        assert re.search(r"pytrace> BEGIN \{ @partial$", redrawn), redrawn
        t.type(" = 7; }\r")                   # and the line goes on where it was
        t.expect("probe 2: BEGIN ran")
        t.prompt()
        t.type("\x04")
        t.child.expect(pexpect.EOF)
        end = screen(t.child.before)
        t.child.close()
        assert t.child.exitstatus == 0
        assert re.search(r"@partial: 7\s*$", end), end
    finally:
        if t.child.isalive():
            t.child.kill(9)
