"""The JSON printer (``-f json``): one object per line, as bpftrace's
src/output/json.cpp writes them."""
from __future__ import annotations

from .decode import Bucket, MapDump
from .entries import HIST_KINDS, STATS_KINDS, shown_value
from .formats import special_json
from .printer import NO_RESOLVERS, Printer, Resolvers, write
from .text_output import key_text, text_value
from ..lang.types import (Agg, AggKind, Array, CEnum, Int, Ptr, Special, Stack, Str, Struct, Tuple,
                          Type)


# ------------------------------------------------------------ values as JSON

_JSON_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)}
_JSON_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n",
                      ord("\r"): "\\r", ord("\t"): "\\t"})


def json_string(text: str) -> str:
    return '"' + text.translate(_JSON_ESCAPES) + '"'


def json_int(n: int) -> str:
    """An integer as bpftrace writes it: a number when a double holds it
    exactly, else a string (RFC 8259 interoperability)."""
    return str(n) if int(float(n)) == n else f'"{n}"'


def json_value(type: Type, value, res: Resolvers = NO_RESOLVERS) -> str:
    if isinstance(type, CEnum) and type.label(value) is not None:
        return json_string(type.label(value))
    if isinstance(type, (Int, Ptr)):
        return json_int(value)
    if isinstance(type, Str):
        return json_string(value)
    if isinstance(type, Special):
        shown = special_json(type, value, res)
        return shown if shown is not None else json_string(text_value(type, value, res))
    if isinstance(type, Stack):
        return json_string(text_value(type, value, res))
    if isinstance(type, Tuple):
        return "[" + ",".join(json_value(t, v, res) for t, v in zip(type.elems, value)) + "]"
    if isinstance(type, Struct):
        parts = (f"{json_string(f.name)}: {json_value(f.type, v, res)}"
                 for f, v in zip(type.fields, value))
        return "{" + ", ".join(parts) + "}"
    if isinstance(type, Array):
        return "[" + ",".join(json_value(type.elem, v, res) for v in value) + "]"
    if isinstance(type, Agg):
        if type.kind is AggKind.STATS:
            count, avg, total = value
            return (f'{{"count": {json_int(count)}, "average": {json_int(avg)}, '
                    f'"total": {json_int(total)}}}')
        return json_int(value)
    if value is None:
        return "null"
    return json_int(value)


def json_hist(buckets: list[Bucket]) -> str:
    rows = []
    for b in buckets:
        parts = []
        if b.lower is not None:
            parts.append(f'"min": {json_int(b.lower.value)}, ')
        if b.upper is not None:
            parts.append(f'"max": {json_int(b.upper.value - 1)}, ')
        parts.append(f'"count": {b.count}')
        rows.append("{" + "".join(parts) + "}")
    return "[" + ",".join(rows) + "]"


class JsonPrinter(Printer):
    """``-f json``: one JSON object per line."""

    def _record(self, type: str, data: str) -> None:
        write(self.out, f'{{"type": "{type}", "data": {data}}}\n')

    def printf(self, text: str) -> None:
        self._record("printf", json_string(text))

    def printf_batch(self, texts: list[str]) -> None:
        write(self.out, "".join(f'{{"type": "printf", "data": {json_string(t)}}}\n'
                                for t in texts))

    def map(self, dump: MapDump, top: int = 0, div: int = 1, *,
            fill_empty_scalar: bool = False) -> None:
        vt, res = dump.value_type, self.resolvers
        is_stats = isinstance(vt, Agg) and vt.kind in STATS_KINDS
        kind = "stats" if is_stats else "hist" if dump.is_hist else "map"
        entries = self._entries(dump, top, div, fill_empty_scalar)
        if not entries and not (is_stats and not dump.is_scalar):
            return          # bpftrace skips empty maps, except keyed stats: {}

        def one(shown) -> str:
            return json_hist(shown) if dump.is_hist else json_value(vt, shown, res)

        if dump.is_scalar:
            body = one(entries[0][1])
        else:
            body = "{" + ", ".join(
                f"{json_string(key_text(dump.key_type, k, res, json=True))}: {one(v)}"
                for k, v in entries) + "}"
        self._record(kind, f"{{{json_string(dump.name)}: {body}}}")

    def value(self, type: Type, value) -> None:
        if isinstance(type, Agg):
            value = shown_value(type, value)
            if type.kind in HIST_KINDS:
                self._record("value", json_hist(value))
                return
        self._record("value", json_value(type, value, self.resolvers))

    def time(self, text: str) -> None:
        self._record("time", json_string(text))

    def cat(self, text: str) -> None:
        self._record("cat", json_string(text))

    def join(self, text: str) -> None:
        self._record("join", json_string(text))

    def syscall(self, text: str) -> None:
        self._record("syscall", json_string(text))

    def attached(self, probes: int) -> None:
        write(self.out, f'{{"type": "attached_probes", "count": {probes}, '
                        f'"data": {{"probes": {probes}}}}}\n')

    def lost(self, events: int) -> None:
        write(self.out, f'{{"type": "lost_events", "count": {events}, '
                        f'"data": {{"events": {events}}}}}\n')

    def end(self) -> None:
        pass
