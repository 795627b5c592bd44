"""The README's recipe for a probe type, proven: one module and one line in
``providers.REGISTRY`` are all it takes. The module here is made by the test
(a timer-like ``tick:N`` probe that loads as a perf-event program); once its
line is in the registry the compiler expands and compiles it, program names,
error hints, the REPL's completion and ``pytrace -l builtins`` know it, and
its program type comes from the provider — no other file is edited."""
from __future__ import annotations

import io
import sys
import types

import pytest

from pytrace import providers
from pytrace.compile import compile_ast
from pytrace.lang.parser import parse
from pytrace.lang.probes import ProbeContext, ProgKind, Target
from tests.fakes import fake_kernel

MODULE = "pytrace.providers.tick"


def _tick_module() -> types.ModuleType:
    mod = types.ModuleType(MODULE)

    class Tick(providers.Provider):
        doc = "every N milliseconds on one CPU: tick:N"

        def expand(self, spec, kernel):
            period = spec.text.split(":")[1]
            if not period.isdigit():
                raise self.fail(f"'{spec.text}' is not a tick", spec, "write tick:N")
            ctx = ProbeContext(ProgKind.PERF_EVENT, args_missing="tick probes have no 'args'")
            return [Target("tick", spec.text, ctx, int(period) * 1_000_000)]

    Tick.__module__ = MODULE
    mod.Tick = Tick
    return mod


@pytest.fixture
def tick_registered(monkeypatch):
    """The recipe: the module exists, and its one registry line is added."""
    monkeypatch.setitem(sys.modules, MODULE, _tick_module())
    line = ("tick", "Tick", ("tick", "tk"))
    monkeypatch.setattr(providers, "REGISTRY", providers.REGISTRY + (line,))
    monkeypatch.setattr(providers, "_SPELLINGS", {**providers._SPELLINGS,
                                                  ("tick", "Tick"): line[2]})
    monkeypatch.setattr(providers, "_registry", None)
    yield


def test_a_new_probe_type_compiles_through_its_registry_line(tick_registered):
    script = compile_ast(parse("tk:5 { @ = count(); }"), fake_kernel(), providers.resolvers())
    (probe,) = script.probes
    assert probe.name == "pt0_tick_5"
    assert probe.kind is ProgKind.PERF_EVENT
    assert [t.name for t in probe.targets] == ["tk:5"]
    from pytrace.kernel.bpf_consts import ProgType
    assert providers.by_name()["tick"].prog_type(probe.kind) is ProgType.PERF_EVENT


def test_its_errors_and_hints_come_from_the_module(tick_registered):
    from tests.fakes import compile_error
    assert compile_error("tick:x { }") == (
        "-e:1:1: error: 'tick:x' is not a tick\n"
        "tick:x { }\n"
        "~~~~~~\n"
        "hint: write tick:N")
    assert compile_error("tickk:5 { }").endswith("hint: did you mean tick?")


def test_listing_and_completion_know_it(tick_registered):
    from pytrace.tools.builtins_listing import print_builtins, probe_types
    assert ("tick", ("tk",), "every N milliseconds on one CPU: tick:N") in [
        (w.name, w.aliases, w.doc) for w in probe_types()]
    out = io.StringIO()
    print_builtins(out, "tick", verbose=False)
    assert out.getvalue().split() == ["probe", "tick", "every", "N", "milliseconds", "on",
                                      "one", "CPU:", "tick:N"]
