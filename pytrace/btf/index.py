"""The index that lets a Btf decode types on demand, and its on-disk form.

Decoding every type of vmlinux (~130k types) in Python takes a second, so a
Btf decodes nothing up front. Instead one pass over the type section (the
sizes of the records, by kind, below) gives the index: the word offset of
every type record, the named ids sorted by name (for binary search) and the
unique function names (for listing probe targets). reader.py keeps it in a
cache file keyed by the blob's content.

Index file: u32 header length, marshal'd (format, key, section lengths),
padding to 4, then the offsets and by-name arrays (native u32) and the
function names; the arrays are used in place as memoryview casts.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Callable

from .records import BtfError, BtfKind

#: bump when the on-disk index layout changes
_INDEX_FORMAT = 1

#: u32 words after the 3-word common record: (fixed, per vlen item), by kind
_EXTRA_WORDS = (
    None, (1, 0), (0, 0), (3, 0), (0, 3), (0, 3), (0, 2), (0, 0), (0, 0), (0, 0),
    (0, 0), (0, 0), (0, 0), (0, 2), (1, 0), (0, 3), (0, 0), (1, 0), (0, 0), (0, 3),
)
_FIXED = tuple(e[0] if e else 0 for e in _EXTRA_WORDS)
_PER_VLEN = tuple(e[1] if e else 0 for e in _EXTRA_WORDS)

#: (record offsets, named ids sorted by name, NUL-separated sorted function names)
Index = tuple


def build(words, strbytes: Callable[[int], bytes], start_id: int, name: str) -> Index:
    """One pass over the type section ``words`` (u32s) of the BTF called
    ``name`` whose first id is ``start_id``; ``strbytes`` reads a name."""
    w, n, i = words, len(words), 0
    offs = array("I")
    append, fixed, per = offs.append, _FIXED, _PER_VLEN
    try:
        while i < n:
            append(i)
            info = w[i + 1]
            k = (info >> 24) & 0x1F
            if not k:
                raise IndexError
            i += 3 + fixed[k] + (info & 0xFFFF) * per[k]
    except IndexError:
        tid = start_id + len(offs) - 1
        raise BtfError(f"{name}: type id {tid} has an unknown kind or runs past the "
                       f"type section", hint="pytrace knows BTF kinds up to ENUM64") from None
    if i != n:
        raise BtfError(f"{name}: the last type record runs past the type section")
    names = [strbytes(w[o]) for o in offs]
    order = sorted(range(len(names)), key=names.__getitem__)
    first = bisect_left(order, b"\x01", key=names.__getitem__)  # skip anonymous
    by_name = array("I", [start_id + j for j in order[first:]])
    func, funcs = BtfKind.FUNC << 24, []
    for t in by_name:
        o = offs[t - start_id]
        if w[o + 1] & 0x1F000000 == func:
            n = strbytes(w[o])
            if not funcs or funcs[-1] != n:
                funcs.append(n)
    return offs, by_name, b"\0".join(funcs)


def dump(index: Index, key: tuple) -> bytes:
    """The index file's bytes for a blob whose content key is ``key``."""
    import marshal
    offsets, by_name, func_names = index
    offs, names, funcs = offsets.tobytes(), by_name.tobytes(), func_names
    head = marshal.dumps((_INDEX_FORMAT, key, len(offs), len(names), len(funcs)))
    return b"".join((len(head).to_bytes(4, "little"), head,
                     bytes(-(4 + len(head)) % 4), offs, names, funcs))


def load(file: str, key: tuple, words) -> Index | None:
    """The index stored in ``file`` when it was written for ``key`` and fits
    the type section ``words``; None otherwise (missing, stale or damaged)."""
    import marshal
    try:
        with open(file, "rb") as f:
            raw = f.read()
        n = int.from_bytes(raw[:4], "little")
        fmt, k, n_offs, n_names, n_funcs = marshal.loads(raw[4:4 + n])
        p = 4 + n + (-(4 + n) % 4)
        if fmt != _INDEX_FORMAT or k != key or p + n_offs + n_names + n_funcs != len(raw):
            return None
        mv = memoryview(raw)
        offsets = mv[p:p + n_offs].cast("I")
        by_name = mv[p + n_offs:p + n_offs + n_names].cast("I")
        func_names = mv[p + n_offs + n_names:]
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return (offsets, by_name, func_names) if _consistent(offsets, words) else None


def _consistent(offs, w) -> bool:
    """Cheap sanity check of a loaded index: the last record ends the section."""
    if not offs:
        return len(w) == 0
    last = offs[-1]
    if last + 2 >= len(w):
        return False
    info = w[last + 1]
    k = (info >> 24) & 0x1F
    return k < len(_FIXED) and last + 3 + _FIXED[k] + (info & 0xFFFF) * _PER_VLEN[k] == len(w)
