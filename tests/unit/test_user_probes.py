"""uprobe/uretprobe/usdt/profile/software/hardware probes and the stack and
symbol builtins, compiled against the fake x86_64 machine (tests/fakes.py)
and ELF files built by tests/elfgen.py: targets, offsets, contexts, the
code argN/usdt operands/stacks lower to, and whole error messages."""
from __future__ import annotations

import pytest

from pytrace.lang.operands import Operand
from pytrace.lang.types import INT64, UINT64, Formatted, Special, Stack, StackKind, StackMode
from pytrace.providers import by_name
from pytrace.providers.uprobe import UprobeData

from tests import elfgen
from tests.elfgen import DATA_OFFSET, DATA_SHIFT, ElfSpec, Func, Probe
from tests.fakes import compile_error, compile_script, fake_kernel

X86_DI, X86_SI, X86_AX, X86_BP, X86_IP = 14 * 8, 13 * 8, 10 * 8, 4 * 8, 16 * 8


@pytest.fixture(scope="module")
def prog(tmp_path_factory) -> str:
    """A PIE with functions, an object and two USDT probes (one with a semaphore)."""
    spec = ElfSpec(
        funcs=[Func("main", 0x10, 0x20), Func("main_loop", 0x30, 0x10),
               Func("helper", 0x40, 0x10, dynamic=True)],
        objects=[Func("counter", 8, 8, type=elfgen.STT_OBJECT)],
        probes=[Probe("app", "start", 0x14, "-4@%edi 8@-16(%rbp) 4@$3 -8@counter(%rip)",
                      semaphore=2),
                Probe("app", "stop", 0x34, ""), Probe("other", "stop", 0x38, "1@%al")])
    return elfgen.write(tmp_path_factory.mktemp("elf") / "prog", spec)


@pytest.fixture(scope="module")
def exe(tmp_path_factory) -> str:
    spec = ElfSpec(etype=elfgen.ET_EXEC, funcs=[Func("main", 0x10, 0x20)],
                   objects=[Func("counter", 8, 4, type=elfgen.STT_OBJECT)])
    return elfgen.write(tmp_path_factory.mktemp("elf") / "exe", spec)


def targets(script):
    return [t for p in script.probes for t in p.targets]


# -- uprobes -------------------------------------------------------------------

def test_uprobe_targets_and_context(prog):
    script = compile_script(f"uprobe:{prog}:main, u:{prog}:main+4, uprobe:{prog}:0x1040 "
                            "{ @[arg0, arg1] = count(); }")
    ts = targets(script)
    assert [t.name for t in ts] == [f"uprobe:{prog}:main", f"uprobe:{prog}:main+4",
                                    f"uprobe:{prog}:0x1040"]
    assert [t.data for t in ts] == [UprobeData(prog, 0x1010, 0x1010, "main"),
                                    UprobeData(prog, 0x1014, 0x1014, "main"),
                                    UprobeData(prog, 0x1040, 0x1040, None)]
    (probe,) = script.probes          # one program for all three
    ctx = ts[0].context
    assert ctx.argn[:2] == (type(ctx.argn[0])(X86_DI, UINT64), type(ctx.argn[0])(X86_SI, UINT64))
    assert len(ctx.argn) == 6 and ctx.retval is None and ctx.user_pointers
    assert "load64 %1.ctx+112" in "\n".join(probe.ir_dump)


def test_quoted_names_and_relative_paths(prog, monkeypatch):
    import os
    monkeypatch.chdir(os.path.dirname(prog))
    rel = "./" + os.path.basename(prog)
    script = compile_script(f'uprobe:{prog}:"main", u:{prog}:"main"+4, uprobe:{rel}:main '
                            "{ @ = count(); }")
    ts = targets(script)
    assert [t.name for t in ts] == [f"uprobe:{prog}:main", f"uprobe:{prog}:main+4",
                                    f"uprobe:{rel}:main"]
    assert [t.data.offset for t in ts] == [0x1010, 0x1014, 0x1010]


def test_uretprobe_and_wildcards(prog):
    script = compile_script(f"uretprobe:{prog}:main* {{ @[probe] = sum(retval); }}")
    ts = targets(script)
    assert [t.name.rsplit(":", 1)[1] for t in ts] == ["main", "main_loop"]
    assert all(t.data.retprobe for t in ts)
    assert ts[0].context.retval.offset == X86_AX and ts[0].context.argn == ()


def test_uprobe_listing(prog):
    up = by_name()["uprobe"]
    assert up.listing(f"{prog}:main*", fake_kernel()) == [f"uprobe:{prog}:main",
                                                          f"uprobe:{prog}:main_loop"]
    assert up.listing(prog, fake_kernel()) == [f"uprobe:{prog}:{n}"
                                               for n in ("helper", "main", "main_loop")]


