"""Golden listings: one small script per compiler feature, compiled against
the fake x86_64 machine (tests/fakes.py), compared with the listing kept in
tests/codegen/golden/<case>.txt.

A listing holds the maps and events the script declares, then for each
program the instructions in the verifier's syntax under the script lines
they came from (``pytrace -d asm``) and the IR they were emitted from
(``pytrace -d ir``). No fds or addresses appear in them. After a deliberate
change in code generation, rewrite them with
``python3 -m pytest tests/codegen --update-golden`` and review the diff.
"""
from __future__ import annotations

import dataclasses
import os

import pytest

from pytrace.bpf.insn import decode, encode, slot_offsets
from pytrace.lang.kernelinfo import Feature
from pytrace.lang.dump import asm_lines
from pytrace.providers import special

from tests.fakes import compile_script

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden")
#: BEGIN without BPF_PROG_TEST_RUN filters on pytrace's pid; listings use this one
FAKE_PID = 4242


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    script: str
    without: frozenset = frozenset()
    params: tuple = ()
    #: compiled as with --unsafe (system(), signal(), override())
    unsafe: bool = False


CASES = [
    # aggregations
    Case("count_by_comm", "t:syscalls:sys_enter_read { @[comm] = count(); }"),
    Case("sum", "t:syscalls:sys_enter_read { @ = sum(args->count); }"),
    Case("avg", "t:syscalls:sys_enter_read { @ = avg(args->count); }"),
    Case("min", "t:syscalls:sys_enter_read { @ = min(args->count); }"),
    Case("max", "t:syscalls:sys_enter_read { @ = max(args->count); }"),
    Case("stats", "t:syscalls:sys_enter_read { @ = stats(args->count); }"),
    Case("hist", "t:syscalls:sys_enter_read { @ = hist(args->count); }"),
    Case("hist_bits", "t:syscalls:sys_enter_read { @ = hist(args->count, 2); }"),
    Case("lhist", "t:syscalls:sys_enter_read { @ = lhist(args->count, 0, 100, 10); }"),
    Case("count_read", "BEGIN { @c = count(); @v = @c; }"),
    # output
    Case("printf_ints", 'BEGIN { printf("%d %u %x\\n", -1, pid, 255); }'),
    Case("printf_strings", 'BEGIN { printf("%s|%s\\n", comm, "lit"); }'),
    Case("strftime", 'BEGIN { printf("%s\\n", strftime("%H:%M:%S.%f", nsecs)); }'),
    # issue 10's builtins
    Case("bswap", 'BEGIN { @ = bswap((uint32)pid); }'),
    Case("pton_ntop", 'BEGIN { printf("%s\\n", ntop(pton("10.0.0.1"))); }'),
    Case("strcontains", 'BEGIN { @ = strcontains(comm, "py"); }'),
    Case("username", 'BEGIN { printf("%s\\n", username); }'),
    Case("join", 't:syscalls:sys_enter_execve { join(args->argv, ","); }'),
    Case("cat", 'BEGIN { cat("/proc/%d/comm", pid); }'),
    Case("system", 'BEGIN { system("echo %d", pid); }', unsafe=True),
    Case("signal", 't:syscalls:sys_enter_getppid { signal("SIGUSR1"); }', unsafe=True),
    Case("override", 'kprobe:vfs_read { override(-5); }', unsafe=True),
    Case("cgroup_path", 'BEGIN { printf("%s\\n", cgroup_path(cgroup)); }'),
    Case("buf", 't:syscalls:sys_enter_write { printf("%r\\n", buf(args->buf, args->count)); }'),
    Case("str_user_pointer",
         't:syscalls:sys_enter_openat { printf("%s\\n", str(args->filename)); }'),
    Case("str_without_probe_read_user",
         't:syscalls:sys_enter_openat { printf("%s\\n", str(args->filename)); }',
         without=frozenset({Feature.PROBE_READ_USER})),
    Case("tracepoint_char_array", "t:sched:sched_switch { @[args->prev_comm] = count(); }"),
    Case("exit", "BEGIN { exit(); }"),
    Case("print_clear_zero_delete",
         "BEGIN { @x[1] = 1; print(@x); clear(@x); zero(@x); delete(@x[1]); }"),
    Case("perf_buffer", 'BEGIN { printf("%d\\n", 1); }',
         without=frozenset({Feature.RINGBUF})),
    Case("begin_without_test_run", "BEGIN { @ = 1; }",
         without=frozenset({Feature.TEST_RUN})),
    # control flow
    Case("predicate_and_or",
         "t:syscalls:sys_enter_read /pid > 100 && (args->count < 10 || args->fd == 0)/ "
         "{ @ = count(); }"),
    Case("if_else",
         "t:syscalls:sys_enter_read { if (args->count > 10) { @x = 1; } "
         "else if (args->fd == 0) { @x = 2; } else { @x = 3; } }"),
    Case("for_range",
         "BEGIN { for $i : 1..($# + 4) { if $i == 2 { continue; } @[$i] = 1; } }"),
    Case("incdec_values", "BEGIN { $x = 5; @a = $x++; @b = ++@m[1]; @c = @m[1]--; }"),
    Case("macro_block_value",
         "macro twice(x) { let $v = x; $v * 2 }\nBEGIN { @ = twice(pid); @w = { let $w = 3; $w }; }"),
    Case("while_loop",
         "BEGIN { $i = 0; while ($i < 10) { $i++; if ($i == 5) { continue; } "
         "if ($i == 8) { break; } } @ = $i; }"),
    Case("unroll", "BEGIN { $i = 1; unroll(3) { $i *= 2; } @ = $i; }"),
    Case("ternary", "t:syscalls:sys_enter_read { @ = args->count > 10 ? 1 : 2; }"),
    # values
    Case("string_compare_literal",
         't:syscalls:sys_enter_read /comm == "bash"/ { @ = count(); }'),
    Case("tuple_key", "t:syscalls:sys_enter_read { @[pid, comm] = count(); }"),
    Case("map_read", "BEGIN { @x = 1; @y = @x * 2; }"),
    Case("compound_add_map", "t:syscalls:sys_enter_read { @bytes[args->fd] += args->count; }"),
    Case("compound_mul_map", "BEGIN { @x = 2; @x *= 3; }"),
    Case("signed_division", "BEGIN { $a = -7; $b = 2; @q = $a / $b; @r = $a % $b; }"),
    Case("casts",
         "t:syscalls:sys_enter_read { @a = (uint8)args->count; @b = (int16)args->count; "
         "@c = (uint32)args->count; }"),
    Case("probe_shared_program",
         "t:syscalls:sys_enter_read,t:syscalls:sys_enter_write { @[probe] = count(); }"),
    Case("probe_without_links",
         "t:syscalls:sys_enter_read,t:syscalls:sys_enter_write { @[probe] = count(); }",
         without=frozenset({Feature.LINK})),
    Case("interval", "interval:s:1 { @ = count(); }"),
]


