"""``kprobe:FUNCTION`` (``k:``), ``kprobe:FUNCTION+OFFSET``,
``kprobe:MODULE:FUNCTION``, wildcards, and ``kretprobe:`` (``kr:``).

A kprobe program gets the registers: ``arg0``.. (argument registers),
``retval`` (kretprobe), ``reg("name")``, ``func``, and ``args.NAME`` when
BTF types the function. Where the kernel has no kprobes they run as
fentry/fexit (see kfunc.py).
"""
from __future__ import annotations

from .kernel_function import KernelFunctionProvider, Mechanism


class Kprobe(KernelFunctionProvider):
    doc = "kernel function entry: kprobe:FUNCTION[+OFFSET], kprobe:MODULE:FUNCTION, wildcards"
    mechanism = Mechanism.KPROBE
    ret = False


class Kretprobe(KernelFunctionProvider):
    doc = "kernel function return: kretprobe:FUNCTION (retval)"
    mechanism = Mechanism.KPROBE
    ret = True
