"""The REPL (pytrace/repl.py) driven through prompt-toolkit's pipe input
and a dummy output, on the real kernel: keystrokes go in from a helper
thread, the REPL runs in the main thread as it does in a terminal, and
the tests read what it printed (stdout and stderr kept apart).

Workloads rename themselves (workloads/named_getppid.py) so a predicate on
comm counts exactly their getppid() calls.
"""
import io
import os
import subprocess
import threading
import time

import pytest

from conftest import PY, WORKLOADS, needs_root
from pytrace.runtime.session import Options

pytest.importorskip("prompt_toolkit")
from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output import DummyOutput  # noqa: E402

from pytrace.repl.app import run_repl  # noqa: E402

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

TP = "tracepoint:syscalls:sys_enter_getppid"
CTRL_C, CTRL_D, ENTER = "\x03", "\x04", "\r"


def calls(name: str, n: int) -> None:
    subprocess.run([PY, str(WORKLOADS / "named_getppid.py"), name, str(n)], check=True)


class Keys:
    """The test's side: type into the REPL, wait for what it prints."""

    def __init__(self, inp, out: io.StringIO, err: io.StringIO):
        self.inp, self.out, self.err = inp, out, err
        self.seen = {"out": 0, "err": 0}

    def type(self, text: str) -> None:
        self.inp.send_text(text)

    def line(self, text: str) -> None:
        self.type(text + ENTER)

    def wait(self, text: str, where: str = "err", timeout: float = 15) -> str:
        """Wait until ``text`` appears in stdout/stderr after what earlier
        waits consumed, and its line ends; returns the new output up to
        the end of that line."""
        stream = self.out if where == "out" else self.err
        deadline = time.monotonic() + timeout
        while True:
            value = stream.getvalue()
            at = value.find(text, self.seen[where])
            end = value.find("\n", at + len(text) - 1 if text.endswith("\n") else at + len(text))
            if at >= 0 and end >= 0:
                start, self.seen[where] = self.seen[where], end + 1
                return value[start:end + 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear in {where}; it holds:\n"
                                     f"{value[self.seen[where]:]}")
            time.sleep(0.02)

    def command(self, text: str, done: str, where: str = "err") -> str:
        self.line(text)
        return self.wait(done, where)


