"""kprobe/kretprobe, fentry/fexit and rawtracepoint probes on the fake
machine with the fake BTF: spec parsing, which mechanism runs (and the
fallback between kprobes and fentry), contexts (where argN, retval, args,
func and reg() are read, per architecture), the errors that say why."""
from __future__ import annotations

import pytest

from pytrace.base import arch
from pytrace.base.record import replace
from pytrace.base.diagnostics import CompileError
from pytrace.lang.kernelinfo import Feature
from pytrace.lang.ast import ProbeSpec
from pytrace.compile import compile_ast
from pytrace.lang.parser import parse
from pytrace.lang.probes import FuncIp, ProbeChoices, ProgKind
from pytrace.lang.types import AddrSpace, Int, Ptr, StructRef
from pytrace.providers import by_name, resolvers
from pytrace.providers.kernel_function import Mechanism, suggest_tracepoints, syscall_names

from tests.fake_btf import btf_kernel

KPROBE, FENTRY, BTF = Feature.KPROBE, Feature.FENTRY, Feature.BTF


def compile_btf(text: str, without=frozenset(), kernel=None, choices=ProbeChoices(), **kw):
    return compile_ast(parse(text, "-e"), kernel or btf_kernel(without), resolvers(choices),
                       **kw)


def error_of(text: str, without=frozenset(), kernel=None,
             choices=ProbeChoices()) -> tuple[str, int]:
    try:
        compile_btf(text, without, kernel, choices)
    except CompileError as err:
        return err.render(), err.exit_code
    raise AssertionError(f"compiled without error: {text!r}")


def targets(spec: str, without=frozenset(), kernel=None, choices=ProbeChoices()):
    kernel = kernel or btf_kernel(without)
    provider = by_name()[spec.split(":")[0]].choosing(choices)
    return provider.expand(ProbeSpec(spec), kernel)


# -- names ---------------------------------------------------------------------------

@pytest.mark.parametrize("function, names", [
    ("do_sys_openat2", ["openat", "openat2"]),
    ("__x64_sys_read", ["read"]),
    ("__arm64_sys_openat", ["openat"]),
    ("ksys_write", ["write"]),
    ("__se_sys_clone3", ["clone", "clone3"]),
    ("vfs_read", []),
    ("sys_", []),
])
def test_syscall_names(function, names):
    assert syscall_names(function) == names


def test_tracepoint_suggestions_exist_only_where_the_kernel_has_them():
    kernel = btf_kernel()
    # the fake machine has sys_enter_openat but no sys_enter_openat2
    assert suggest_tracepoints(kernel, "do_sys_openat2", False) == [
        "tracepoint:syscalls:sys_enter_openat"]
    assert suggest_tracepoints(kernel, "__x64_sys_read", True) == [
        "tracepoint:syscalls:sys_exit_read"]
    assert suggest_tracepoints(kernel, "vfs_read", False) == []


# -- which mechanism ---------------------------------------------------------------------

@pytest.mark.parametrize("spec, without, kind, mechanism, note", [
    ("kprobe:do_sys_openat2", (), ProgKind.KPROBE, Mechanism.KPROBE, ""),
    ("k:do_sys_openat2", (FENTRY,), ProgKind.KPROBE, Mechanism.KPROBE, ""),
    ("kprobe:do_sys_openat2", (KPROBE,), ProgKind.TRACING, Mechanism.FENTRY,
     "kprobe:do_sys_openat2 runs as fentry:do_sys_openat2: this kernel has no kprobes "
     "(no perf kprobe PMU, no tracefs kprobe_events)"),
    ("kretprobe:vfs_read", (KPROBE,), ProgKind.TRACING, Mechanism.FENTRY,
     "kretprobe:vfs_read runs as fexit:vfs_read: this kernel has no kprobes "
     "(no perf kprobe PMU, no tracefs kprobe_events)"),
    ("fentry:vfs_read", (), ProgKind.TRACING, Mechanism.FENTRY, ""),
    ("kfunc:vfs_read", (KPROBE,), ProgKind.TRACING, Mechanism.FENTRY, ""),
    ("f:vfs_read", (FENTRY,), ProgKind.KPROBE, Mechanism.KPROBE,
     "f:vfs_read runs as kprobe:vfs_read: this kernel cannot attach fentry programs "
     "(BPF trampolines: Linux 5.5 on x86-64, 6.0 on arm64)"),
    ("fexit:vfs_read", (BTF,), ProgKind.KPROBE, Mechanism.KPROBE,
     "fexit:vfs_read runs as kretprobe:vfs_read: this kernel has no BTF "
     "(/sys/kernel/btf/vmlinux), which fentry needs"),
])
def test_mechanism_and_fallback_note(spec, without, kind, mechanism, note):
    (t,) = targets(spec, frozenset(without))
    assert (t.context.kind, t.data.mechanism, t.context.note) == (kind, mechanism, note)
    assert t.provider == by_name()[spec.split(":")[0]].name
    assert t.name == by_name()[spec.split(":")[0]].name + ":" + spec.split(":", 1)[1]


