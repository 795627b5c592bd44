"""``pytrace.events()``: each printf as a Python object as it happens,
fields named after the arguments, exactly N events for N calls in order;
closing early detaches everything this process attached."""
from __future__ import annotations

import os
import time

import pytest

import pytrace
from conftest import PY, WORKLOADS, needs_root, owned_prog_ids

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

SCRIPT = ('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
          '{ @n = count(); printf("%s call %d of pid %d\\n", comm, @n, pid); }')


def test_exactly_n_events_in_order_with_named_fields():
    n = 300
    stream = pytrace.events(SCRIPT, command=[PY, str(WORKLOADS / "getppid.py"), str(n)])
    events = list(stream)
    assert len(events) == n
    assert [e.n for e in events] == list(range(1, n + 1))
    child = events[0].pid
    assert all(e.comm == "python3" and e["pid"] == child for e in events)
    assert events[41].text == f"python3 call 42 of pid {child}\n"
    assert stream.lost == 0
    assert stream.maps() == {"@n": n}
    assert not owned_prog_ids([os.getpid()])


def test_closing_early_detaches_everything(tmp_path):
    flag = tmp_path / "never"
    stream = pytrace.events(SCRIPT, command=[PY, str(WORKLOADS / "getppid_then_wait.py"),
                                             "ptev_close", "20", str(flag)])
    first = []
    for e in stream:
        first.append(e.n)
        if len(first) == 5:
            break
    assert owned_prog_ids([os.getpid()]), "attached while running"
    stream.close()
    assert first == [1, 2, 3, 4, 5]
    assert not owned_prog_ids([os.getpid()])
    assert list(stream) == []


def test_timeout_ends_the_stream():
    start = time.monotonic()
    assert list(pytrace.events('tracepoint:syscalls:sys_enter_getppid /pid == 1/ '
                               '{ printf("x\\n"); }', timeout=0.5)) == []
    assert time.monotonic() - start < 10


def test_async_for_delivers_the_same_events():
    import asyncio

    async def collect():
        stream = pytrace.events(SCRIPT, command=[PY, str(WORKLOADS / "getppid.py"), "40"])
        return [e.n async for e in stream], stream

    ns, stream = asyncio.run(collect())
    assert ns == list(range(1, 41))
    assert stream.closed and not owned_prog_ids([os.getpid()])