@pytest.mark.parametrize("script,message", [
    ("uprobe:{prog}:nain {{ }}",
     "-e:1:1: error: {prog} has no function 'nain'\n"
     "uprobe:{prog}:nain {{ }}\n{tilde}\n"
     "hint: did you mean main?"),
    ("uprobe:{prog}x:main {{ }}",
     "-e:1:1: error: uprobe: cannot find '{prog}x'\n"
     "uprobe:{prog}x:main {{ }}\n{tilde}\n"
     "hint: check the path; give the file of an executable or a shared library"),
    ("uprobe:{prog}:main+64 {{ }}",
     "-e:1:1: error: main+64 is past the end of main (32 bytes)\n"
     "uprobe:{prog}:main+64 {{ }}\n{tilde}"),
    ("uretprobe:{prog}:main+4 {{ }}",
     "-e:1:1: error: a uretprobe goes on a function's entry; it takes no offset\n"
     "uretprobe:{prog}:main+4 {{ }}\n{tilde}\n"
     "hint: write uretprobe:{prog}:main"),
    ("uprobe:{prog} {{ }}",
     "-e:1:1: error: 'uprobe:{prog}' is not a uprobe\n"
     "uprobe:{prog} {{ }}\n{tilde}\n"
     "hint: write uprobe:BINARY:FUNCTION, e.g. uprobe:/bin/bash:readline or uprobe:libc:malloc"),
    ("uprobe:{prog}:zz* {{ }}",
     "-e:1:1: error: no function in {prog} matches 'zz*'\n"
     "uprobe:{prog}:zz* {{ }}\n{tilde}\n"
     "hint: list them with: pytrace -l 'uprobe:{prog}:*'"),
    ("uprobe:{prog}:0x9000 {{ }}",
     "-e:1:1: error: uprobe: 0x9000 is not in a loaded segment of {prog}\n"
     "uprobe:{prog}:0x9000 {{ }}\n{tilde}\n"
     "hint: list functions with: pytrace -l 'uprobe:{prog}:*'"),
], ids=["no-function", "no-binary", "offset-past-end", "uretprobe-offset", "no-function-part",
        "wildcard-matches-nothing", "address-outside"])
def test_uprobe_errors(prog, script, message):
    text = script.format(prog=prog)
    spec_len = text.index(" {")
    assert compile_error(text) == message.format(prog=prog, tilde="~" * spec_len)


def test_not_an_elf_file(tmp_path):
    path = tmp_path / "script.sh"
    path.write_text("#!/bin/sh\necho hi\n" + "#" * 64)
    text = f"uprobe:{path}:main {{ }}"
    assert compile_error(text) == (
        f"-e:1:1: error: uprobe: {path} is not an ELF file\n{text}\n{'~' * text.index(' {')}\n"
        "hint: uprobes go on ELF executables and shared libraries")


def test_retval_and_args_where_they_do_not_exist(prog):
    assert compile_error(f"uretprobe:{prog}:main {{ @ = arg0; }}").splitlines()[0] == (
        "-e:1:" + str(len(f"uretprobe:{prog}:main {{ @ = ") + 1) +
        ": error: 'arg0' is not available in this probe type")
    assert "'retval' is not available" in compile_error(f"uprobe:{prog}:main {{ @ = retval; }}")


# -- usdt ----------------------------------------------------------------------

def test_usdt_targets_semaphores_and_operands(prog):
    script = compile_script(f"usdt:{prog}:app:start {{ @ = arg0 + arg1 + arg2 + arg3; }} "
                            f"U:{prog}:stop {{ @s[probe] = count(); }}")
    start, stop1, stop2 = targets(script)
    assert start.name == f"usdt:{prog}:app:start"
    assert start.data == UprobeData(prog, 0x1014, 0x1014, "app:start",
                                    ref_ctr_offset=DATA_OFFSET + 2,
                                    usdt_args="-4@%edi 8@-16(%rbp) 4@$3 -8@counter(%rip)")
    assert start.context.argn == (
        Operand(4, True, X86_DI, type=INT64),
        Operand(8, False, X86_BP, memory=True, disp=-16),
        Operand(4, False, value=3),
        # counter(%rip): ip - the probe's address + counter's address
        Operand(8, True, X86_IP, memory=True, disp=DATA_SHIFT + 8 - 0x1014, type=INT64))
    assert (stop1.name, stop2.name) == (f"usdt:{prog}:app:stop", f"usdt:{prog}:other:stop")
    assert stop1.data.ref_ctr_offset == 0
    ir = "\n".join(script.probes[0].ir_dump)
    assert "probe_read_user" in ir and "lsh 32" in ir and "arsh 32" in ir