def test_masked_features_are_named_as_masked():
    (t,) = targets("kprobe:vfs_read", {KPROBE}, choices=ProbeChoices(masked=frozenset({KPROBE})))
    assert t.context.note == ("kprobe:vfs_read runs as fentry:vfs_read: kprobe is masked "
                              "(--no-feature kprobe)")


def test_no_mechanism_is_a_feature_error_naming_both_and_the_tracepoint():
    text, code = error_of("kprobe:do_sys_openat2 { @[comm] = count(); }", {KPROBE, FENTRY})
    assert code == 1
    assert text == (
        "-e:1:1: error: cannot attach kprobe:do_sys_openat2: this kernel has no kprobes "
        "(no perf kprobe PMU, no tracefs kprobe_events), and fentry, which could stand in, "
        "does not work either: this kernel cannot attach fentry programs (BPF trampolines: "
        "Linux 5.5 on x86-64, 6.0 on arm64)\n"
        "kprobe:do_sys_openat2 { @[comm] = count(); }\n"
        "~~~~~~~~~~~~~~~~~~~~~\n"
        "hint: trace the system call instead: tracepoint:syscalls:sys_enter_openat")


def test_the_angle_bracket_one_liner_fails_the_same_way():
    text, code = error_of("kprobe:do_sys_openat2 < @[comm] = count() >", {KPROBE, FENTRY})
    assert code == 1 and "hint: trace the system call instead" in text


def test_no_fallback_refuses():
    text, code = error_of("kretprobe:__x64_sys_read { @ = retval; }", {KPROBE},
                          choices=ProbeChoices(fallback=False))
    assert code == 1
    assert text.splitlines()[0] == (
        "-e:1:1: error: kretprobe:__x64_sys_read needs kprobes, but this kernel has no "
        "kprobes (no perf kprobe PMU, no tracefs kprobe_events) (--no-fallback: not tried "
        "as fexit)")
    assert text.splitlines()[-1] == "hint: trace the system call instead: " \
                                    "tracepoint:syscalls:sys_exit_read"


def test_an_offset_needs_kprobes():
    text, code = error_of("kprobe:do_sys_openat2+8 { @ = arg0; }", {KPROBE})
    assert code == 1 and text.splitlines()[0] == (
        "-e:1:1: error: kprobe:do_sys_openat2+8 needs kprobes (fentry cannot attach inside a "
        "function), but this kernel has no kprobes (no perf kprobe PMU, no tracefs "
        "kprobe_events)")


def test_reg_needs_kprobes_and_says_why_it_has_none():
    text, code = error_of('kprobe:do_sys_openat2 { @ = reg("ip"); }', {KPROBE})
    assert code == 2
    assert text == (
        '-e:1:29: error: reg() is not available in this probe\n'
        'kprobe:do_sys_openat2 { @ = reg("ip"); }\n'
        '                            ~~~~~~~~~\n'
        'hint: reg() reads the registers saved by kprobes and uprobes; kprobe:do_sys_openat2 '
        'runs as fentry:do_sys_openat2: this kernel has no kprobes (no perf kprobe PMU, no '
        'tracefs kprobe_events)')


def test_fexit_args_cannot_fall_back_to_a_kretprobe():
    text, code = error_of("fexit:vfs_read { @ = args->count; }", {FENTRY})
    assert code == 2 and text.splitlines()[0] == (
        "-e:1:22: error: fexit:vfs_read runs as kretprobe:vfs_read: this kernel cannot attach "
        "fentry programs (BPF trampolines: Linux 5.5 on x86-64, 6.0 on arm64); a kretprobe "
        "has no 'args': the arguments are gone when the function returns")


def test_fexit_retval_alone_falls_back():
    (p,) = compile_btf("fexit:vfs_read { @ = retval; }", {FENTRY}).probes
    assert p.kind is ProgKind.KPROBE


