"""``fentry:FUNCTION`` (``kfunc:``, ``f:``) and ``fexit:FUNCTION``
(``kretfunc:``, ``fr:``): kernel functions through BPF trampolines.

Programs read typed arguments (``args.NAME``/``args->NAME``, from BTF)
straight from their context; fexit also gets the typed ``retval``. Each
function gets its own program (the target is fixed when it loads). Where
the kernel cannot attach fentry programs they run as kprobes (see
kfunc.py).
"""
from __future__ import annotations

from .kernel_function import KernelFunctionProvider, Mechanism


class Fentry(KernelFunctionProvider):
    doc = "kernel function entry with typed args (BTF): fentry:FUNCTION"
    mechanism = Mechanism.FENTRY
    ret = False


class Fexit(KernelFunctionProvider):
    doc = "kernel function return with typed args and retval (BTF): fexit:FUNCTION"
    mechanism = Mechanism.FENTRY
    ret = True
