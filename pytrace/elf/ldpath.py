"""Find the file a probe names: ``/path/bin``, a program on $PATH
(``bash``), or a library by short name (``libc``, ``c``, ``libc.so.6``)
resolved the way the dynamic linker does: the process's own mappings when
a pid is given, then /etc/ld.so.cache, then the default directories.

A library found in the cache keeps the cache's spelling
(/lib/x86_64-linux-gnu/libc.so.6), as bpftrace prints it; one found in a
process's mappings keeps the kernel's (the real path).
"""
from __future__ import annotations

import os
import struct

LD_SO_CACHE = "/etc/ld.so.cache"
#: glibc 2.32+ writes only this format; older ones write it after the old one
CACHE_MAGIC_NEW = b"glibc-ld.so.cache1.1"
CACHE_MAGIC_OLD = b"ld.so-1.7.0"
#: (header after the magic, one entry) of the new format, little-endian hosts
_NEW_HEADER = struct.Struct("=II4xI12x")      # nlibs, len_strings, extension offset
_NEW_ENTRY = struct.Struct("=iIIIQ")           # flags, key, value, osversion, hwcap
_OLD_ENTRY_SIZE = 12

#: where ld.so looks when the cache has nothing (ld.so(8)), multiarch first
_MULTIARCH = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu",
              "arm": "arm-linux-gnueabihf", "riscv64": "riscv64-linux-gnu",
              "i386": "i386-linux-gnu"}


def default_dirs(machine: str | None = None) -> list[str]:
    machine = machine or os.uname().machine
    triplet = _MULTIARCH.get(machine)
    dirs = []
    if triplet:
        dirs += [f"/lib/{triplet}", f"/usr/lib/{triplet}"]
    dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"]
    return dirs


def read_ld_cache(path: str = LD_SO_CACHE) -> list[tuple[str, str]]:
    """(soname, path) pairs of ld.so.cache, in cache order (the linker's
    preference); [] when the file is missing or not understood."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    base = 0
    if data.startswith(CACHE_MAGIC_OLD):
        (nlibs,) = struct.unpack_from("=I", data, 12)
        base = 16 + nlibs * _OLD_ENTRY_SIZE
        base = (base + 7) & ~7
    if data[base:base + len(CACHE_MAGIC_NEW)] != CACHE_MAGIC_NEW:
        return []
    nlibs, _strings, _ext = _NEW_HEADER.unpack_from(data, base + len(CACHE_MAGIC_NEW))
    first = base + len(CACHE_MAGIC_NEW) + _NEW_HEADER.size
    out = []
    for k in range(nlibs):
        _flags, key, value, _os, _hw = _NEW_ENTRY.unpack_from(data, first + k * _NEW_ENTRY.size)
        out.append((_cstr(data, base + key), _cstr(data, base + value)))
    return out


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end if end >= 0 else len(data)].decode("utf-8", "surrogateescape")


def _sonames(name: str) -> list[str]:
    """What a short library name may be called: ``c``/``libc`` -> ``libc.so``."""
    if ".so" in name:
        return [name]
    if name.startswith("lib"):
        return [name + ".so"]
    return ["lib" + name + ".so", name + ".so"]


def _matches(filename: str, soname: str) -> bool:
    """``libc.so.6`` matches ``libc.so``; ``libcap.so.2`` does not."""
    return filename == soname or filename.startswith(soname + ".")


def _same_machine(path: str, machine: int | None) -> bool:
    if machine is None:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    if head[:4] != b"\x7fELF" or len(head) < 20:
        return False
    order = "<" if head[5] == 1 else ">"
    return struct.unpack_from(order + "H", head, 18)[0] == machine


def host_machine() -> int | None:
    """e_machine of the running interpreter's binary (the host's ABI)."""
    import sys
    try:
        with open(sys.executable, "rb") as f:
            head = f.read(20)
        order = "<" if head[5] == 1 else ">"
        return struct.unpack_from(order + "H", head, 18)[0]
    except (OSError, IndexError, struct.error):
        return None


def library_in_process(name: str, pid: int) -> str | None:
    """A library ``pid`` has mapped whose file name fits ``name``."""
    wanted = _sonames(name)
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue
        path = parts[5]
        base = os.path.basename(path)
        if any(_matches(base, s) for s in wanted) or (
                base.startswith(name + "-") and ".so" in base):
            return path
    return None


def find_library(name: str, pid: int | None = None, machine: int | None = None,
                 cache: list[tuple[str, str]] | None = None) -> str | None:
    """The path of library ``name`` as the dynamic linker would load it."""
    if "/" in name:
        return name if os.path.exists(name) else None
    if pid:
        found = library_in_process(name, pid)
        if found:
            return found
    wanted = _sonames(name)
    for soname, path in read_ld_cache() if cache is None else cache:
        if any(_matches(soname, s) for s in wanted) and _same_machine(path, machine):
            return path
    for d in default_dirs():
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for s in wanted:
            for entry in entries:
                path = os.path.join(d, entry)
                if _matches(entry, s) and _same_machine(path, machine):
                    return path
    return None


def find_program(name: str, path_env: str | None = None) -> str | None:
    """An executable file on $PATH (or on ``path_env``)."""
    import shutil
    return shutil.which(name, path=path_env)


def resolve_binary(name: str, pid: int | None = None) -> str | None:
    """A probe's binary: a path as given, else a program on $PATH, else a
    library by short name."""
    if "/" in name:
        return name if os.path.isfile(name) else None
    if pid:
        found = library_in_process(name, pid)
        if found:
            return found
    return find_program(name) or find_library(name, None, host_machine())
