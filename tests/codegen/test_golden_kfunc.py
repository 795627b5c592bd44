"""Golden listings of kernel-function probes and kernel types, compiled
against the fake x86_64 machine with the fake BTF (tests/fake_btf.py):
what kprobes, fentry, raw tracepoints and struct member reads cost in
instructions. Same format and ``--update-golden`` as test_golden.py."""
from __future__ import annotations

import os

import pytest

from pytrace.lang.kernelinfo import Feature
from pytrace.compile import compile_ast
from pytrace.lang.parser import parse
from pytrace.providers import resolvers

from tests.codegen.test_golden import Case, listing
from tests.fake_btf import btf_kernel

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden_kfunc")

CASES = [
    Case("kprobe_count", "kprobe:do_sys_openat2 { @[comm] = count(); }"),
    Case("kprobe_str_arg", 'kprobe:do_sys_openat2 /str(arg1) == "/tmp/m"/ { @ = count(); }'),
    Case("kprobe_typed_args", "kprobe:do_sys_openat2 { @ = args->how->flags; }"),
    Case("kretprobe_retval", "kretprobe:do_sys_openat2 { @ = hist(retval); }"),
    Case("kprobe_func_reg", 'kprobe:vfs_read { @[func] = count(); @r = reg("si"); }'),
    Case("kprobe_as_fentry", 'kprobe:do_sys_openat2 /str(arg1) == "/tmp/m"/ { @ = count(); }',
         without=frozenset({Feature.KPROBE})),
    Case("fentry_typed_args", 'fentry:do_sys_openat2 { printf("%s\\n", str(args->filename)); }'),
    Case("fexit_retval", "fexit:vfs_read /args->count > 10/ { @[func] = sum(retval); }"),
    Case("fentry_as_kprobe", "fentry:vfs_read { @ = sum(args->count); }",
         without=frozenset({Feature.FENTRY})),
    Case("curtask_chain", "t:syscalls:sys_enter_read { @[curtask->real_parent->comm] = count(); }"),
    Case("curtask_tgid", "t:syscalls:sys_enter_read /curtask->tgid == pid/ { @ = count(); }"),
    Case("bitfield_enum", "BEGIN { @[curtask->ptype] = sum(curtask->nice_bits); }"),
    Case("rawtracepoint_tp_btf", "rawtracepoint:sched_switch { @[args->next->pid] = count(); }"),
    Case("rawtracepoint_raw", "rawtracepoint:sched_switch { @[args->next->pid, arg0] = count(); }",
         without=frozenset({Feature.TP_BTF})),
]


def compile_case(case: Case):
    return compile_ast(parse(case.script, "-e"), btf_kernel(case.without), resolvers())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_listing(case, golden):
    text = listing(case, compile_case(case))
    golden(os.path.join(GOLDEN_DIR, case.name + ".txt"), text)


def test_every_golden_file_has_a_case():
    assert sorted(os.listdir(GOLDEN_DIR)) == sorted(c.name + ".txt" for c in CASES)