def test_fentry_of_a_function_without_btf():
    text, code = error_of("fentry:not_in_btf { @ = count(); }")
    assert code == 2
    assert text == (
        "-e:1:1: error: the kernel's BTF has no function not_in_btf: it is inlined, has no "
        "BTF, or is misspelt, and fentry attaches only to functions BTF describes\n"
        "fentry:not_in_btf { @ = count(); }\n"
        "~~~~~~~~~~~~~~~~~\n"
        "hint: kprobe:not_in_btf can attach to functions without BTF")


def test_kprobe_falling_back_to_a_function_without_btf():
    text, _ = error_of("kprobe:not_in_btf { @ = count(); }", {KPROBE})
    assert text.splitlines()[0] == (
        "-e:1:1: error: kprobe:not_in_btf runs as fentry:not_in_btf: this kernel has no kprobes "
        "(no perf kprobe PMU, no tracefs kprobe_events), but the kernel's BTF has no function "
        "not_in_btf: it is inlined, has no BTF, or is misspelt, and fentry attaches only to "
        "functions BTF describes")


@pytest.mark.parametrize("spec, message", [
    ("kprobe:", "'kprobe:' is not a kprobe probe"),
    ("kprobe:a:b:c", "'kprobe:a:b:c' is not a kprobe probe"),
    ("kprobe:vfs_read+x", "'x' is not an offset"),
    ("kretprobe:vfs_read+8", "kretprobe probes cannot take an offset"),
    ("fentry:vfs_read+8", "fentry probes cannot take an offset"),
    ("kprobe:vfs_*+8", "an offset needs one function, not a wildcard"),
    ("kprobe:nomatch_*", "no function of the kernel matches nomatch_*"),
    ("rawtracepoint:", "'rawtracepoint:' is not a raw tracepoint"),
])
def test_bad_specs(spec, message):
    text, code = error_of(spec + " { @ = count(); }")
    assert code == 2 and text.splitlines()[0].endswith("error: " + message), text


# -- wildcards and modules -----------------------------------------------------------------

def test_wildcards_match_btf_functions_without_a_host_list():
    names = [t.name for t in targets("kprobe:vfs_*")]
    assert names == ["kprobe:vfs_read", "kprobe:vfs_write"]
    assert all(t.data.wildcard for t in targets("fentry:vfs_*"))


def test_wildcards_use_the_hosts_function_list_when_there_is_one():
    kernel = replace(btf_kernel(), traceable_functions=lambda module: (
        ["vfs_fsync", "vfs_read"] if module is None else ["mod_fn"]))
    assert [t.name for t in targets("kprobe:vfs_*", kernel=kernel)] == [
        "kprobe:vfs_fsync", "kprobe:vfs_read"]
    # fentry needs BTF as well: vfs_fsync has none here, vfs_write is not traceable
    assert [t.name for t in targets("fentry:vfs_*", kernel=kernel)] == ["fentry:vfs_read"]
    (t,) = targets("kprobe:mymod:mod_*", kernel=kernel)
    assert (t.name, t.data.module, t.data.function) == ("kprobe:mymod:mod_fn", "mymod", "mod_fn")


def test_a_shared_wildcard_program_reads_probe_from_the_cookie():
    script = compile_btf("kprobe:vfs_* { @[probe] = count(); }")
    (p,) = script.probes
    assert len(p.targets) == 2 and "get_attach_cookie" in "\n".join(p.ir_dump)


def test_fentry_programs_are_one_per_function():
    assert len(compile_btf("fentry:vfs_* { @ = count(); }").probes) == 2


def test_entry_and_return_probes_do_not_share_a_program_that_reads_the_context():
    assert len(compile_btf("kprobe:vfs_read,kretprobe:vfs_read { @ = count(); }").probes) == 1
    assert len(compile_btf("kprobe:vfs_read,kretprobe:vfs_read { @[func] = count(); }"
                           ).probes) == 2


# -- contexts ---------------------------------------------------------------------------

