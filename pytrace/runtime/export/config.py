"""How a script names its exported metrics: ``// export:`` comment lines.

The language is bpftrace's, so the exporter's settings ride in comments
that bpftrace ignores too::

    // export: prefix=myapp max_series=2000
    // export: @opens labels=comm
    // export: @bytes labels=comm,pid max_series=100

A line without a map sets the script's defaults (``prefix``, default
``pytrace``; ``max_series`` per map, default 5000); a line naming a map
sets that map's label names (one per key) and its own series cap. The
default label names are ``key`` for one key and ``key0 … keyN`` for
several. Mistakes (an unknown setting, a bad label name, labels that do
not match the map's keys, two lines for one map that disagree) are
located errors pointing at the comment. Pure: parsing needs only text;
``check`` needs the compiled script's map specs.
"""
from __future__ import annotations

import re

from ...base.diagnostics import CompileError, Diagnostic, Loc, Severity, Source, UsageError
from ...base.record import field, record

PRAGMA = re.compile(r"//\s*export:(?P<body>.*)$")
NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")
#: label names Prometheus or the exporter use themselves
RESERVED_LABELS = frozenset({"le", "quantile", "map"})
DEFAULT_PREFIX = "pytrace"
DEFAULT_MAX_SERIES = 5000
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9435


@record(frozen=True)
class MapExport:
    """One map's settings and where they were written."""
    map: str
    labels: tuple[str, ...] | None = None
    max_series: int | None = None
    loc: Loc | None = None


@record
class ExportConfig:
    prefix: str = DEFAULT_PREFIX
    max_series: int = DEFAULT_MAX_SERIES
    maps: dict = field(default_factory=dict)      # name -> MapExport

    def labels_for(self, name: str, arity: int) -> tuple[str, ...]:
        entry = self.maps.get(name)
        if entry is not None and entry.labels is not None:
            return entry.labels
        return default_labels(arity)

    def cap_for(self, name: str) -> int:
        entry = self.maps.get(name)
        if entry is not None and entry.max_series is not None:
            return entry.max_series
        return self.max_series


def default_labels(arity: int) -> tuple[str, ...]:
    if arity == 0:
        return ()
    if arity == 1:
        return ("key",)
    return tuple(f"key{i}" for i in range(arity))


def _error(message: str, source: Source, line: int, col: int, end: int,
           hint: str | None = None) -> CompileError:
    return CompileError(Diagnostic(Severity.ERROR, message, Loc(source, line, col, line, end),
                                   hint))


def parse(text: str, name: str, prefix: str | None = None,
          max_series: int | None = None) -> ExportConfig:
    """The ``// export:`` settings of script ``text`` (file ``name``);
    ``prefix``/``max_series`` from the command line win over the script's."""
    source = Source(name, text)
    config = ExportConfig()
    for lineno, line in enumerate(text.split("\n"), 1):
        m = PRAGMA.search(line)
        if m is None:
            continue
        _parse_line(config, source, lineno, m.start("body"), m.group("body"))
    if prefix is not None:
        config.prefix = prefix
    if max_series is not None:
        config.max_series = max_series
    return config


def _words(body: str, start: int):
    """(word, 1-based column) for each blank-separated word of ``body``."""
    for w in re.finditer(r"\S+", body):
        yield w.group(), start + w.start() + 1


