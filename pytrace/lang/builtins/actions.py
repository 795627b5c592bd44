"""Builtins that act outside the program: ``system()``, ``signal()`` and
``override()`` change the system and need ``--unsafe`` (bpftrace's gate);
``cat()`` has userspace print a file.

``system(fmt, ...)`` and ``cat(fmt, ...)`` format like printf; userspace
runs the command through the shell (``/bin/sh -c``, system()'s documented
meaning) or reads the file, and prints what comes out
(``runtime.services``: "shell", "files").
"""
from __future__ import annotations

from ...bpf.insn import Helper
from .. import ast as A
from ..probes import ProgKind
from ..program import EventKind
from ..types import Void
from . import FnKind, Function

VOID = Void()

UNSAFE_HINT = "run pytrace with --unsafe to allow actions that change the system"


def require_unsafe(ck, e: A.Call) -> bool:
    """False (and an error naming the flag) unless --unsafe was given."""
    if ck.limits.unsafe:
        return True
    ck.error(f"{e.name}() is an unsafe action: it needs --unsafe", e.loc, UNSAFE_HINT)
    return False


# -- system(fmt, ...) / cat(fmt, ...) --------------------------------------------------

def _formatted(kind: EventKind, unsafe: bool):
    def check(ck, e: A.Call):
        from .functions import _check_printf
        if unsafe:
            require_unsafe(ck, e)
        if not e.args or not isinstance(e.args[0], A.StrLit):
            ck.error(f"{e.name}() needs a format string literal first", e.loc,
                     'e.g. system("ls /proc/%d", pid)' if kind is EventKind.SYSTEM
                     else 'e.g. cat("/proc/%d/status", pid)')
            for a in e.args:
                ck.expr(a)
            return VOID
        return _check_printf(ck, e)

    def lower(lw, e: A.Call):
        from .functions import _arg_types, _send_args
        args = e.args[1:]
        spec = lw.res.event(kind, e.args[0].value, _arg_types(lw, args), loc=e.loc)
        _send_args(lw, spec, args)
    return check, lower


# -- signal(sig) ----------------------------------------------------------------------

#: Linux's signal numbers (the generic numbering, which every architecture
#: pytrace targets uses: x86, arm, arm64, riscv, powerpc, s390)
SIGNALS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6,
    "SIGIOT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11,
    "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15, "SIGSTKFLT": 16,
    "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19, "SIGTSTP": 20, "SIGTTIN": 21,
    "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25, "SIGVTALRM": 26,
    "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPOLL": 29, "SIGPWR": 30, "SIGSYS": 31,
}


def signal_number(name: str) -> int | None:
    """SIGKILL, KILL or 9 -> 9; None for no signal."""
    text = name.upper()
    if text.isdigit():
        n = int(text)
        return n if 1 <= n <= 64 else None
    return SIGNALS.get(text if text.startswith("SIG") else "SIG" + text)


def _check_signal(ck, e: A.Call):
    require_unsafe(ck, e)
    if not ck.expect_args(e, 1):
        return VOID
    if ck.ctx is not None and ck.ctx.runs_once:
        ck.error("signal() sends a signal to the process a probe fires in; BEGIN and END "
                 "run in none", e.loc, "use it in a probe of the traced process")
    arg = e.args[0]
    if isinstance(arg, A.StrLit):
        ck.expr(arg)
        if signal_number(arg.value) is None:
            ck.error(f"signal(): '{arg.value}' is not a signal", arg.loc,
                     'write a name such as "SIGTERM" or "KILL", or a number 1..64')
        return VOID
    ck.expect_int(arg, "signal()'s signal")
    n = ck.const_int(arg)
    if n is not None and not 1 <= n <= 64:
        ck.error(f"signal(): {n} is not a signal number (1..64)", arg.loc)
    return VOID


def _lower_signal(lw, e: A.Call):
    arg = e.args[0]
    sig = signal_number(arg.value) if isinstance(arg, A.StrLit) else lw.int_value(arg)
    lw.call(Helper.send_signal, sig, result=False)


# -- override(rc) ------------------------------------------------------------------------

def _check_override(ck, e: A.Call):
    require_unsafe(ck, e)
    if not ck.expect_args(e, 1):
        return VOID
    ck.expect_int(e.args[0], "override()'s return value")
    kprobe = (ck.ctx is not None and ck.ctx.kind in (ProgKind.KPROBE, ProgKind.KPROBE_MULTI)
              and all(t.provider == "kprobe" for t in ck.group.targets))
    if not kprobe:
        ck.error("override() sets the return value of a kernel function; it works in "
                 "kprobes only", e.loc,
                 "use kprobe:FUNCTION on a function the kernel lets you override "
                 "(ALLOW_ERROR_INJECTION, CONFIG_BPF_KPROBE_OVERRIDE)")
    return VOID


def _lower_override(lw, e: A.Call):
    lw.call(Helper.override_return, lw.ctx, lw.int_value(e.args[0]), result=False)


_system = _formatted(EventKind.SYSTEM, unsafe=True)
_cat = _formatted(EventKind.CAT, unsafe=False)

FUNCTIONS = (
    Function("system", "system(fmt, ...)",
             "unsafe: run a shell command (printf-style), print its output",
             FnKind.STMT, *_system, userspace="shell"),
    Function("cat", "cat(fmt, ...)", "print the contents of a file (name printf-style)",
             FnKind.STMT, *_cat, userspace="files"),
    Function("signal", 'signal(sig)',
             'unsafe: send a signal ("SIGKILL", "KILL" or a number) to the current process',
             FnKind.STMT, _check_signal, _lower_signal),
    Function("override", "override(rc)",
             "unsafe, kprobes: make the probed kernel function return rc",
             FnKind.STMT, _check_override, _lower_override),
)
