"""The kernel's symbols: which functions can be traced, and address <-> name.

``traceable_functions()`` answers "which kernel functions match
``vfs_*``" for kprobe/fentry wildcards. The best source is tracefs'
``available_filter_functions`` (functions ftrace can hook: what fentry,
kprobe_multi and ftrace-based kprobes attach to); some machines make it
unreadable even for root (lockdown), so ``/proc/kallsyms`` text symbols
stand in.

``KernelSymbols`` turns an address into ``name+offset`` and
``symbol_address()`` a name into its address, from /proc/kallsyms, read
once, on first use (~100 ms for 120k symbols). As root the file shows real
addresses; without privileges every address reads 0 (kptr_restrict) and
nothing resolves, which prints as hex.
"""
from __future__ import annotations

import bisect
import os

KALLSYMS = "/proc/kallsyms"
FILTER_FUNCTIONS = "available_filter_functions"
#: kallsyms types of functions (text symbols, global or local)
_TEXT = frozenset("tTwW")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _from_filter_functions() -> dict[str | None, list[str]] | None:
    try:
        from .attach import tracefs_dir
        text = _read(os.path.join(tracefs_dir(), FILTER_FUNCTIONS))
    except Exception:           # no tracefs: the caller falls back to kallsyms
        return None
    if not text:
        return None
    out: dict[str | None, set[str]] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        module = rest.strip()[1:-1] if rest.strip().startswith("[") else None
        out.setdefault(module, set()).add(name)
    return {m: sorted(names) for m, names in out.items()}


def _from_kallsyms() -> dict[str | None, list[str]]:
    out: dict[str | None, set[str]] = {}
    for line in (_read(KALLSYMS) or "").splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] not in _TEXT:
            continue
        name = parts[2]
        if name.startswith("__pfx_") or "." in name:   # padding, .cold/.isra clones
            continue
        module = parts[3][1:-1] if len(parts) > 3 else None
        out.setdefault(module, set()).add(name)
    return {m: sorted(names) for m, names in out.items()}


_functions: dict[str | None, list[str]] | None = None
_ftrace: dict[str | None, list[str]] | None = None
_ftrace_read = False


def ftrace_functions(module: str | None = None) -> list[str] | None:
    """Functions ftrace can hook (what fentry and kprobe_multi attach to),
    sorted; None when available_filter_functions cannot be read."""
    global _ftrace, _ftrace_read
    if not _ftrace_read:
        _ftrace, _ftrace_read = _from_filter_functions(), True
    return None if _ftrace is None else _ftrace.get(module, [])


def traceable_functions(module: str | None = None) -> list[str]:
    """Sorted names of the kernel's functions (``module`` None: vmlinux's):
    ftrace's list, else kallsyms' text symbols."""
    global _functions
    if _functions is None:
        ftrace_functions()
        _functions = _ftrace or _from_kallsyms()
    return _functions.get(module, [])


def modules() -> list[str]:
    """Modules with traceable functions."""
    traceable_functions()
    return sorted(m for m in (_functions or {}) if m is not None)


# -- addresses <-> names ----------------------------------------------------------

def symbol_address(name: str, path: str = KALLSYMS) -> int | None:
    """The address of kernel symbol ``name`` (the first one listed), without
    parsing the whole table."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    needle = b" " + name.encode() + b"\n"
    for suffix in (b"\n", b"\t"):            # module symbols end with "\t[mod]"
        probe = needle[:-1] + suffix
        at = data.find(probe)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            fields = data[start:at].split(b" ")
            if len(fields) == 2 and len(fields[1]) == 1:     # "addr type"
                addr = int(fields[0], 16)
                if addr:
                    return addr
            at = data.find(probe, at + 1)
    return None


class KernelSymbols:
    def __init__(self, path: str = KALLSYMS):
        self.path = path
        self._addrs: list[int] | None = None
        self._names: list[str] = []

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        rows = []
        for line in data.split(b"\n"):
            parts = line.split(b" ", 2)
            if len(parts) < 3:
                continue
            addr = int(parts[0], 16)
            if addr:
                rows.append((addr, parts[2].split(b"\t", 1)[0]))
        rows.sort(key=lambda r: r[0])          # stable: the first name listed at an address wins
        addrs, names = [], []
        for addr, name in rows:
            if addrs and addrs[-1] == addr:
                continue
            addrs.append(addr)
            names.append(name)
        self._addrs = addrs
        self._names = [n.decode("utf-8", "replace") for n in names]

    def __len__(self) -> int:
        if self._addrs is None:
            self._load()
        return len(self._addrs)

    def resolve(self, addr: int) -> tuple[str, int] | None:
        """(symbol, offset) of the last symbol at or below ``addr``."""
        if self._addrs is None:
            self._load()
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        return self._names[i], addr - self._addrs[i]
