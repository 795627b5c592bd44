"""Which kernel functions can be traced (addresses -> names are
``pytrace.symbols.kallsyms``'s job).

``traceable_functions()`` answers "which kernel functions match
``vfs_*``" for kprobe/fentry wildcards. The best source is tracefs'
``available_filter_functions`` (functions ftrace can hook: what fentry,
kprobe_multi and ftrace-based kprobes attach to); some machines make it
unreadable even for root (lockdown), so ``/proc/kallsyms`` text symbols
stand in.
"""
from __future__ import annotations

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
