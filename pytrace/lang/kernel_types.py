"""Kernel types (BTF) for the checker: ``struct task_struct``, ``curtask``,
casts, ``sizeof``/``offsetof``.

The BTF itself reaches the compiler through ``KernelInfo.btf()`` (opened
lazily: scripts that never name a kernel type never read it). One
converter per kernel turns BTF types into the language's types and
remembers them; it is kept in ``KernelInfo.extra`` so every probe and every
``--no-feature`` view of the same kernel shares it.
"""
from __future__ import annotations

from .types import Ptr, Type

_KEY = "btf_types"
#: why a construct that needs kernel types cannot have them
NO_BTF = ("this kernel has no BTF type information (/sys/kernel/btf/vmlinux, "
          "CONFIG_DEBUG_INFO_BTF)")


def converter(kernel):
    """The kernel's BTF type converter (lang.btf_types.TypeConverter), or
    None when the kernel has no BTF."""
    got = kernel.extra.get(_KEY)
    if got is None:
        btf = kernel.btf()
        if btf is None:
            got = False
        else:
            from .btf_types import TypeConverter
            got = TypeConverter(btf)
        kernel.extra[_KEY] = got
    return got or None


def module_converter(kernel, module: str):
    """The type converter of a module's BTF (split on vmlinux's), or None."""
    cache = kernel.extra.setdefault(_KEY + ":modules", {})
    if module not in cache:
        get = kernel.extra.get("module_btf")
        btf = get(module) if get is not None and converter(kernel) is not None else None
        if btf is None:
            cache[module] = None
        else:
            from .btf_types import TypeConverter
            cache[module] = TypeConverter(btf)
    return cache[module]


def lookup(kernel, name: str, pointers: int = 0) -> Type | None:
    """The type spelled ``name`` (``struct task_struct``, ``pid_t``) with
    ``pointers`` stars, or None when BTF has no such type (or no BTF)."""
    conv = converter(kernel)
    if conv is None:
        return None
    return conv.lookup(name + " " + "*" * pointers if pointers else name)


def task_struct_ptr(kernel) -> Type | None:
    """``struct task_struct *``, for ``curtask``."""
    t = lookup(kernel, "struct task_struct", 1)
    return t if isinstance(t, Ptr) else None
