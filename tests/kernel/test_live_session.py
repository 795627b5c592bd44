"""The interactive session's engine (pytrace/live.py) on the real kernel:
probes added one input at a time share maps and one event reader, detach
one by one, BEGIN runs at once and END at the end, and nothing stays loaded.

Workloads rename themselves (workloads/named_getppid.py), so a predicate on
comm counts exactly their getppid() calls whatever else the machine runs.
"""
import io
import os
import subprocess

import pytest

from conftest import PY, WORKLOADS, needs_root
from pytrace.kernel import bpf
from pytrace.base.diagnostics import CompileError, UsageError
from pytrace.lang.kernelinfo import Feature
from pytrace.runtime.live import LiveSession
from pytrace.runtime.session import Options

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

TP = "tracepoint:syscalls:sys_enter_getppid"


def calls(name: str, n: int) -> None:
    """n getppid() calls by a process whose comm is ``name``."""
    subprocess.run([PY, str(WORKLOADS / "named_getppid.py"), name, str(n)], check=True)


class Live:
    """A LiveSession printing into strings, with the ids of every program
    and map it loaded, to check that they are gone after close()."""

    def __init__(self, **options):
        self.out = io.StringIO()
        self.s = LiveSession.printing(Options("", **options), "text", self.out, self.out)
        with open("/proc/self/comm") as f:
            self.s_comm = f.read().strip()
        self.prog_ids: set[int] = set()
        self.map_ids: set[int] = set()
        self.s.start()
        for m in self.s.maps.values():
            self.map_ids.add(bpf.map_info(m.fd).id)

    def add(self, text: str):
        added = self.s.add(text)
        for lp in added:
            for fd in lp.prog_fds:
                if lp.state != "ran":
                    info = bpf.prog_info(fd)
                    self.prog_ids.add(info.id)
        for m in self.s.maps.values():
            self.map_ids.add(bpf.map_info(m.fd).id)
        return added

    def take(self) -> str:
        """Output so far, and forget it."""
        self.s.poll()
        text = self.out.getvalue()
        self.out.seek(0)
        self.out.truncate()
        return text

    def close(self) -> None:
        self.s.close()


def _gone(kind: str, ids: set[int]) -> set[int]:
    """The ids among ``ids`` still alive in the kernel."""
    alive = set()
    get = bpf.prog_get_fd_by_id if kind == "prog" else bpf.map_get_fd_by_id
    for i in ids:
        try:
            fd = get(i)
        except bpf.BpfError:
            continue
        os.close(fd)
        alive.add(i)
    return alive


@pytest.fixture
def live():
    sessions = []

    def make(**options) -> Live:
        lv = Live(**options)
        sessions.append(lv)
        return lv

    yield make
    for lv in sessions:
        lv.close()
        # programs go at once; maps a moment after their last program
        import time
        deadline = time.monotonic() + 5
        while (_gone("prog", lv.prog_ids) or _gone("map", lv.map_ids)) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _gone("prog", lv.prog_ids), "programs left loaded"
        assert not _gone("map", lv.map_ids), "maps left loaded"


def test_a_later_probe_reads_and_updates_maps_and_detach_stops_one(live):
    lv = live()
    [p1] = lv.add(f'{TP} /comm == "ptlive1"/ {{ @a = count(); @n++; }}')
    assert (p1.number, p1.name) == (1, TP)
    calls("ptlive1", 5)
    assert lv.s.print_maps() == 2
    assert lv.take() == "@a: 5\n@n: 5\n"
    [p2] = lv.add(f'{TP} /comm == "ptlive1"/ {{ @b = count(); @copy = @a; @n += 10; }}')
    assert p2.number == 2
    calls("ptlive1", 2)                 # both run: @n gets 1 + 10 per call
    lv.s.detach(1)
    assert [p.number for p in lv.s.probes] == [2]
    calls("ptlive1", 3)                 # the second only: @a stays, @copy reads it
    lv.s.print_maps()
    assert lv.take() == "@a: 7\n@b: 5\n@copy: 7\n@n: 57\n"
    assert lv.s.finish() == 0
    assert lv.take() == "\n\n@a: 7\n@b: 5\n@copy: 7\n@n: 57\n"


def test_printf_of_every_input_through_one_reader(live):
    lv = live()
    lv.add(f'{TP} /comm == "ptlive2"/ {{ printf("first %s\\n", comm); }}')
    lv.add(f'{TP} /comm == "ptlive2"/ {{ printf("second %d\\n", 7); }}')
    ids = [e.id for e in lv.s.script.events]
    assert ids == [1, 2]
    calls("ptlive2", 2)
    lines = lv.take().splitlines()
    assert sorted(lines) == ["first ptlive2"] * 2 + ["second 7"] * 2


