"""What compilation produces: programs plus the resources they share.

A ``CompiledScript`` is everything the session needs to load, attach, read
and print: each probe's instructions, the maps (with the types userspace
decodes them by), the events programs send (printf formats, exit, print…),
and pytrace's own counters (dropped map updates, lost events).
"""
from __future__ import annotations

from ..base.record import field, record
from enum import Enum

from ..base.diagnostics import Loc
from .types import Agg, AggKind, Tuple, Type, UINT64


class MapKind(Enum):
    HASH = "hash"
    PERCPU_HASH = "percpu_hash"
    ARRAY = "array"
    PERCPU_ARRAY = "percpu_array"
    RINGBUF = "ringbuf"
    PERF_EVENT_ARRAY = "perf_event_array"
    STACK_TRACE = "stack_trace"
    LPM_TRIE = "lpm_trie"


@record(frozen=True)
class MapSpec:
    """A map the script declares by using it (``@name``), or one of pytrace's."""
    name: str
    kind: MapKind
    key_size: int
    value_size: int
    max_entries: int
    #: the user's key (None: a map without keys, stored under key 0)
    key: Type | None = None
    #: the stored value's type (an Agg for aggregations)
    value: Type = UINT64
    #: declared by the script (printed at exit) rather than pytrace's own
    user: bool = True

    @property
    def is_hist(self) -> bool:
        return isinstance(self.value, Agg) and self.value.kind in (AggKind.HIST, AggKind.LHIST)


class EventKind(Enum):
    PRINTF = "printf"
    EXIT = "exit"
    PRINT_MAP = "print_map"
    CLEAR_MAP = "clear_map"
    ZERO_MAP = "zero_map"
    PRINT_VALUE = "print_value"
    TIME = "time"
    LOAD_MAP = "load_map"       # load(@map, file): ``map`` from the file named by ``fmt``
    SYSTEM = "system"           # system(fmt, ...): a shell command, laid out as PRINTF
    CAT = "cat"                 # cat(fmt, ...): a file to print, laid out as PRINTF
    JOIN = "join"               # join(argv, sep): string slots; ``fmt`` is the separator


@record(frozen=True)
class EventSpec:
    """One kind of record a program sends; the record starts with its u64 id.

    PRINTF: ``fmt`` and ``args`` (a Tuple laid out after the id);
    EXIT: an i64 code; PRINT/CLEAR/ZERO_MAP: ``map`` (+ ``top``/``div`` in
    the record as two u64); PRINT_VALUE: one value of ``args.elems[0]``;
    TIME: ``fmt`` is the strftime format.
    """
    id: int
    kind: EventKind
    fmt: str = ""
    args: Tuple = Tuple(())
    map: str = ""
    loc: Loc | None = field(default=None, compare=False)

    HEADER = 8

    @property
    def size(self) -> int:
        return self.HEADER + self.args.size


class Counter(Enum):
    """pytrace's own per-program counters (one u64 each, in the counters map)."""
    LOST_EVENTS = "lost_events"
    MAP_FULL = "map_full"


@record(frozen=True)
class CounterSpec:
    index: int
    kind: Counter
    map: str = ""          # for MAP_FULL: which map


@record(frozen=True)
class Limits:
    """Limits a script can set (``config = { … }``) or the environment
    (``PYTRACE_MAX_STRLEN`` …)."""
    max_strlen: int = 1024
    max_map_keys: int = 4096
    max_printf_args: int = 32
    max_probes: int = 4096
    stack_mode: str = "bpftrace"
    perf_rb_pages: int = 64
    #: 4 MiB: a burst of 100,000 small records (a printf of two integers
    #: is 32 bytes with its header) fits before the reader has woken up
    ringbuf_size: int = 4 << 20
    #: --unsafe: system(), signal(), override() allowed (never set by a config block)
    unsafe: bool = False
    #: a spec of a block that names nothing (a function missing from its
    #: binary): error (current bpftrace's default), warn (skip it with a
    #: warning), ignore (skip it silently); a block left with nothing is an error
    missing_probes: str = "error"

    #: name in config blocks / environment variable suffix -> field
    NAMES = {"max_strlen": "max_strlen", "max_map_keys": "max_map_keys",
             "max_printf_args": "max_printf_args", "max_probes": "max_probes",
             "stack_mode": "stack_mode", "perf_rb_pages": "perf_rb_pages",
             "ringbuf_size": "ringbuf_size",
             "missing_probes": "missing_probes"}


@record
class CompiledProbe:
    index: int
    name: str                      # bpf program name
    targets: list                  # probes.Target, all sharing this program
    kind: object                   # probes.ProgKind
    insns: list
    locs: list
    stack_size: int = 0
    ir_dump: list[str] = field(default_factory=list)
    special: str = ""              # "BEGIN"/"END" for the run-once probes
    #: (name, first instruction, parameters) per subprogram; more than one
    #: means the program needs BTF func_info to load
    funcs: list = field(default_factory=list)
    #: index of the script's probe (``Program.probes``) this program serves
    source: int = 0

    @property
    def nslots(self) -> int:
        return sum(i.slots for i in self.insns)


@record
class CompiledScript:
    probes: list[CompiledProbe]
    maps: list[MapSpec]
    events: list[EventSpec]
    counters: list[CounterSpec]
    limits: Limits
    #: probe index -> full probe name (for the ``probe`` builtin)
    probe_names: dict[int, str] = field(default_factory=dict)
    #: source of the script, for listings and error messages
    source: object = None
    #: user map name -> (where it was first used with its keys, where a value
    #: was first stored) as Locs, so a later compile against this script
    #: (``compile_ast(base=)``) can point there
    map_origins: dict = field(default_factory=dict)
    #: located warnings to show before the run (missing probes skipped)
    warnings: list = field(default_factory=list)

    def map(self, name: str) -> MapSpec:
        for m in self.maps:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def user_maps(self) -> list[MapSpec]:
        return [m for m in self.maps if m.user]