@pytest.mark.parametrize("machine, arg1, ret, ip", [
    ("x86_64", 104, 80, 128),
    ("aarch64", 8, 0, 256),
    ("riscv64", 88, 80, 0),
    ("arm", 4, 0, 60),
    ("i386", 8, 24, 48),
    ("ppc64le", 32, 24, 256),
    ("s390x", 48, 40, 16),
])
def test_pt_regs_slots_per_architecture(machine, arg1, ret, ip):
    kernel = replace(btf_kernel(), arch=arch.lookup(machine))
    (entry,) = targets("kprobe:do_sys_openat2", kernel=kernel)
    (exit_,) = targets("kretprobe:do_sys_openat2", kernel=kernel)
    assert entry.context.argn[1].offset == arg1
    if kernel.arch.bits == 64:       # the fake BTF is a 64-bit kernel's
        assert entry.context.args.field("filename").offset == arg1
    assert exit_.context.retval.offset == ret
    assert exit_.context.argn == () and exit_.context.args is None
    assert kernel.arch.reg_offset(kernel.arch.ip_reg) == ip
    assert entry.context.pt_regs and entry.context.func is FuncIp.HELPER


def test_kprobe_types_come_from_btf():
    (entry,) = targets("kprobe:do_sys_openat2")
    args = entry.context.args
    assert [(f.name, f.offset, f.decl) for f in args.fields] == [
        ("dfd", 112, "int"), ("filename", 104, "const char *"), ("how", 96,
                                                                 "struct open_how *")]
    assert args.field("filename").type == Ptr(Int(8, True), AddrSpace.UNKNOWN)
    assert isinstance(args.field("how").type.target, StructRef)
    assert entry.context.argn[0].type == Int(64, False)
    (exit_,) = targets("kretprobe:do_sys_openat2")
    assert exit_.context.retval.type == Int(64, True)         # long


def test_kprobe_without_btf_has_words_and_no_args():
    (entry,) = targets("kprobe:do_sys_openat2", {BTF})
    assert entry.context.args is None and len(entry.context.argn) == 6
    (exit_,) = targets("kretprobe:do_sys_openat2", {BTF})
    assert exit_.context.retval.type == Int(64, False)
    text, _ = error_of("kprobe:do_sys_openat2 { @ = args->dfd; }", {BTF})
    assert "'args' needs the function's types from BTF" in text


def test_fentry_context_is_u64_slots_then_retval():
    (t,) = targets("fexit:vfs_read")
    ctx = t.context
    assert [f.offset for f in ctx.args.fields] == [0, 8, 16, 24]
    assert [s.offset for s in ctx.argn] == [0, 8, 16, 24]
    assert (ctx.retval.offset, ctx.retval.type) == (32, Int(64, True))
    assert t.data.btf_id == btf_kernel().btf().find("vfs_read")
    options = by_name()["fexit"].load_options(t)
    assert options["attach_btf_id"] == t.data.btf_id


def test_func_without_get_func_ip():
    (entry,) = targets("kprobe:vfs_read", {Feature.GET_FUNC_IP})
    assert entry.context.func is FuncIp.IP_REG
    text, _ = error_of("kretprobe:vfs_read { @[func] = count(); }", {Feature.GET_FUNC_IP})
    assert text.splitlines()[0] == "-e:1:24: error: func is not available in this probe"


def test_describe_lists_typed_arguments_and_retval():
    (t,) = targets("fexit:do_sys_openat2")
    assert by_name()["fexit"].describe(t) == [
        "    int dfd", "    const char * filename", "    struct open_how * how",
        "    long int retval"]


# -- raw tracepoints ----------------------------------------------------------------------

def test_rawtracepoint_args_from_btf_and_tp_btf():
    (t,) = targets("rawtracepoint:sched_switch")
    ctx = t.context
    assert [(f.name, f.offset) for f in ctx.args.fields] == [
        ("preempt", 0), ("prev", 8), ("next", 16), ("prev_state", 24)]
    assert ctx.kind is ProgKind.TRACING and t.data.btf_id
    assert len(ctx.argn) == 4
    (t,) = targets("rt:sched_switch", {Feature.TP_BTF})
    assert t.context.kind is ProgKind.RAW_TRACEPOINT and not t.data.btf_id
    assert t.context.args is not None


def test_rawtracepoint_without_btf_has_only_argn():
    (t,) = targets("rawtracepoint:sched_switch", {BTF})
    assert t.context.args is None and len(t.context.argn) == 12
    text, _ = error_of("rawtracepoint:sched_switch { @ = args->prev; }", {BTF})
    assert "has no typed 'args'" in text.splitlines()[0]


def test_rawtracepoint_wildcards_come_from_btf():
    assert [t.name for t in targets("rawtracepoint:sched_*")] == ["rawtracepoint:sched_switch"]


