"""User-space addresses to symbols: a process's mappings say which file
(and which offset in it) an address is, the file's symbol table says which
function.

Files are read once per run and kept by identity (device, inode) when the
mapping says it, else by path, so a thousand stacks through libc read libc
once. A process's mappings come from ``/proc/PID/maps`` while it lives, or
from the perf mmap records ``MmapTracker`` collected while it ran (a ``-c``
child has exited by the time maps print); a forked child that never
exec'ed falls back to its parent's. Nothing here raises for an address
that does not resolve: ``resolve`` returns None and the caller prints hex.
"""
from __future__ import annotations

import bisect
import os

from .procmaps import Mapping, read_maps

#: symbol types that name code or data (not sections, files, TLS offsets)
_NAMED_TYPES = (1, 2, 10)      # STT_OBJECT, STT_FUNC, STT_GNU_IFUNC


class FileSymbols:
    """One ELF file's symbols sorted by address, and its PT_LOAD segments."""

    def __init__(self, path: str, data: bytes | None = None):
        from ..elf.reader import ElfFile
        self.path = path
        with ElfFile(path, data) as elf:
            rows = sorted(((s[1], s[2], s[0]) for s in elf.symbols()
                           if s[1] and s[3] in _NAMED_TYPES), key=lambda r: r[0])
            self.segments = [(seg.offset, seg.filesz, seg.vaddr) for seg in elf.load_segments]
        starts: list[int] = []
        sizes: list[int] = []
        names: list[str] = []
        for start, size, name in rows:
            if starts and starts[-1] == start:       # an alias: the first name wins
                if not sizes[-1] and size:
                    sizes[-1] = size
                continue
            starts.append(start)
            sizes.append(size)
            names.append(name)
        self.starts, self.sizes, self.names = starts, sizes, names

    def offset_to_vaddr(self, offset: int) -> int | None:
        for off, filesz, vaddr in self.segments:
            if off <= offset < off + filesz:
                return offset - off + vaddr
        return None

    def lookup(self, vaddr: int) -> tuple[str, int] | None:
        """(name, offset) of the symbol holding link-time address ``vaddr``."""
        i = bisect.bisect_right(self.starts, vaddr) - 1
        # a symbol may sit inside a larger one (a local label in a function)
        for j in range(i, max(i - 4, -1), -1):
            start, size = self.starts[j], self.sizes[j]
            if vaddr == start or vaddr < start + size:
                return self.names[j], vaddr - start
        return None


class UserSymbols:
    """Per-process mappings and per-file symbol tables, for one run."""

    def __init__(self):
        self._files: dict[object, FileSymbols | None] = {}
        #: pid -> mappings (from /proc or mmap records)
        self._maps: dict[int, list[Mapping]] = {}
        #: pid -> parent, for forked children that did not exec
        self._parent: dict[int, int] = {}
        #: pids known to be gone (their /proc is not read again)
        self._dead: set[int] = set()
        self._vdso: FileSymbols | None | bool = False

    # -- what the mmap tracker tells us ----------------------------------------
    def add_mapping(self, pid: int, mapping: Mapping) -> None:
        maps = self._maps.setdefault(pid, [])
        maps[:] = [m for m in maps if m.end <= mapping.start or m.start >= mapping.end]
        bisect.insort(maps, mapping, key=lambda m: m.start)

    def exec_(self, pid: int) -> None:
        """``pid`` replaced its program: its old mappings are gone."""
        self._maps[pid] = []
        self._parent.pop(pid, None)

    def fork(self, pid: int, ppid: int) -> None:
        if pid != ppid:
            self._parent[pid] = ppid
            self.snapshot(ppid)

    def snapshot(self, pid: int) -> None:
        """Remember a live process's mappings now (it may exit before we print)."""
        if pid not in self._maps and pid not in self._dead:
            maps = read_maps(pid)
            if maps is not None:
                self._maps[pid] = maps

    # -- lookups -----------------------------------------------------------------
    def mappings(self, pid: int, refresh: bool = False) -> list[Mapping]:
        known = self._maps.get(pid)
        if (known is None or refresh) and pid not in self._dead:
            live = read_maps(pid)
            if live is None:
                self._dead.add(pid)
            else:
                merged = list(live)
                for m in known or ():          # keep what the tracker saw, where free
                    if not any(x.start < m.end and m.start < x.end for x in merged):
                        merged.append(m)
                merged.sort(key=lambda m: m.start)
                self._maps[pid] = known = merged
        return known or []

    def mapping_of(self, pid: int, addr: int) -> Mapping | None:
        seen = set()
        while pid and pid not in seen:
            seen.add(pid)
            for refresh in (False, True):
                maps = self.mappings(pid, refresh)
                i = bisect.bisect_right([m.start for m in maps], addr) - 1
                if i >= 0 and addr < maps[i].end:
                    return maps[i]
                if pid in self._dead:
                    break
            pid = self._parent.get(pid, 0)
        return None

    def resolve(self, pid: int, addr: int) -> tuple[str, int, str] | None:
        """(symbol, offset, module path) of ``addr`` in process ``pid``."""
        m = self.mapping_of(pid, addr)
        if m is None:
            return None
        syms = self.file(m)
        if syms is None:
            return None
        vaddr = syms.offset_to_vaddr(addr - m.start + m.pgoff)
        if vaddr is None:
            return None
        found = syms.lookup(vaddr)
        if found is None:
            return None
        return found[0], found[1], m.path

    def file(self, m: Mapping) -> FileSymbols | None:
        if m.path == "[vdso]":
            return self._vdso_symbols()
        key = (m.dev, m.inode) if m.inode else m.path
        if key not in self._files:
            self._files[key] = self._load(m.path)
        return self._files[key]

    @staticmethod
    def _load(path: str) -> FileSymbols | None:
        from ..elf.reader import ElfError
        if path.endswith(" (deleted)"):
            path = path[:-len(" (deleted)")]
        if not os.path.exists(path):
            return None
        try:
            return FileSymbols(path)
        except (ElfError, OSError, ValueError, IndexError):
            return None

    def _vdso_symbols(self) -> FileSymbols | None:
        """The vDSO is the same image in every process of this kernel and
        ABI: read our own."""
        if self._vdso is False:
            self._vdso = None
            for m in read_maps(os.getpid()) or ():
                if m.path == "[vdso]":
                    try:
                        with open("/proc/self/mem", "rb") as f:
                            f.seek(m.start)
                            image = f.read(m.end - m.start)
                        self._vdso = FileSymbols("[vdso]", image)
                    except (OSError, ValueError, IndexError):
                        self._vdso = None
                    break
        return self._vdso  # type: ignore[return-value]
