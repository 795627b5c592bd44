"""Kernel symbols from /proc/kallsyms: address -> ``name+offset`` and
name -> address. Read once, on first use (~100 ms for 120k symbols).

As root the file shows real addresses; without privileges every address
reads 0 (kptr_restrict) and nothing resolves, which prints as hex.
"""
from __future__ import annotations

import bisect

KALLSYMS = "/proc/kallsyms"


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
