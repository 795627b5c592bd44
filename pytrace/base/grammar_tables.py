"""The parser's tables on disk, so start-up never imports Lark.

``lang.lalr`` turns grammar.lark into LALR tables (with Lark) and runs
them; it reads and writes no file. This module does the file work for it:
it reads ``pytrace/lang/grammar.lark`` and returns the tables shipped with
the package (``pytrace/lang/grammar.tables``, written at build time by
setup.py), else the ones in the cache directory, else those ``build``
makes now, which it stores there for next time. Tables are kept with
``marshal`` under a key of the grammar's checksum and the tables' format,
so an edited grammar or a new format is never served stale tables:
loading them takes about a millisecond. Inside a zipapp (``pytrace.pyz``,
``python3 -m pytrace.tools.pyz``) both files are members of the archive
and are read through its loader.
"""
from __future__ import annotations

import marshal
import os
import zlib
from typing import Callable

from .cache import cache_dir, read_private, write_atomic

_LANG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lang")
GRAMMAR_PATH = os.path.join(_LANG, "grammar.lark")
PACKAGED_TABLES = os.path.join(_LANG, "grammar.tables")

#: grammar.lark's bytes -> the tables, as plain data (lists, dicts, ints, strings)
Build = Callable[[bytes], dict]


def grammar_key(grammar: bytes, fmt: int) -> str:
    """What tables built from ``grammar`` in format ``fmt`` are filed under."""
    return f"{fmt}-{zlib.crc32(grammar):08x}-{len(grammar):x}"


def _packaged(path: str) -> bytes | None:
    """A file shipped with the package: from the disk, else through the
    loader that imported us (a zipapp's zipimporter); None when absent."""
    raw = read_private(path)
    if raw is not None:
        return raw
    get_data = getattr(globals().get("__loader__"), "get_data", None)
    if get_data is None:
        return None
    try:
        return get_data(path)
    except OSError:
        return None


def _read_grammar() -> bytes:
    raw = _packaged(GRAMMAR_PATH)
    if raw is None:
        raise FileNotFoundError(f"{GRAMMAR_PATH} is missing: pytrace is installed incompletely")
    return raw


def _read(path: str, key: str, packaged: bool = False) -> dict | None:
    raw = _packaged(path) if packaged else read_private(path)
    if raw is None:
        return None
    try:
        data = marshal.loads(raw)
    except (ValueError, EOFError, TypeError):
        return None
    if isinstance(data, dict) and data.get("key") == key:
        return data
    return None


def load(build: Build, fmt: int) -> dict:
    """The tables for the installed grammar: shipped with the package, else
    from the cache, else built now with ``build`` (and cached)."""
    grammar = _read_grammar()
    key = grammar_key(grammar, fmt)
    cached = os.path.join(cache_dir(), f"grammar-{key}.tables")
    data = _read(PACKAGED_TABLES, key, packaged=True) or _read(cached, key)
    if data is None:
        data = build(grammar)
        data["key"] = key
        write_atomic(cached, marshal.dumps(data))
    return data


def write_packaged(build: Build, fmt: int, path: str = PACKAGED_TABLES) -> str:
    """Build the tables and write them where ``load`` looks first (run at
    build time; ``path``: the build tree's copy of grammar.tables)."""
    grammar = _read_grammar()
    data = build(grammar)
    data["key"] = grammar_key(grammar, fmt)
    write_atomic(path, marshal.dumps(data))
    return path
