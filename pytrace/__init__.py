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
