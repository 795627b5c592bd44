"""A fake machine with network interfaces, for compiling xdp/tc scripts
anywhere (the tests/fakes.py machine plus lo, eth0 and veth0)."""
from __future__ import annotations

from pytrace.base.diagnostics import CompileError
from pytrace.compile import compile_ast
from pytrace.lang.parser import parse
from pytrace.providers import resolvers
from pytrace.base.record import replace

from tests.fakes import fake_kernel

INTERFACES = {"lo": 1, "eth0": 2, "veth0": 3}


def net_kernel(without=frozenset()):
    k = fake_kernel(without)
    return replace(k, interfaces=lambda: [(i, n) for n, i in INTERFACES.items()],
                   ifindex=INTERFACES.get)


def compile_net(text: str, *, without=frozenset(), **kwargs):
    return compile_ast(parse(text, "-e"), net_kernel(without), resolvers(), **kwargs)


def net_error(text: str, **kwargs) -> str:
    try:
        compile_net(text, **kwargs)
    except CompileError as err:
        return err.render()
    raise AssertionError(f"compiled without error: {text!r}")
