"""The event stream without a kernel: records laid out as their EventSpec
declares go through the table of handlers (runtime/eventloop.HANDLERS),
one per event kind."""
import struct

import pytest

from pytrace.lang.program import CompiledScript, EventKind, EventSpec, Limits
from pytrace.lang.types import INT64, UINT64, Str, Tuple
from pytrace.render.output import Resolvers
from pytrace.runtime.eventloop import HANDLERS, STOP_EXIT, STOP_SIGNAL, Ending, EventStream


class Printer:
    def __init__(self):
        self.resolvers = Resolvers()
        self.out: list = []

    def printf(self, text):
        self.out.append(("printf", text))

    def printf_batch(self, texts):
        self.out.append(("printf_batch", list(texts)))

    def value(self, type, value):
        self.out.append(("value", value))

    def time(self, text):
        self.out.append(("time", text))

    def map(self, dump, top=0, div=1, *, fill_empty_scalar=False):
        self.out.append(("map", dump, top, div, fill_empty_scalar))


class Map:
    def __init__(self):
        self.did: list[str] = []

    def clear(self):
        self.did.append("clear")

    def zero(self):
        self.did.append("zero")


class Loader:
    def __init__(self, events):
        self.script = CompiledScript([], [], events, [], Limits())
        self.maps = {"@m": Map()}


class MapReader:
    def dump(self, name):
        return f"dump of {name}"


class MapFiles:
    def __init__(self):
        self.loaded: list = []

    def load(self, name, path):
        self.loaded.append((name, path))


class Services:
    def __init__(self):
        self.mapfiles = MapFiles()

    def get(self, name):
        assert name == "mapfiles"
        return self.mapfiles

    def poll(self):
        pass


EVENTS = [
    EventSpec(1, EventKind.PRINTF, "%d: %s\n", Tuple((INT64, Str(8)))),
    EventSpec(2, EventKind.EXIT, args=Tuple((INT64,))),
    EventSpec(3, EventKind.PRINT_MAP, map="@m", args=Tuple((UINT64, UINT64))),
    EventSpec(4, EventKind.CLEAR_MAP, map="@m"),
    EventSpec(5, EventKind.ZERO_MAP, map="@m"),
    EventSpec(6, EventKind.PRINT_VALUE, args=Tuple((INT64,))),
    EventSpec(7, EventKind.LOAD_MAP, fmt="rules.txt", map="@m"),
]


@pytest.fixture
def stream():
    return EventStream(Loader(EVENTS), Printer(), Services(), MapReader(), Ending())


def record(eid: int, body: bytes = b"") -> bytes:
    return struct.pack("<Q", eid) + body


def test_every_event_kind_has_a_handler():
    assert set(HANDLERS) == set(EventKind)


def test_printf_decodes_its_arguments_as_declared(stream):
    stream.handle(record(1, struct.pack("<q", -5) + b"ab\0xxxxx"))
    assert stream.printer.out == [("printf", "-5: ab\n")]


def test_print_map_reads_top_and_div(stream):
    stream.handle(record(3, struct.pack("<QQ", 10, 0)))      # div 0 prints as 1
    assert stream.printer.out == [("map", "dump of @m", 10, 1, True)]


def test_map_operations_and_values(stream):
    stream.handle(record(4))
    stream.handle(record(5))
    stream.handle(record(6, struct.pack("<q", -7)))
    stream.handle(record(7))
    assert stream.loader.maps["@m"].did == ["clear", "zero"]
    assert stream.printer.out == [("value", -7)]
    assert stream.services.mapfiles.loaded == [("@m", "rules.txt")]


def test_exit_sets_the_status_once_and_silences_what_follows(stream):
    stream.ending.stop(STOP_SIGNAL)
    stream.handle(record(2, struct.pack("<q", 258)))
    assert (stream.ending.reason, stream.ending.exit_code) == (STOP_EXIT, 2)
    stream.handle(record(2, struct.pack("<q", 3)))           # ignored: exit() came first
    stream.handle(record(6, struct.pack("<q", 1)))
    assert stream.ending.exit_code == 2 and stream.printer.out == []
    stream.ignoring = False                                  # END speaks
    stream.handle(record(2, struct.pack("<q", 3)))
    assert stream.ending.exit_code == 2                      # the first exit() decides


def test_unknown_ids_are_ignored(stream):
    stream.handle(record(0))
    stream.handle(record(len(EVENTS) + 1, b"\0" * 16))
    assert stream.printer.out == []


def _printf_record(n: int, text: bytes) -> bytes:
    return record(1, struct.pack("<q", n) + text.ljust(8, b"\0"))


def test_a_batch_keeps_the_order_of_printf_and_other_records(stream):
    stream.compile_formatters()
    stream.take_batch([_printf_record(1, b"a"), _printf_record(2, b"b"),
                       record(6, struct.pack("<q", 7)), _printf_record(3, b"c"),
                       record(2, struct.pack("<q", 0)), _printf_record(4, b"d")])
    stream.flush()
    # printf lines wait for one write, which comes before any other record;
    # nothing after exit() prints
    assert stream.printer.out == [("printf_batch", ["1: a\n", "2: b\n"]), ("value", 7),
                                  ("printf_batch", ["3: c\n"])]


def test_a_script_of_one_printf_formats_its_batches_whole():
    stream = EventStream(Loader(EVENTS[:1]), Printer(), Services(), MapReader(), Ending())
    stream.compile_formatters()
    stream.take_batch([_printf_record(i, b"x" * i) for i in range(3)])
    stream.take_batch([_printf_record(-1, b"12345678")])    # a full Str(8): no NUL
    stream.flush()
    assert stream.printer.out == [("printf_batch", ["0: \n", "1: x\n", "2: xx\n",
                                                    "-1: 12345678..\n"])]
