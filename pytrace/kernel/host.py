"""The kernel pytrace runs on, as the compiler sees it: ``build()`` makes
the ``lang.kernelinfo.KernelInfo`` the compiler reads, from the features
``kernel.features`` probed, tracefs (tracepoint formats, ftrace's function
list), BTF (/sys/kernel/btf), kallsyms and the network interfaces; each
read lazily, when a script first needs it, and once.

The four modules about the running kernel: ``lang.kernelinfo`` (the typed
value, pure), ``kernel.features`` (what the kernel can do, found by trying),
this module (everything else, gathered into that value) and ``tools.info``
(``--info``: prints the features).
"""
from __future__ import annotations

import fnmatch
import os

from ..base import arch
from ..lang.kernelinfo import Feature, KernelInfo, TracepointInfo


class _Tracepoints:
    def __init__(self, max_strlen: int):
        self.max_strlen = max_strlen
        self._all: list[tuple[str, str]] | None = None
        self._info: dict[tuple[str, str], TracepointInfo | None] = {}

    def all(self) -> list[tuple[str, str]]:
        if self._all is None:
            from . import attach
            self._all = sorted(attach.list_tracepoints())
        return self._all

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        cat, _, name = pattern.partition(":")
        name = name or "*"
        if not any(c in pattern for c in "*?["):
            return [(cat, name)] if self.info(cat, name) is not None else []
        return [(c, n) for c, n in self.all()
                if fnmatch.fnmatchcase(c, cat) and fnmatch.fnmatchcase(n, name)]

    def info(self, cat: str, name: str) -> TracepointInfo | None:
        key = (cat, name)
        if key not in self._info:
            self._info[key] = self._read(cat, name)
        return self._info[key]

    def _read(self, cat: str, name: str) -> TracepointInfo | None:
        from . import attach
        from ..lang.tracepoint_format import parse_format
        if "/" in cat or "/" in name or cat.startswith(".") or name.startswith("."):
            return None
        path = os.path.join(attach.tracepoint_dir(cat, name), "format")
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            return None
        tp_id, args = parse_format(text, cat, name, self.max_strlen)
        return TracepointInfo(cat, name, tp_id, args)


def kernel_version() -> tuple[int, int, int]:
    release = os.uname().release
    nums = []
    for part in release.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        nums.append(int(digits) if digits else 0)
    while len(nums) < 3:
        nums.append(0)
    return tuple(nums)  # type: ignore[return-value]


# kallsyms is read (and its module imported) only by scripts that ask
def _symbol_address(name: str) -> int | None:
    from .kallsyms import symbol_address
    return symbol_address(name)


def _traceable_functions(module: str | None) -> list[str]:
    from .kallsyms import traceable_functions
    return traceable_functions(module)


def _ftrace_functions(module: str | None) -> list[str] | None:
    from .kallsyms import ftrace_functions
    return ftrace_functions(module)


def host_ifindex(name: str) -> int | None:
    """The index of network interface ``name`` in our namespace, or None."""
    import socket
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def host_interfaces() -> list[tuple[int, str]]:
    """(ifindex, name) of the network interfaces in our namespace."""
    import socket
    return socket.if_nameindex()


def build(features: frozenset[Feature], max_strlen: int = 1024) -> KernelInfo:
    from .maps import possible_cpus
    tps = _Tracepoints(max_strlen)
    btf_cache: list = []

    def btf():
        if not btf_cache:
            obj = None
            if Feature.BTF in features:
                from ..btf.reader import Btf
                obj = Btf.load()
            btf_cache.append(obj)
        return btf_cache[0]

    modules: dict = {}

    def module_btf(name: str):
        """A module's split BTF (/sys/kernel/btf/MODULE) on top of vmlinux's."""
        if name not in modules:
            obj, base = None, btf()
            path = os.path.join("/sys/kernel/btf", name)
            if base is not None and "/" not in name and os.path.exists(path):
                from ..btf.reader import Btf
                obj = Btf.load(path, base=base)
            modules[name] = obj
        return modules[name]

    cpus = possible_cpus()
    return KernelInfo(arch=arch.current(), features=features,
                      ncpus=max(cpus) + 1 if cpus else 1,
                      list_tracepoints=tps.matching, tracepoint=tps.info, btf=btf,
                      version=kernel_version(), module_btf=module_btf,
                      symbol_address=_symbol_address,         # kaddr("name")
                      traceable_functions=_traceable_functions,
                      ftrace_functions=_ftrace_functions,
                      interfaces=host_interfaces,
                      ifindex=host_ifindex)                   # redirect("eth1")
