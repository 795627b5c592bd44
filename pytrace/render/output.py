"""Text and JSON printers: maps, hist/lhist, stats, printf, print().

Byte-for-byte what bpftrace (0.24+, src/output/text.cpp, json.cpp,
types_format.cpp) prints, with these deliberate differences, each a
bpftrace bug we do not copy:

* ties between equal map values are ordered by key (bpftrace's sort is
  unstable); min/max maps sort by signed value (bpftrace 0.24+ compares the
  bit patterns as unsigned, so -5 sorts after 3; 0.17 sorts signed);
* only tuple keys lose their parentheses (bpftrace strips them from any key
  whose text starts with '(' and ends with ')', so the string key "(sd-pam)"
  prints as ``@[sd-pam]``);
* JSON keys of tuples are joined with "," and their strings keep their
  spaces (bpftrace deletes every space in a JSON key, inside strings too);
* JSON strings carry non-ASCII text as UTF-8 (bpftrace writes each byte

The printers live in ``text_output`` and ``json_output``, what both share
in ``printer`` (``Resolvers``, the ``Printer`` interface) and ``entries``
(print order, shown values); this module picks one and is where the rest of
pytrace imports them from.
"""
from __future__ import annotations

from ..base.diagnostics import UsageError
from .entries import shown_value, sorted_entries
from .printer import Printer, Resolvers
from .text_output import TextPrinter, hist_text, key_text, printf_arg, text_value

TYPE_CHECKING = False
if TYPE_CHECKING:           # annotations only: typing costs ~2 ms to import
    from typing import TextIO

__all__ = ["JsonPrinter", "Printer", "Resolvers", "TextPrinter", "hist_text", "json_hist",
           "json_int", "json_string", "json_value", "key_text", "make_printer", "printf_arg",
           "shown_value", "sorted_entries", "text_value"]


def make_printer(fmt: str, out: TextIO, err: TextIO,
                 resolvers: Resolvers | None = None) -> Printer:
    """The printer for ``-f text`` or ``-f json``."""
    if fmt == "json":
        from .json_output import JsonPrinter
        return JsonPrinter(out, err, resolvers)
    if fmt == "text":
        return TextPrinter(out, err, resolvers)
    raise UsageError(f'invalid output format "{fmt}"; use text or json')


#: the JSON printer's names, imported on first use: ``-f text``, the
#: default, never loads it
_JSON_NAMES = frozenset({"JsonPrinter", "json_hist", "json_int", "json_string", "json_value"})


def __getattr__(name: str):
    if name in _JSON_NAMES:
        from . import json_output
        return getattr(json_output, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
