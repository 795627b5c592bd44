"""Probe resolution: config missing_probes (current bpftrace's, default
error): a spec of a block that names nothing (a function its binary lacks) is an error, or is
skipped with one located warning (warn), or silently (ignore); a block
left with nothing attaches nothing and is an error whatever the setting.
Compiled against the fake machine and an ELF built by tests/elfgen.py."""
from __future__ import annotations

import pytest

from tests import elfgen
from tests.elfgen import ElfSpec, Func
from tests.fakes import compile_error, compile_script


@pytest.fixture(scope="module")
def prog(tmp_path_factory) -> str:
    spec = ElfSpec(funcs=[Func("main", 0x10, 0x20), Func("helper", 0x40, 0x10, dynamic=True)])
    return elfgen.write(tmp_path_factory.mktemp("elf") / "prog", spec)


def _script(prog: str, setting: str | None, funcs=("main", "nothere")) -> str:
    config = f"config = {{ missing_probes = {setting} }}\n" if setting else ""
    specs = ", ".join(f"uprobe:{prog}:{f}" for f in funcs)
    return f"{config}{specs} {{ @ = count(); }}"


def _names(script) -> list[str]:
    return [t.name for p in script.probes for t in p.targets]


def test_warn_skips_the_missing_function_with_one_located_warning(prog):
    script = compile_script(_script(prog, "warn"))
    assert _names(script) == [f"uprobe:{prog}:main"]
    col = len(f"uprobe:{prog}:main, ") + 1
    assert [w.render() for w in script.warnings] == [
        f"-e:2:{col}: warning: {prog} has no function 'nothere'; skipping this probe\n"
        f"uprobe:{prog}:main, uprobe:{prog}:nothere {{ @ = count(); }}\n"
        f"{' ' * (col - 1)}{'~' * len(f'uprobe:{prog}:nothere')}\n"
        f"hint: list them with: pytrace -l 'uprobe:{prog}:*'"]


def test_ignore_skips_it_silently(prog):
    script = compile_script(_script(prog, "ignore", ("main", "nothere", "zz*")))
    assert (_names(script), script.warnings) == ([f"uprobe:{prog}:main"], [])


def test_error_is_the_default_and_its_hint_names_the_setting(prog):
    text = _script(prog, None)
    col = len(f"uprobe:{prog}:main, ") + 1
    assert compile_error(text) == (
        f"-e:1:{col}: error: {prog} has no function 'nothere'\n"
        f"uprobe:{prog}:main, uprobe:{prog}:nothere {{ @ = count(); }}\n"
        f"{' ' * (col - 1)}{'~' * len(f'uprobe:{prog}:nothere')}\n"
        f"hint: list them with: pytrace -l 'uprobe:{prog}:*'; or attach the block's other "
        "probes with config = { missing_probes = warn }")
    assert compile_error(_script(prog, "error")).startswith(f"-e:2:{col}: error: {prog} has no")


def test_a_block_left_with_nothing_is_an_error_whatever_the_setting(prog):
    for setting in ("warn", "ignore"):
        assert compile_error(_script(prog, setting, ("nothere", "zz*"))) == (
            f"-e:2:1: error: {prog} has no function 'nothere'\n"
            f"uprobe:{prog}:nothere, uprobe:{prog}:zz* {{ @ = count(); }}\n"
            f"{'~' * len(f'uprobe:{prog}:nothere')}\n"
            f"hint: list them with: pytrace -l 'uprobe:{prog}:*'\n"
            f"-e:2:{len(f'uprobe:{prog}:nothere, ') + 1}: error: no function in {prog} "
            "matches 'zz*'\n"
            f"uprobe:{prog}:nothere, uprobe:{prog}:zz* {{ @ = count(); }}\n"
            f"{' ' * len(f'uprobe:{prog}:nothere, ')}{'~' * len(f'uprobe:{prog}:zz*')}\n"
            f"hint: list them with: pytrace -l 'uprobe:{prog}:*'")


def test_a_bad_value_is_located():
    assert compile_error("config = { missing_probes = maybe } BEGIN { }") == (
        "-e:1:12: error: missing_probes is 'maybe'; it must be error, warn or ignore\n"
        "config = { missing_probes = maybe } BEGIN { }\n"
        "           ~~~~~~~~~~~~~~~~~~~~~~\n"
        "hint: write config = { missing_probes = warn }")


def test_tracepoint_listing_matches_names_across_types():
    """-l '*sched_switch*' (no probe type) lists the tracepoint too, as
    bpftrace does; -l tracepoint:sched still means the category."""
    from pytrace.providers import by_name
    from tests.fakes import fake_kernel
    tp = by_name()["tracepoint"]
    assert tp.listing("*sched_switch*", fake_kernel()) == ["tracepoint:sched:sched_switch"]
    assert tp.listing("sched", fake_kernel()) == [
        "tracepoint:sched:sched_process_exec", "tracepoint:sched:sched_switch"]