def test_begin_runs_at_once_and_end_at_the_end(live):
    lv = live()
    [begin, end] = lv.add('BEGIN { @start = 7; printf("begun\\n"); } '
                          'END { printf("ended %d\\n", @start); }')
    assert (begin.special, begin.state, end.special) == ("BEGIN", "ran", "END")
    assert lv.take() == "begun\n"
    lv.add(f'{TP} /comm == "ptlive3"/ {{ @c = count(); }} END {{ printf("c %d\\n", @c); }}')
    calls("ptlive3", 4)
    assert lv.s.finish() == 0
    assert lv.take() == "ended 7\nc 4\n\n\n@c: 4\n@start: 7\n"


def test_exit_in_a_probe_ends_the_session(live):
    lv = live()
    lv.add(f'{TP} /comm == "ptlive4"/ {{ @c = count(); if (@c == 3) {{ exit(4); }} }}')
    lv.add('END { printf("bye\\n"); }')
    calls("ptlive4", 5)
    assert lv.s.poll() is True
    assert lv.s.finish() == 4
    out = lv.take()
    assert out.startswith("bye\n\n\n@c: ")


def test_errors_leave_the_session_and_its_probes_as_they_were(live):
    lv = live()
    lv.add(f'{TP} /comm == "ptlive5"/ {{ @c[comm] = count(); @s = comm; }}')
    with pytest.raises(CompileError) as info:
        lv.add(f'{TP} {{ @c[comm] = sum(2); }}')
    assert info.value.render() == (
        "<input 2>:1:52: error: @c already holds count() values; it cannot also hold sum() "
        "values\n"
        "tracepoint:syscalls:sys_enter_getppid { @c[comm] = sum(2); }\n"
        "                                                   ~~~~~~\n"
        "<input 1>:1:72: note: @c first assigned here\n"
        'tracepoint:syscalls:sys_enter_getppid /comm == "ptlive5"/ { @c[comm] = count(); '
        "@s = comm; }\n"
        "                                                                       ~~~~~~~")
    with pytest.raises(CompileError) as info:
        lv.add(f'{TP} {{ @s = str(args.__syscall_nr); }}')
    assert "@s is loaded with string[16] values; this would need string[1024] values" \
        in info.value.render()
    with pytest.raises(CompileError):
        lv.add(f'{TP} {{ @x = ; }}')
    assert [p.number for p in lv.s.probes] == [1]
    calls("ptlive5", 3)
    lv.s.print_maps(["@c"])
    assert lv.take() == "@c[ptlive5]: 3\n"
    # the next probe gets the next number
    [p] = lv.add(f'{TP} /comm == "ptlive5"/ {{ @d = count(); }}')
    assert p.number == 2


def test_maps_written_from_userspace(live):
    lv = live()
    # comm here is pytrace's: the keys are 16-byte strings, as in the probe
    lv.add('BEGIN { @allow[comm] = 0; @limit = 0; @pair["a", 1] = "x"; }')
    lv.add(f'{TP} /comm == "ptlive6"/ {{ if (@allow[comm] == 1) {{ @allowed = count(); }} '
           f'@seen = @limit; }}')
    lv.s.live_maps.write_map("@allow", "ptlive6", 1)
    lv.s.live_maps.write_map("@limit", None, -3)
    lv.s.live_maps.write_map("@pair", ("b", 2), "y")
    calls("ptlive6", 2)
    assert lv.s.live_maps.delete_key("@allow", "ptlive6") is True
    assert lv.s.live_maps.delete_key("@allow", "ptlive6") is False
    calls("ptlive6", 2)
    lv.s.live_maps.write_map("@allowed", None, 40)     # a count() map takes a total too
    lv.s.print_maps()
    assert lv.take() == (f"@allow[{lv.s_comm}]: 0\n@allowed: 40\n@limit: -3\n"
                         "@pair[a, 1]: x\n@pair[b, 2]: y\n@seen: -3\n")
    with pytest.raises(UsageError, match='the value "yz" is longer than the map.s 1-byte'):
        lv.s.live_maps.write_map("@pair", ("b", 2), "yz")
    with pytest.raises(UsageError, match="must be an integer"):
        lv.s.live_maps.write_map("@allow", "x", "y")
    with pytest.raises(UsageError, match="there is no map @nope"):
        lv.s.live_maps.write_map("@nope", None, 1)


