"""What a process has mapped: /proc/PID/maps as ``Mapping`` records."""
from __future__ import annotations

from ..base.record import record


@record(frozen=True)
class Mapping:
    start: int
    end: int
    #: file offset of ``start``
    pgoff: int
    path: str
    #: (major, minor) device and inode, from maps or a perf MMAP2 record
    dev: tuple[int, int] = (0, 0)
    inode: int = 0
    executable: bool = True

    def __contains__(self, addr: int) -> bool:
        return self.start <= addr < self.end


def parse_maps(text: str) -> list[Mapping]:
    """``7f..-7f.. r-xp 00028000 fe:01 1234  /usr/lib/x86_64-linux-gnu/libc.so.6``
    lines -> mappings of files and of ``[vdso]``, sorted by address."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        path = parts[5]
        if not (path.startswith("/") or path == "[vdso]"):
            continue
        lo, _, hi = parts[0].partition("-")
        major, _, minor = parts[3].partition(":")
        out.append(Mapping(int(lo, 16), int(hi, 16), int(parts[2], 16), path,
                           (int(major, 16), int(minor, 16)), int(parts[4]), "x" in parts[1]))
    out.sort(key=lambda m: m.start)
    return out


def read_maps(pid: int) -> list[Mapping] | None:
    """The mappings of a live process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return parse_maps(f.read())
    except OSError:
        return None
