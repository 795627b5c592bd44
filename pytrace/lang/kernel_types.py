"""Kernel types (BTF) for the checker: ``struct task_struct``, ``curtask``,
casts, ``sizeof``/``offsetof``.

The BTF itself reaches the compiler through ``KernelInfo.btf()`` (opened
lazily: scripts that never name a kernel type never read it). One
converter per kernel turns BTF types into the language's types and
remembers them. The converters are memos here, keyed by the kernel's
``btf`` (and ``module_btf``) function, which every ``--no-feature`` view
of the same kernel (``KernelInfo.without``) shares: so they share one
converter, and it goes when the last view does (a converter keeps its BTF
alive, so keying by the BTF object itself would keep both forever).
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from .types import Ptr, Type

#: why a construct that needs kernel types cannot have them
NO_BTF = ("this kernel has no BTF type information (/sys/kernel/btf/vmlinux, "
          "CONFIG_DEBUG_INFO_BTF)")

#: KernelInfo.btf -> the converter of what it returns
_converters: WeakKeyDictionary = WeakKeyDictionary()
#: KernelInfo.module_btf -> module name -> the converter of its BTF, or None
_module_converters: WeakKeyDictionary = WeakKeyDictionary()


def converter(kernel):
    """The kernel's BTF type converter (lang.btf_types.TypeConverter), or
    None when the kernel has no BTF."""
    got = _converters.get(kernel.btf)
    if got is None:
        btf = kernel.btf()
        if btf is None:
            return None
        from .btf_types import TypeConverter
        got = _converters[kernel.btf] = TypeConverter(btf)
    return got


def module_converter(kernel, module: str):
    """The type converter of a module's BTF (split on vmlinux's), or None."""
    cache = _module_converters.get(kernel.module_btf)
    if cache is None:
        cache = _module_converters[kernel.module_btf] = {}
    if module not in cache:
        btf = kernel.module_btf(module) if converter(kernel) is not None else None
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


def enumerators(kernel, names) -> dict[str, int]:
    """The values of those of ``names`` that are enumerators of the
    kernel's BTF enums (``SKB_DROP_REASON_NOT_SPECIFIED``, ``TCP_FIN_WAIT1``):
    what a name a script uses as a constant means when no #define gives it."""
    conv = converter(kernel)
    wanted, found = set(names), {}
    if conv is None or not wanted:
        return found
    from ..btf.records import BtfKind
    btf, kinds = conv.btf, (BtfKind.ENUM, BtfKind.ENUM64)
    for tid in range(1, btf.end_id):
        if btf.kind(tid) in kinds:
            for v in btf.type(tid).values:
                if v.name in wanted and v.name not in found:
                    found[v.name] = v.value
            if len(found) == len(wanted):
                break
    return found