def test_clear_and_hits(live):
    lv = live()
    [p] = lv.add(f'{TP} /comm == "ptlive7"/ {{ @c[pid] = count(); @total++; }}')
    calls("ptlive7", 6)
    assert lv.s.hits(p) >= 6            # every getppid() on the machine runs it
    assert lv.s.live_maps.clear_maps(["@c"]) == ["@c"]
    lv.s.print_maps()
    assert lv.take() == "@total: 6\n"
    assert lv.s.live_maps.clear_maps() == ["@c", "@total"]
    assert lv.s.print_maps() == 0


def test_command_is_held_until_released_and_cpid_works_before_and_after(live):
    lv = live(command=[PY, str(WORKLOADS / "getppid.py"), "4"])
    lv.add(f'{TP} /pid == cpid/ {{ @before = count(); }}')
    assert lv.s.child_exit() is None
    lv.add(f'{TP} /pid == cpid/ {{ @after = count(); }}')
    pid = lv.s.release_child()
    assert pid == lv.s.child.pid
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    assert lv.s.child_exit() == 0
    with pytest.raises(UsageError, match="already started"):
        lv.s.release_child()
    lv.s.print_maps()
    assert lv.take() == "@after: 4\n@before: 4\n"


def test_detach_all_and_script_text(live):
    lv = live()
    lv.add(f'{TP} /comm == "ptlive8"/ {{ @a = count(); }}\n'
           f'{TP} /comm == "ptlive8"/ {{\n  @b = count();\n}}')
    lv.add('END { print(@a); }')
    assert lv.s.script_text() == (
        f'{TP} /comm == "ptlive8"/ {{ @a = count(); }}\n\n'
        f'{TP} /comm == "ptlive8"/ {{\n  @b = count();\n}}\n\n'
        'END { print(@a); }\n')
    assert len(lv.s.detach_all()) == 3
    calls("ptlive8", 2)
    assert lv.s.print_maps() == 0
    assert lv.s.finish() == 0            # END was detached too: nothing prints
    assert lv.take() == ""
    with pytest.raises(UsageError, match="there is no probe 1"):
        lv.s.detach(1)


@pytest.mark.parametrize("masked", [
    pytest.param(frozenset(), id="default"),
    pytest.param(frozenset({Feature.RINGBUF}), id="no-ringbuf"),
    pytest.param(frozenset({Feature.TEST_RUN}), id="no-test_run"),
    pytest.param(frozenset({Feature.RINGBUF, Feature.TEST_RUN, Feature.LINK}), id="old-kernel"),
])
def test_fallbacks_perf_buffer_begin_through_a_tracepoint_and_no_links(live, masked):
    lv = live(masked=masked)
    [begin] = lv.add('BEGIN { printf("begin %d\\n", 1); @b = 1; }')
    assert lv.take() == "begin 1\n"
    expected_begin = "getpgid tracepoint" if Feature.TEST_RUN in masked else "BPF_PROG_TEST_RUN"
    assert expected_begin in begin.mechanism
    [p] = lv.add(f'{TP} /comm == "ptlive9"/ {{ printf("%s %d\\n", comm, @b); @c = count(); }}')
    assert p.mechanism == ("tracepoint: perf event (ioctl)" if Feature.LINK in masked
                           else "tracepoint: perf event + BPF link")
    lv.add('END { printf("end %d\\n", @c); }')
    calls("ptlive9", 2)
    assert lv.take() == "ptlive9 1\nptlive9 1\n"
    assert lv.s.finish() == 0
    assert lv.take() == "end 2\n\n\n@b: 1\n@c: 2\n"


@pytest.mark.parametrize("masked", [pytest.param(frozenset(), id="link"),
                                    pytest.param(frozenset({Feature.LINK}), id="ioctl")])
def test_stop_now_stops_tracepoint_programs_at_once(live, masked):
    from pytrace.runtime.detach import stop_now
    lv = live(masked=masked)
    [p] = lv.add(f'tracepoint:syscalls:sys_*_getppid /comm == "ptlive10"/ {{ @a = count(); }}')
    assert len(p.attachments) == 2
    stop_now(p.attachments)
    calls("ptlive10", 3)
    assert lv.s.print_maps() == 0


def test_stop_now_stops_a_tracepoint_program(live):
    """Disabling a tracepoint's perf event would not stop its program (the
    tracepoint runs it regardless); stop_now closes the link, which does."""
    from pytrace.runtime.detach import stop_now
    lv = live()
    [p] = lv.add(f'{TP} /comm == "ptlive11"/ {{ @a = count(); }}')
    stop_now(p.attachments)
    calls("ptlive11", 3)
    assert lv.s.print_maps() == 0