def _parse_line(config: ExportConfig, source: Source, lineno: int, start: int,
                body: str) -> None:
    target: str | None = None
    target_col = 0
    labels = None
    cap = None
    for word, col in _words(body, start):
        end = col + len(word)
        if word.startswith("@"):
            if target is not None:
                raise _error(f"export: one map per line, not {target} and {word}", source,
                             lineno, col, end, "write a second '// export:' line")
            target, target_col = word, col
            continue
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise _error(f"export: '{word}' is not a setting", source, lineno, col, end,
                         "settings are name=value: prefix=, max_series=, labels=")
        vcol = col + len(key) + 1
        if key == "prefix":
            if target is not None:
                raise _error("export: prefix= applies to the whole script, not one map",
                             source, lineno, col, end, "put it on a line without a map")
            if not NAME.match(value) or ":" in value:
                raise _error(f"export: '{value}' is not a metric name prefix", source,
                             lineno, vcol, end, "use letters, digits and _")
            config.prefix = value
        elif key == "max_series":
            if not value.isdigit() or int(value) == 0:
                raise _error(f"export: max_series takes a positive number, not '{value}'",
                             source, lineno, vcol, end)
            cap = int(value)
        elif key == "labels":
            labels = tuple(value.split(","))
            _check_label_names(labels, source, lineno, vcol, end)
        else:
            raise _error(f"export: unknown setting '{key}'", source, lineno, col,
                         col + len(key), "settings are prefix=, max_series=, labels=")
    if target is None:
        if labels is not None:
            raise _error("export: labels= needs a map", source, lineno, start + 1,
                         start + len(body) + 1, "name it first: // export: @map labels=a,b")
        if cap is not None:
            config.max_series = cap
        return
    loc = Loc(source, lineno, target_col, lineno, target_col + len(target))
    entry = MapExport(target, labels, cap, loc)
    old = config.maps.get(target)
    if old is not None and (old.labels, old.max_series) != (entry.labels, entry.max_series):
        raise CompileError(Diagnostic(
            Severity.ERROR, f"export: conflicting settings for {target}", loc,
            "give each map one '// export:' line",
            (Diagnostic(Severity.NOTE, "first set here", old.loc),)))
    config.maps[target] = entry


def _check_label_names(labels, source, lineno, col, end) -> None:
    seen: set[str] = set()
    pos = col
    for label in labels:
        lend = pos + len(label)
        if not NAME.match(label) or label.startswith("__"):
            raise _error(f"export: '{label}' is not a label name", source, lineno, pos,
                         max(lend, pos + 1), "use letters, digits and _ (not starting with __)")
        if label in RESERVED_LABELS:
            raise _error(f"export: label name '{label}' is reserved", source, lineno, pos,
                         lend, "choose another name")
        if label in seen:
            raise _error(f"export: label '{label}' given twice", source, lineno, pos, lend)
        seen.add(label)
        pos = lend + 1


def check(config: ExportConfig, arities: dict[str, int]) -> None:
    """Each configured map exists and has one label per key (``arities``:
    user map name -> number of keys, 0 for a scalar map)."""
    for name, entry in config.maps.items():
        if name not in arities:
            known = ", ".join(sorted(arities)) or "none"
            raise CompileError(Diagnostic(Severity.ERROR, f"export: the script has no map "
                                          f"{name}", entry.loc, f"its maps: {known}"))
        if entry.labels is not None and len(entry.labels) != arities[name]:
            n = arities[name]
            raise CompileError(Diagnostic(
                Severity.ERROR, f"export: {name} has {n} key{'s' if n != 1 else ''}, but "
                f"{len(entry.labels)} label{'s' if len(entry.labels) != 1 else ''} "
                f"{'are' if len(entry.labels) != 1 else 'is'} given", entry.loc,
                f"give one label name per key, in order"))


def parse_export(value: str) -> tuple[str, int]:
    """``prometheus`` or ``prometheus=HOST:PORT`` (``[v6]:PORT``, or only
    ``PORT`` on 127.0.0.1) -> (host, port)."""
    kind, eq, where = value.partition("=")
    if kind != "prometheus":
        raise UsageError(f"--export: unknown exporter '{kind}' (use prometheus"
                         "[=HOST:PORT])")
    if not eq:
        return DEFAULT_HOST, DEFAULT_PORT
    host, colon, port = where.rpartition(":")
    if not colon:
        host, port = DEFAULT_HOST, where
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--export: '{where}' has no valid port (use HOST:PORT, e.g. "
                         f"{DEFAULT_HOST}:{DEFAULT_PORT})")
    return host, int(port)