def test_usdt_listing(prog):
    usdt = by_name()["usdt"]
    assert usdt.listing(prog, fake_kernel()) == [f"usdt:{prog}:app:start",
                                                 f"usdt:{prog}:app:stop",
                                                 f"usdt:{prog}:other:stop"]
    assert usdt.listing(f"{prog}:*:stop", fake_kernel()) == [f"usdt:{prog}:app:stop",
                                                             f"usdt:{prog}:other:stop"]


def test_usdt_describe(prog):
    usdt = by_name()["usdt"]
    (start,) = targets(compile_script(f"usdt:{prog}:app:start {{ }}"))
    assert usdt.describe(start) == ["    int32_t arg0  /* %edi */",
                                    "    uint64_t arg1  /* -16(%rbp) */",
                                    "    uint32_t arg2  /* $3 */",
                                    "    int64_t arg3  /* counter(%rip) */",
                                    "    /* guarded by a semaphore */"]


def test_usdt_errors(prog, tmp_path):
    text = f"usdt:{prog}:app:nothing {{ }}"
    assert compile_error(text) == (
        f"-e:1:1: error: no usdt probe in {prog} matches app:nothing\n{text}\n"
        f"{'~' * text.index(' {')}\nhint: list them with: pytrace -l 'usdt:{prog}'")
    bad = elfgen.write(tmp_path / "bad", ElfSpec(probes=[Probe("p", "x", 0x10, "4@%xmm1")]))
    text = f"usdt:{bad}:p:x {{ }}"
    assert compile_error(text) == (
        f"-e:1:1: error: usdt p:x in {bad}: '4@%xmm1': unknown register %xmm1\n{text}\n"
        f"{'~' * text.index(' {')}\n"
        "hint: its arguments cannot be read; the probe itself can still be used without argN")


# -- profile, software, hardware -------------------------------------------------

@pytest.mark.parametrize("spec,period,freq", [
    ("profile:hz:99", 0, 99), ("profile:99hz", 0, 99), ("p:ms:10", 10_000_000, 0),
    ("profile:s:1", 1_000_000_000, 0), ("profile:us:250", 250_000, 0),
])
def test_profile(spec, period, freq):
    (t,) = targets(compile_script(f"{spec} {{ @[ustack, kstack] = count(); }}"))
    assert (t.provider, t.data.period, t.data.freq) == ("profile", period, freq)
    assert t.context.kind.value == "perf_event"


@pytest.mark.parametrize("spec,name,config,period", [
    ("software:page-faults:10", "software:page-faults:10", 2, 10),
    ("s:faults", "software:faults:100", 2, 100),
    ("software:cs:5", "software:cs:5", 3, 5),
    ("software:cpu-clock", "software:cpu-clock:1000000", 0, 1000000),
    ("hardware:cycles:1000", "hardware:cycles:1000", 0, 1000),
    ("h:cache-misses", "hardware:cache-misses:1000000", 3, 1000000),
])
def test_perf_counters(spec, name, config, period):
    (t,) = targets(compile_script(f"{spec} {{ @ = count(); }}"))
    assert (t.name, t.data.config, t.data.period) == (name, config, period)


@pytest.mark.parametrize("spec,message,hint", [
    ("profile:hz:0", "'profile:hz:0' is not a profile probe",
     "write profile:hz:N, profile:s:N, profile:ms:N or profile:us:N (or profile:99hz, "
     "profile:10ms)"),
    ("software:page-fault:5", "unknown software event 'page-fault'",
     "did you mean page-faults?"),
    ("software:faults:x", "'x' is not a positive count",
     "software:page-faults:N fires every N events"),
    ("hardware:cycle", "unknown hardware event 'cycle'", "did you mean cycles?"),
])
def test_perf_errors(spec, message, hint):
    text = f"{spec} {{ }}"
    assert compile_error(text) == (f"-e:1:1: error: {message}\n{text}\n{'~' * len(spec)}\n"
                                   f"hint: {hint}")


# -- stacks and symbols --------------------------------------------------------------

def test_stack_types_and_maps():
    script = compile_script("t:syscalls:sys_enter_read { @[kstack, ustack(perf, 5)] = count(); "
                            "@r[kstack(raw)] = count(); @k[ksym(args->fd)] = count(); "
                            "printf(\"%s\\n\", ustack(3)); }")
    key = script.map("@").key
    assert key.elems == (Stack(StackKind.KERNEL, 127, StackMode.BPFTRACE),
                         Stack(StackKind.USER, 5, StackMode.PERF))
    assert script.map("@k").key == Special(Formatted.KSYM)
    stacks = {m.name: (m.kind.value, m.key_size, m.value_size) for m in script.maps
              if m.name.startswith("stack_")}
    assert stacks == {"stack_k127": ("hash", 4, 1016), "stack_u5": ("hash", 4, 40),
                      "stack_u3": ("hash", 4, 24)}
    assert not script.map("stack_k127").user
    ir = script.probes[0].ir_dump
    # frames from bpf_get_stack, hashed to the first zero, filed unless known
    assert sum("call get_stack(" in line for line in ir) == 4
    assert sum("if %" in line and "== 0 goto" in line and "stack_hashed" in line
               for line in ir) == 127 + 5 + 127 + 3