def drive(keys_fn, history: str = "", **options):
    """Run the REPL until it ends, typing with ``keys_fn(keys)`` from a
    thread; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    failure: list[BaseException] = []
    with create_pipe_input() as inp:
        keys = Keys(inp, out, err)

        def typist():
            try:
                keys.wait("Ctrl-D ends")
                keys_fn(keys)
            except BaseException as e:      # end the REPL, report in the main thread
                failure.append(e)
                inp.send_text(CTRL_C + CTRL_D)

        t = threading.Thread(target=typist, daemon=True)
        t.start()
        rc = run_repl(Options("", **options), "text", out, err, input=inp,
                      output=DummyOutput(), history=history)
        t.join(10)
    if failure:
        raise failure[0]
    return rc, out.getvalue(), err.getvalue()


def test_acceptance_count_print_second_probe_detach_error_and_ctrl_d():
    def keys(k: Keys):
        k.command(f'{TP} /comm == "ptrepl1"/ {{ @a = count(); }}', f"probe 1: attached to {TP}")
        calls("ptrepl1", 5)
        assert k.command(".print", "@a: 5\n", "out") == "@a: 5\n"
        k.command(f'{TP} /comm == "ptrepl1"/ {{ @b = count(); @copy = @a; }}',
                  f"probe 2: attached to {TP}")
        k.command(".detach 1", f"probe 1 detached: {TP}")
        calls("ptrepl1", 3)
        assert k.command(".print", "@copy: 5\n", "out") == "@a: 5\n@b: 3\n@copy: 5\n"
        # a syntax error: the caret message, and the probes stay
        k.line(f'{TP} {{ @c = count( }}')
        assert k.wait("~\n") == (
            "<input 3>:1:53: error: unexpected '}': expected an expression or ')'\n"
            "tracepoint:syscalls:sys_enter_getppid { @c = count( }\n"
            "                                                    ~\n")
        calls("ptrepl1", 2)
        table = k.command(".probes", "perf event + BPF link\n", "out")
        lines = table.splitlines()
        assert lines[0].split() == ["#", "hits", "probe", "attached", "through"]
        number, hits, name, *how = lines[1].split()
        assert (number, name, " ".join(how)) == ("2", TP, "tracepoint: perf event + BPF link")
        assert int(hits) >= 5
        assert len(lines) == 2
        k.type(CTRL_D)

    rc, out, err = drive(keys)
    assert rc == 0
    assert out.endswith("\n\n@a: 5\n@b: 5\n@copy: 5\n")


def test_multi_line_block_continues_until_the_braces_balance():
    def keys(k: Keys):
        k.line(f'{TP} /comm == "ptrepl2"/')
        k.line("{")
        k.line('if (1) { @n = count(); }')      # indented for us, and "}" dedents
        k.line("}")
        k.wait(f"probe 1: attached to {TP}")
        calls("ptrepl2", 3)
        k.command(".save /tmp/pytrace-test-repl2.pt", "saved 1 probe to /tmp/pytrace-test-repl2.pt")
        k.type(CTRL_D)

    rc, out, err = drive(keys)
    assert rc == 0
    assert out == "\n\n@n: 3\n"
    with open("/tmp/pytrace-test-repl2.pt") as f:
        assert f.read() == (f'{TP} /comm == "ptrepl2"/\n{{\n  if (1) {{ @n = count(); }}\n}}\n')
    os.unlink("/tmp/pytrace-test-repl2.pt")


def test_exit_in_a_probe_ends_the_session_like_ctrl_d():
    def keys(k: Keys):
        k.command(f'{TP} /comm == "ptrepl3"/ {{ @c = count(); exit(); }}', "probe 1: attached")
        k.command('END { printf("the end\\n"); }', "probe 2: END will run")
        calls("ptrepl3", 1)                 # the REPL ends by itself

    rc, out, err = drive(keys)
    assert rc == 0
    assert out == "the end\n\n\n@c: 1\n"


def test_begin_runs_at_once_and_ctrl_c_clears_the_line():
    def keys(k: Keys):
        k.line('BEGIN { printf("hello %d\\n", 6 * 7); @x = 1; }')
        assert k.wait("hello 42\n", "out") == "hello 42\n"
        k.wait("probe 1: BEGIN ran")
        k.type("this line is dropped")
        k.type(CTRL_C)
        k.command(".probes", "ran once", "out")
        k.line(".quit")

    rc, out, err = drive(keys)
    assert rc == 0
    assert "this line is dropped" not in err
    assert out.endswith("\n\n@x: 1\n")


def test_command_waits_for_run_and_its_exit_is_announced():
    def keys(k: Keys):
        k.command(f"{TP} /pid == cpid/ {{ @before = count(); }}", "probe 1: attached")
        k.command(".run", "started process")
        k.wait("exited with status 0")
        k.command(f"{TP} /pid == cpid/ {{ @after = count(); }}", "probe 2: attached")
        assert k.command(".print", "@before: 4\n", "out") == "@before: 4\n"
        k.command(".run", "already started")
        k.type(CTRL_D)

    rc, out, err = drive(keys, command=[PY, str(WORKLOADS / "getppid.py"), "4"])
    assert rc == 0
    assert out.endswith("\n\n@before: 4\n")


def test_watch_refreshes_until_a_key_and_set_delete_clear():
    def keys(k: Keys):
        k.command(f'BEGIN {{ @port[80] = 0; }} {TP} /comm == "ptrepl5"/ '
                  f'{{ @hits[@port[80]] = count(); }}', "probe 2: attached")
        k.command(".set @port[80] = 1", "set @port[80] = 1")
        calls("ptrepl5", 2)
        k.line(".watch @hits 0.05")
        time.sleep(0.3)
        k.type("q")                          # any key ends .watch
        k.command(".delete @port[80]", "deleted @port[80]")
        calls("ptrepl5", 1)
        assert k.command(".print @hits @port", "@hits[1]: 2\n", "out") == \
            "@hits[0]: 1\n@hits[1]: 2\n"
        k.command(".delete @port[80]", "@port[80]: no such key")
        k.command(".set @port[80] = \"x\"", "the value must be an integer")
        k.command(".clear @hits", "cleared @hits")
        k.command(".print", "no map has values yet")
        k.line(".watch @hits")
        time.sleep(0.2)
        k.type(CTRL_C)                       # Ctrl-C ends .watch too
        k.command(".watch @nope", "there is no map @nope (maps: @hits, @port)")
        k.type(CTRL_D)

    rc, out, err = drive(keys)
    assert rc == 0


def test_commands_help_info_unknown_and_load(tmp_path):
    script = tmp_path / "two.pt"
    script.write_text(f'{TP} /comm == "ptrepl6"/ {{ @a = count(); }}\n'
                      f'{TP} /comm == "ptrepl6"/ {{ @b = sum(2); }}\n')

    def keys(k: Keys):
        assert ".watch @m [SECS]" in k.command(".help", ".quit", "out")
        k.command(".info", "ringbuf", "out")
        k.command(".prbes", "unknown command .prbes (did you mean .probes?)")
        k.command(f".load {script}", "probe 2: attached")
        calls("ptrepl6", 2)
        k.command(".detach x", "write .detach N")
        k.command(".detach 9", "there is no probe 9 (probes: 1, 2)")
        k.command(".detach all", "detached 2 probes")
        k.command(f".load {tmp_path}/nope.pt", "cannot read")
        k.type(CTRL_D)

    rc, out, err = drive(keys)
    assert rc == 0
    assert out.endswith("\n\n@a: 2\n@b: 4\n")


def test_history_is_kept_in_the_file(tmp_path):
    history = tmp_path / "state" / "pytrace" / "history"

    def keys(k: Keys):
        k.command(".probes", "no probes yet", "out")
        k.type(CTRL_D)

    drive(keys, history=str(history))
    assert ".probes" in history.read_text()


def test_completion_from_the_live_session():
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from pytrace.runtime.live import LiveSession
    from pytrace.repl.app import _completer
    from pytrace.repl.words import SessionWords

    session = LiveSession.printing(Options(""), "text", io.StringIO(), io.StringIO())
    try:
        session.start()
        session.add('BEGIN { @opens["x"] = 1; }')
        completer = _completer(SessionWords(session))

        def offered(text: str) -> list[str]:
            doc = Document(text, len(text))
            return [c.text for c in completer.get_completions(doc, CompleteEvent(True))]

        names = offered("tracepoint:syscalls:sys_enter_op")
        assert "tracepoint:syscalls:sys_enter_openat" in names
        assert all(n.startswith("tracepoint:syscalls:sys_enter_op") for n in names)
        assert "tracepoint:sched:" in offered("tracepoint:sch")
        assert offered("BEG") == ["BEGIN"]
        assert "tracepoint:" in offered("tr")
        if session.kernel.btf() is not None:         # kernel functions come from BTF
            assert offered("kprobe:vfs_rea")[:1] == ["kprobe:vfs_read"]
            assert "fentry:vfs_write" in offered("fentry:vfs_wri")
        assert offered("BEGIN { @op") == ["@opens"]
        assert "printf(" in offered("BEGIN { prin")
        assert offered(".print @") == ["@opens"]
        assert offered(".det") == [".detach"]
        # what .watch shows, refreshed
        from pytrace.repl.watch import render
        head, body = render(session, "@opens", 0.5).split("\n", 1)
        assert head.startswith("@opens every 0.5s at ") and head.endswith(
            " (press any key to stop)")
        assert body == "@opens[x]: 1\n"
    finally:
        session.close()


def test_pid_option_filters_and_its_exit_is_announced():
    gated = subprocess.Popen([PY, str(WORKLOADS / "gated_getppid.py"), "3"],
                             stdin=subprocess.PIPE, text=True)

    def keys(k: Keys):
        # -p filters every probe to the process; cpid is its pid
        k.command(f"{TP} {{ @all = count(); @cpid = cpid; }}", "probe 1: attached")
        gated.stdin.write("go\n")
        gated.stdin.close()
        k.wait(f"process {gated.pid} exited")
        assert k.command(".print", "@cpid:", "out") == f"@all: 3\n@cpid: {gated.pid}\n"
        k.type(CTRL_D)

    try:
        rc, out, err = drive(keys, pid=gated.pid)
    finally:
        gated.wait(10)
    assert rc == 0


def test_a_program_given_with_i_is_the_first_input():
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as inp:
        def typist():
            deadline = time.monotonic() + 15
            while "probe 2: attached" not in err.getvalue() and time.monotonic() < deadline:
                time.sleep(0.02)
            calls("ptrepl7", 2)
            inp.send_text(".print\r")
            while "@n:" not in out.getvalue() and time.monotonic() < deadline:
                time.sleep(0.02)
            inp.send_text(CTRL_D)

        t = threading.Thread(target=typist, daemon=True)
        t.start()
        rc = run_repl(Options(""), "text", out, err, input=inp, output=DummyOutput(),
                      history="", initial=(f'BEGIN {{ @n = 10; }} {TP} /comm == "ptrepl7"/ '
                                           f'{{ @n++; }}', "-e"))
        t.join(10)
    assert rc == 0
    assert "probe 1: BEGIN ran\nprobe 2: attached" in err.getvalue()
    assert out.getvalue() == "@n: 12\n\n\n@n: 12\n"


def test_exit_in_a_begin_typed_at_the_prompt_ends_at_once():
    def keys(k: Keys):
        k.line('BEGIN { @x = 1; printf("bye\\n"); exit(3); }')

    rc, out, err = drive(keys)
    assert rc == 3
    assert out == "bye\n\n\n@x: 1\n"