# -- kprobe_multi ------------------------------------------------------------------------

def _with_ftrace(kernel, names):
    return replace(kernel, traceable_functions=lambda module: names if module is None else [],
                   ftrace_functions=lambda module: names if module is None else [])


def test_a_wildcard_goes_in_one_kprobe_multi_link_when_ftrace_lists_its_functions():
    kernel = _with_ftrace(btf_kernel(), ["vfs_read", "vfs_write"])
    ts = targets("kprobe:vfs_*", kernel=kernel)
    assert [t.context.kind for t in ts] == [ProgKind.KPROBE_MULTI] * 2
    assert all(t.data.multi and t.context.probe_by_cookie for t in ts)
    from pytrace.kernel.bpf_consts import AttachType
    assert by_name()["kprobe"].load_options(ts[0]) == {
        "expected_attach_type": AttachType.TRACE_KPROBE_MULTI}
    (p,) = compile_ast(parse("kprobe:vfs_* { @[probe] = count(); }", "-e"), kernel,
                       resolvers()).probes
    assert p.kind is ProgKind.KPROBE_MULTI and len(p.targets) == 2


@pytest.mark.parametrize("why", ["no-feature", "one function", "not listed", "unreadable"])
def test_kprobe_multi_only_where_it_surely_works(why):
    kernel = _with_ftrace(btf_kernel({Feature.KPROBE_MULTI} if why == "no-feature" else ()),
                          ["vfs_read", "vfs_write"])
    spec = "kprobe:vfs_read*" if why == "one function" else "kprobe:vfs_*"
    if why == "not listed":
        kernel = replace(kernel, ftrace_functions=lambda module: ["vfs_read"])
    if why == "unreadable":
        kernel = replace(kernel, ftrace_functions=lambda module: None)
    assert all(t.context.kind is ProgKind.KPROBE and not t.data.multi
               for t in targets(spec, kernel=kernel))


def test_kprobe_and_kprobe_multi_targets_do_not_share_a_program():
    kernel = _with_ftrace(btf_kernel(), ["vfs_read", "vfs_write"])
    script = compile_ast(parse("kprobe:vfs_*, kprobe:do_sys_openat2 { @ = count(); }", "-e"),
                         kernel, resolvers())
    assert sorted(p.kind.value for p in script.probes) == ["kprobe", "kprobe_multi"]


# -- --dry-run: verified even where nothing could attach ------------------------------------

DRY = "--dry-run: kernel-function programs are loaded and verified, attaching them is not tried: "


@pytest.mark.parametrize("spec, without, mechanism, note", [
    ("kprobe:do_sys_openat2", (KPROBE, FENTRY), Mechanism.KPROBE,
     DRY + "this kernel has no kprobes (no perf kprobe PMU, no tracefs kprobe_events)"),
    ("kprobe:do_sys_openat2+8", (KPROBE,), Mechanism.KPROBE,
     DRY + "this kernel has no kprobes (no perf kprobe PMU, no tracefs kprobe_events)"),
    ("fexit:vfs_read", (KPROBE, FENTRY), Mechanism.KPROBE,
     DRY + "this kernel cannot attach fentry programs (BPF trampolines: Linux 5.5 on "
     "x86-64, 6.0 on arm64); fentry programs are verified as kprobe programs"),
    # what would run is what is verified
    ("kprobe:vfs_read", (KPROBE,), Mechanism.FENTRY,
     "kprobe:vfs_read runs as fentry:vfs_read: this kernel has no kprobes (no perf kprobe "
     "PMU, no tracefs kprobe_events)"),
    ("kprobe:vfs_read", (), Mechanism.KPROBE, ""),
])
def test_dry_run_verifies_what_cannot_attach(spec, without, mechanism, note):
    (t,) = targets(spec, frozenset(without), choices=ProbeChoices(verify_only=True))
    assert (t.data.mechanism, t.context.note) == (mechanism, note)


def test_dry_run_notes_once_for_all_probes():
    script = compile_btf("kprobe:vfs_read, kprobe:do_sys_openat2 { @ = count(); } "
                         "kretprobe:vfs_read { @r = count(); }", {KPROBE, FENTRY},
                         choices=ProbeChoices(verify_only=True))
    notes = {t.context.note for p in script.probes for t in p.targets}
    assert notes == {DRY + "this kernel has no kprobes (no perf kprobe PMU, no tracefs "
                     "kprobe_events)"}
