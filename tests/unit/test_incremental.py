"""Compiling more probes against a loaded script (``compile_ast(base=)``,
pytrace/lang/incremental.py), on the fake x86_64 machine: what the
interactive session relies on to add probes while the others run."""
import pytest

from pytrace.base.diagnostics import CompileError
from pytrace.compile import PROBE_ID_BASE, compile_ast
from pytrace.lang.parser import parse
from pytrace.lang.program import Counter, MapKind
from pytrace.lang.types import INT64, Agg, AggKind, Str
from pytrace.providers import resolvers

from tests.fakes import fake_kernel

TP = "tracepoint:syscalls:sys_enter_getppid"


def more(text, base=None, n=1):
    return compile_ast(parse(text, f"<input {n}>"), fake_kernel(), resolvers(), base=base)


def error(text, base, n=2) -> str:
    with pytest.raises(CompileError) as info:
        more(text, base, n)
    return info.value.render()


@pytest.fixture
def first():
    return more(f'{TP} {{ @c[comm] = count(); @s = comm; printf("a %d\\n", 1); }}')


def test_later_input_uses_the_loaded_maps(first):
    second = more(f'BEGIN {{ printf("b %d\\n", @c["x"]); @n[1] = 2; }} '
                  f'tracepoint:syscalls:sys_enter_openat {{ @c[comm] = count(); @t = @s; }}',
                  first, 2)
    specs = {m.name: m for m in second.maps}
    assert specs["@c"] is first.map("@c")               # the loaded spec, unchanged
    assert specs["@s"] is first.map("@s")
    assert specs["@t"].value == Str(16)                 # typed by the loaded @s
    assert specs["@n"].kind is MapKind.HASH
    assert [(e.id, e.fmt) for e in second.events] == [(1, "a %d\n"), (2, "b %d\n")]
    # counters: the base's, then the new maps' (@c's is reused)
    assert [(c.index, c.kind, c.map) for c in second.counters] == [
        (0, Counter.MAP_FULL, "@c"), (1, Counter.MAP_FULL, "@s"), (2, Counter.LOST_EVENTS, ""),
        (3, Counter.MAP_FULL, "@n"), (4, Counter.MAP_FULL, "@t")]
    # program names count on; each program knows its probe in the input
    assert [(p.name, p.source, p.special) for p in second.probes] == [
        ("pt1_BEGIN", 0, "BEGIN"), ("pt2_sys_enter_o", 1, "")]
    assert second.probe_names == {305: TP, PROBE_ID_BASE + 1: "BEGIN",
                                  782: "tracepoint:syscalls:sys_enter_openat"}


def test_probe_ids_stay_unique():
    one = more('BEGIN { printf("%s\\n", probe); } interval:s:1 { printf("%s\\n", probe); }')
    two = more('BEGIN { printf("%s\\n", probe); }', one, 2)
    three = more('END { printf("%s\\n", probe); }', two, 3)
    assert three.probe_names == {PROBE_ID_BASE: "BEGIN", PROBE_ID_BASE + 1: "interval:s:1",
                                 PROBE_ID_BASE + 2: "BEGIN", PROBE_ID_BASE + 3: "END"}
    assert len({e.id for e in three.events}) == 4


def test_a_loaded_map_is_read_without_being_assigned_again(first):
    second = more(f"{TP} {{ if (@c[comm] > 2) {{ printf(\"%s\\n\", @s); }} }}", first, 2)
    assert second.map("@c").value == Agg(AggKind.COUNT)


def test_type_conflicts_with_loaded_maps_point_at_both_inputs(first):
    assert error(f"{TP} {{ @c[comm] = sum(2); }}", first) == (
        "<input 2>:1:52: error: @c already holds count() values; it cannot also hold sum() "
        "values\n"
        "tracepoint:syscalls:sys_enter_getppid { @c[comm] = sum(2); }\n"
        "                                                   ~~~~~~\n"
        "<input 1>:1:52: note: @c first assigned here\n"
        'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); @s = comm; '
        'printf("a %d\\n", 1); }\n'
        "                                                   ~~~~~~~")
    assert error(f"{TP} {{ @c[1, 2] = count(); }}", first).splitlines()[:5] == [
        "<input 2>:1:41: error: @c is keyed by string elsewhere, not (integer, integer)",
        "tracepoint:syscalls:sys_enter_getppid { @c[1, 2] = count(); }",
        "                                        ~~~~~~~~",
        "<input 1>:1:41: note: @c first keyed here",
        'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); @s = comm; '
        'printf("a %d\\n", 1); }']


def test_a_loaded_map_cannot_grow_its_strings(first):
    assert error(f"{TP} {{ @s = str(args.__syscall_nr); }}", first) == (
        "<input 2>:1:41: error: @s is loaded with string[16] values; this would need "
        "string[1024] values\n"
        "tracepoint:syscalls:sys_enter_getppid { @s = str(args.__syscall_nr); }\n"
        "                                        ~~\n"
        "hint: a loaded map keeps its types: store values that fit them, or use another map\n"
        "<input 1>:1:66: note: @s was defined here\n"
        'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); @s = comm; '
        'printf("a %d\\n", 1); }\n'
        "                                                                 ~~~~")
    # shorter strings fit
    assert more(f'{TP} {{ @s = "ab"; }}', first, 2).map("@s").value == Str(16)


def test_without_base_nothing_changes():
    one = more(f"{TP} {{ @x = 1; }}")
    assert [p.name for p in one.probes] == ["pt0_sys_enter_g"]
    assert one.map("@x").value == INT64
    assert set(one.map_origins) == {"@x"}
    assert one.events == []