def test_stack_mode_from_config():
    script = compile_script("config = { stack_mode = perf } "
                            "t:syscalls:sys_enter_read { @[kstack] = count(); }")
    assert script.map("@").key.mode is StackMode.PERF


def test_usym_files_its_process():
    script = compile_script("t:syscalls:sys_enter_read { @[usym(args->buf)] = count(); }")
    assert script.map("usym_pids").key_size == 8
    assert "map[usym_pids]" in "\n".join(script.probes[0].ir_dump)


def test_uaddr(prog, exe):
    # an executable: a constant, typed as a pointer to the symbol's 4 bytes
    script = compile_script(f"uprobe:{exe}:main {{ @ = *uaddr(\"counter\"); }}")
    assert f"    call probe_read_user(&stack2.read[8]+0, 4, {0x403008})" in script.probes[0].ir_dump
    # a PIE: the address comes from the probe's own run-time address
    script = compile_script(f"uprobe:{prog}:main {{ @ = uaddr(\"counter\"); }}")
    ir = "\n".join(script.probes[0].ir_dump)
    assert f"load64 %1.ctx+{X86_IP}" in ir and f"add {DATA_SHIFT + 8 - 0x1010}" in ir


@pytest.mark.parametrize("script,col,message,hint", [
    ("t:syscalls:sys_enter_read {{ @[kstack(perf, 200)] = count(); }}", 44,
     "kstack() records 1 to 127 frames, not 200", None),
    ("t:syscalls:sys_enter_read {{ @[kstack(fast)] = count(); }}", 38,
     "unknown stack mode 'fast'", "modes: bpftrace, perf, raw"),
    ("t:syscalls:sys_enter_read {{ @ = uaddr(\"main\"); }}", 33,
     "uaddr() resolves symbols of the binary a uprobe or usdt probe is in",
     "use it in uprobe:, uretprobe: or usdt: probes"),
    ("BEGIN {{ @ = kaddr(\"do_sys_open\"); }}", 19,
     "the kernel has no symbol 'do_sys_open'", "kernel symbols are listed in /proc/kallsyms"),
    ("BEGIN {{ @ = kaddr(comm); }}", 19,
     "kaddr() takes a symbol name in quotes, e.g. kaddr(\"name\")", None),
    ("t:syscalls:sys_enter_read {{ @ = ksym(comm); }}", 38,
     "ksym()'s argument must be an integer, not a string", None),
    ("config = {{ stack_mode = fancy }} t:syscalls:sys_enter_read {{ @[kstack] = count(); }}",
     63, "config stack_mode is 'fancy'; it must be bpftrace, perf or raw", None),
    ("uprobe:{prog}:main {{ @ = uaddr(\"nothing\"); }}", None,
     "{prog} has no symbol 'nothing'", None),
    ("uprobe:{prog}:main* {{ @ = uaddr(\"counter\"); }}", None,
     "uaddr(\"counter\"): {prog} is loaded at an address chosen at run time; pytrace finds "
     "it from the probe's own address, which needs one probe on a function entry",
     "give this probe a single uprobe or usdt attach point"),
    ("uretprobe:{prog}:main {{ @ = uaddr(\"counter\"); }}", None,
     "uaddr(\"counter\"): {prog} is loaded at an address chosen at run time; pytrace finds "
     "it from the probe's own address, which needs one probe on a function entry",
     "read it in a uprobe on the function's entry and keep it in a map"),
], ids=["depth", "mode", "uaddr-in-tracepoint", "kaddr-unknown", "kaddr-not-literal",
        "ksym-string", "config-mode", "uaddr-unknown", "uaddr-pie-wildcard",
        "uaddr-pie-uretprobe"])
def test_stack_and_symbol_errors(prog, script, col, message, hint):
    text = script.format(prog=prog)
    got = compile_error(text).splitlines()
    head = got[0]
    assert head.endswith(f"error: {message.format(prog=prog)}"), got
    if col is not None:
        assert head.startswith(f"-e:1:{col}: "), got
    assert got[1] == text
    assert (got[3] if len(got) > 3 else None) == (f"hint: {hint}" if hint else None)


def test_printf_takes_stacks_as_strings():
    compile_script('t:syscalls:sys_enter_read { printf("%s %s\\n", kstack, ustack(raw, 4)); }')