def fields(insn) -> tuple:
    """An instruction as the kernel sees it (without the map name)."""
    return insn.code, insn.dst, insn.src, insn.off, insn.imm


def compile_case(case: Case, monkeypatch):
    monkeypatch.setattr(special.os, "getpid", lambda: FAKE_PID)
    from pytrace.lang.program import Limits
    return compile_script(case.script, without=case.without, params=list(case.params),
                          limits=Limits(unsafe=case.unsafe))


def listing(case: Case, script) -> str:
    out = [f"; script: {line}" for line in case.script.split("\n")]
    if case.without:
        out.append("; --no-feature " + ",".join(sorted(f.value for f in case.without)))
    out.append(";")
    for m in script.maps:
        what = f"; map {m.name}: {m.kind.value}, key {m.key_size} bytes"
        if m.key is not None:
            what += f" ({m.key})"
        what += f", value {m.value_size} bytes"
        if m.value_size:
            what += f" ({m.value})"
        out.append(what + f", {m.max_entries} entries")
    for e in script.events:
        what = f"; event {e.id}: {e.kind.value}"
        if e.fmt:
            what += f" {e.fmt!r}"
        if e.map:
            what += f" {e.map}"
        out.append(what + f" {e.args} ({e.size} bytes)")
    for c in script.counters:
        out.append(f"; counter {c.index}: {c.kind.value}" + (f" {c.map}" if c.map else ""))
    for probe in script.probes:
        out.append("")
        out += asm_lines(probe)
        out.append("")
        out.append(f"; IR of {probe.name}")
        out += probe.ir_dump
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_listing(case, golden, monkeypatch):
    text = listing(case, compile_case(case, monkeypatch))
    golden(os.path.join(GOLDEN_DIR, case.name + ".txt"), text)


def test_every_golden_file_has_a_case():
    names = {c.name + ".txt" for c in CASES}
    assert len(names) == len(CASES)
    assert sorted(set(os.listdir(GOLDEN_DIR)) - names) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_instructions_round_trip_and_jumps_land_on_instructions(case, monkeypatch):
    script = compile_case(case, monkeypatch)
    for probe in script.probes:
        insns = probe.insns
        data = encode(insns)
        assert len(data) == 8 * probe.nslots
        back = decode(data)
        assert [fields(b) for b in back] == [fields(i) for i in insns]
        assert encode(back) == data
        starts = slot_offsets(insns)
        boundaries = set(starts)
        for pc, insn in zip(starts, insns):
            if insn.is_jump:
                target = pc + 1 + insn.off
                assert target in boundaries, f"{probe.name}: jump at {pc} to {target}"
        last = insns[-1]
        assert last.is_exit or (last.is_jump and last.code & 0xF0 == 0), \
            f"{probe.name} can run off its end"
        assert len(probe.locs) == len(insns)
        text = "\n".join(asm_lines(probe))
        assert "fd:" not in text


def test_map_loads_name_their_maps(monkeypatch):
    # the wire format carries an fd (0 until the loader sets it); listings name the map
    script = compile_case(CASES[0], monkeypatch)
    loads = [i for i in script.probes[0].insns if i.is_wide and i.ref is not None]
    assert {i.ref for i in loads} == {"@", "counters"}
    assert all(i.imm == 0 for i in loads if i.src == 1)


@pytest.mark.parametrize("name", ["min", "max"])
def test_min_max_update_of_an_existing_slot_reads_the_set_flag(name, monkeypatch):
    case = next(c for c in CASES if c.name == name)
    (probe,) = compile_case(case, monkeypatch).probes
    init = next(i for i, line in enumerate(probe.ir_dump) if line.endswith(".init:"))
    existing_path = probe.ir_dump[:init]
    assert any("map_lookup_elem+8" in line and "load64" in line for line in existing_path)
