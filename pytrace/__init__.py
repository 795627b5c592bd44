"""pytrace: a dynamic tracer for Linux with bpftrace's language, in pure Python.

Command line: ``pytrace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'``.
As a library, see ``pytrace.api.run``.
"""
__version__ = "0.1.0"


def run(*args, **kwargs):
    """Run a script and return its output as Python objects (see ``pytrace.api.run``)."""
    from .api import run as _run
    return _run(*args, **kwargs)


def events(*args, **kwargs):
    """Run a script and yield its printf events as they happen (see ``pytrace.api.events``)."""
    from .api import events as _events
    return _events(*args, **kwargs)


#: what ``import pytrace`` offers besides ``run``, imported on first use so the
#: command line stays light: name -> (module, attribute)
_LAZY = {
    "CompileError": ("pytrace.base.diagnostics", "CompileError"),
    "PytraceError": ("pytrace.base.diagnostics", "PytraceError"),
    "RuntimeFailure": ("pytrace.base.diagnostics", "RuntimeFailure"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pytrace' has no attribute {name!r}")
