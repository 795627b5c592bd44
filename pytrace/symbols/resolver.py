"""The session's symbolizer: ``ksym``/``usym`` values and stacks as text,
exactly as bpftrace prints them.

Stacks (``lang.types.Stack`` values) are 32-bit ids of frame arrays in the
script's stack maps; user stacks carry their process id in the upper 32
bits.
Modes:

* ``bpftrace``: ``\\n`` then one frame per line, ``sym+offset``, indented
  by 4 spaces inside a map key and 8 elsewhere;
* ``perf``: ``\\t<hex address> sym+offset`` (user frames add `` (module)``);
* ``raw``: hex addresses only.

A frame that does not resolve prints as its address (``0x7f…``; in perf
mode with `` ([unknown])`` for the module), like bpftrace; a stack without
frames (no user stack in a kernel thread) or missing from its map (it was
full) prints as nothing. Nothing here raises.
"""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
from ..lang.builtins.stacks import USYM_PIDS_MAP, stack_map_name
from ..lang.types import Formatted, Stack, StackKind, StackMode


class Symbolizer:
    def __init__(self, maps: dict):
        """``maps``: the session's maps by name (read when printing)."""
        from ..kernel.kallsyms import KernelSymbols
        from .usersyms import UserSymbols
        self.maps = maps
        self.kernel = KernelSymbols()
        self.user = UserSymbols()
        self.tracker = None
        self.tracking = False
        self._frames: dict[tuple[str, int], tuple[int, ...]] = {}
        self._user_cache: dict[tuple[int, int], tuple | None] = {}

    def track_processes(self, cpus: list[int]) -> None:
        """Follow the mappings processes make from now on (perf mmap
        records), for user stacks and symbols of processes that exit."""
        from ..base.diagnostics import PytraceError
        from .mmaptrack import MmapTracker
        self.tracking = True
        try:
            self.tracker = MmapTracker(self.user, cpus)
        except (OSError, PytraceError):
            self.tracker = None          # symbols then come from /proc only

    # -- the poll loop ---------------------------------------------------------
    def fileno(self) -> int:
        return self.tracker.fileno() if self.tracker is not None else -1

    def poll(self) -> None:
        if self.tracker is not None:
            self.tracker.poll()

    def watch(self, pid: int) -> None:
        """Remember ``pid``'s mappings now (the -p process, the -c child)."""
        self.user.snapshot(pid)

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None

    # -- symbols -----------------------------------------------------------------
    def special(self, how: Formatted, value: int) -> str | None:
        if how is Formatted.KSYM:
            return self.ksym(value, offset=False)
        if how is Formatted.USYM:
            self.poll()
            return self.usym(self._usym_pid(value), value, offset=False)
        return None

    def ksym(self, addr: int, offset: bool = True) -> str:
        found = self.kernel.resolve(addr) if addr else None
        if found is None:
            return _hex(addr)
        name, off = found
        return f"{name}+{off}" if offset else name

    def usym(self, pid: int, addr: int, offset: bool = True, module: bool = False) -> str:
        key = (pid, addr)
        found = self._user_cache.get(key, False)
        if found is False:
            found = self._user_cache[key] = (self.user.resolve(pid, addr)
                                             if pid and addr else None)
        if found is None:
            return _hex(addr) + (" ([unknown])" if module else "")
        name, off, path = found
        text = f"{name}+{off}" if offset else name
        return text + (f" ({path})" if module else "")

    def _usym_pid(self, addr: int) -> int:
        m = self.maps.get(USYM_PIDS_MAP)
        if m is None:
            return 0
        raw = m.lookup(addr.to_bytes(8, BYTE_ORDER))
        return int.from_bytes(raw[:4], BYTE_ORDER) if raw else 0

    # -- stacks --------------------------------------------------------------------
    def stack(self, stack: Stack, value: int, indent: int = 8) -> str:
        user = stack.kind is StackKind.USER
        stackid = value & 0xFFFFFFFF
        pid = value >> 32 if user else 0
        frames = self.frames(stack, stackid)
        if frames is None:
            return ""
        if user:
            self.poll()            # mappings of processes started since the last look
        out = ["\n"]
        mode = stack.mode
        pad = " " * indent
        for addr in frames:
            if mode is StackMode.RAW:
                out.append(f"{addr:x}\n")
            elif mode is StackMode.PERF:
                sym = self.usym(pid, addr, True, True) if user else self.ksym(addr)
                out.append(f"\t{addr:x} {sym}\n")
            else:
                sym = self.usym(pid, addr) if user else self.ksym(addr)
                out.append(f"{pad}{sym}\n")
        return "".join(out)

    def frames(self, stack: Stack, stackid: int) -> tuple[int, ...] | None:
        """The addresses of stack ``stackid`` (None: no such stack, or one
        without frames: bpf_get_stack() failed, e.g. no user stack in a
        kernel thread)."""
        name = stack_map_name(stack)
        key = (name, stackid)
        got = self._frames.get(key)
        if got is None:
            m = self.maps.get(name)
            raw = m.lookup(stackid.to_bytes(4, BYTE_ORDER)) if m is not None else None
            if raw is None:
                return None
            addrs = []
            for i in range(0, len(raw), 8):
                addr = int.from_bytes(raw[i:i + 8], BYTE_ORDER)
                if not addr:
                    break
                addrs.append(addr)
            got = self._frames[key] = tuple(addrs)
        return got or None


def _hex(addr: int) -> str:
    """C++'s ``(void *)addr``: ``0`` for null, else ``0x…``."""
    return f"0x{addr:x}" if addr else "0"
