"""Kernel types (BTF) in the language, on the fake BTF: curtask, member
access through pointers and embedded structs, char arrays as strings,
arrays, bitfields, enums, casts, sizeof/offsetof, and the messages for
mistakes. The IR shows what is read where: one probe_read per pointer hop
at the summed offset."""
from __future__ import annotations

import re

import pytest

from pytrace.base.diagnostics import CompileError
from pytrace.lang.kernelinfo import Feature
from pytrace.compile import compile_ast
from pytrace.lang.parser import parse
from pytrace.lang.types import (AddrSpace, CEnum, Int, Ptr, Str, Struct, StructRef, UINT64,
                                struct_of)
from pytrace.render.output import text_value
from pytrace.providers import resolvers

from tests.fake_btf import btf_kernel


def compile_btf(text: str, without=frozenset()):
    return compile_ast(parse(text, "-e"), btf_kernel(without), resolvers())


def ir(text: str, without=frozenset()) -> str:
    return "\n".join(line for p in compile_btf(text, without).probes for line in p.ir_dump)


def reads(text: str) -> list[tuple[str, int, str]]:
    """(helper, size, source operand) of every probe_read* call."""
    return re.findall(r"call (probe_read\w*)\([^,]+, (\d+), ([^)]+)\)", ir(text))


def error(text: str, without=frozenset()) -> str:
    try:
        compile_btf(text, without)
    except CompileError as err:
        return err.render()
    raise AssertionError(f"compiled without error: {text!r}")


def map_type(text: str, name: str = "@"):
    return compile_btf(text).map(name)


# -- curtask and member chains ------------------------------------------------------------

def test_curtask_is_a_typed_task_struct_pointer():
    t = map_type("BEGIN { @ = curtask; }").value
    assert isinstance(t, Ptr) and isinstance(t.target, StructRef)
    assert (t.target.name, t.target.size) == ("task_struct", 96)


def test_curtask_without_btf_is_an_integer_like_bpftrace():
    assert map_type("BEGIN { @ = curtask; }", ).value is not None
    script = compile_btf("BEGIN { @ = curtask; }", {Feature.BTF})
    assert script.map("@").value == Int(64, False)


def test_one_read_per_pointer_hop_at_the_summed_offset():
    text = ir("BEGIN { @ = curtask->real_parent->real_parent->tgid; }")
    assert text.count("call get_current_task()") == 1
    assert [(h, n) for h, n, _ in reads("BEGIN { @ = curtask->real_parent->real_parent->tgid; }")
            ] == [("probe_read_kernel", "8"), ("probe_read_kernel", "8"), ("probe_read_kernel", "4")]
    assert "add 16" in text and "add 12" in text


def test_dot_and_arrow_reach_the_same_member():
    assert ir("BEGIN { @ = curtask->real_parent->pid; }") == \
        ir("BEGIN { @ = curtask.real_parent.pid; }")


def test_embedded_structs_and_anonymous_unions_add_offsets_without_reads():
    assert reads("BEGIN { @ = curtask->tasks.prev; }")[0][:2] == ("probe_read_kernel", "8")
    assert "add 64" in ir("BEGIN { @ = curtask->tasks.prev; }")        # 56 + 8
    assert "add 88" in ir("BEGIN { @ = curtask->exit_code; }")         # union member


def test_member_types():
    m = map_type("BEGIN { @ = curtask->pid; }")
    assert m.value == Int(64, True)                    # pid_t widened for the map
    s = compile_btf("BEGIN { @a = curtask->mm; @b = curtask->tasks.next; }")
    assert isinstance(s.map("@a").value.target, StructRef)
    assert s.map("@b").value.target.name == "list_head"


def test_char_arrays_are_strings_read_from_kernel_memory():
    assert map_type("BEGIN { @[curtask->comm] = count(); }").key == Str(16)
    assert reads("BEGIN { @[curtask->comm] = count(); }") == [
        ("probe_read_kernel_str", "16", reads("BEGIN { @[curtask->comm] = count(); }")[0][2])]
    assert map_type('BEGIN { @[str(curtask->real_parent->comm)] = count(); }').key == Str(16)


def test_arrays_index_by_constant_and_by_value():
    assert "add 80" in ir("BEGIN { @ = curtask->counts[2]; }")          # 72 + 2*4
    text = ir("BEGIN { $i = 3; @ = curtask->counts[$i]; }")
    assert "mul 4" in text or "lsh 2" in text


def test_bitfields_are_extracted_and_sign_extended():
    text = ir("BEGIN { @a = curtask->sched_reset_on_fork; @b = curtask->in_iowait; "
              "@c = curtask->nice_bits; }")
    assert "%4 = load8" in text or "load8" in text
    assert re.search(r"= %\d+ and 1\n", text)                          # bit 0
    assert re.search(r"= %\d+ rsh 1\n", text)                          # bit 1
    assert re.search(r"lsh 59\n.*arsh 61\n", text)                     # signed, bits 2..4


def test_enums_keep_their_names_for_printing():
    key = map_type("BEGIN { @[curtask->ptype] = count(); }").key
    assert isinstance(key, CEnum) and key.bits == 64
    assert text_value(key, 1) == "PIDTYPE_TGID" and text_value(key, 7) == "7"


def test_str_of_an_untagged_char_pointer_tries_kernel_then_user():
    text = ir('fentry:do_sys_openat2 { @[str(args->filename)] = count(); }')
    assert "probe_read_kernel_str" in text and "probe_read_user_str" in text


# -- casts, sizeof, offsetof --------------------------------------------------------------

def test_casts_to_kernel_struct_pointers():
    t = map_type("kprobe:vfs_read { @ = (struct task_struct *)arg0; }").value
    assert isinstance(t, Ptr) and t.space is AddrSpace.KERNEL and struct_of(t.target)
    assert map_type("kprobe:vfs_read { @ = ((struct task_struct *)arg0)->tgid; }").value == \
        Int(64, True)
    assert map_type("kprobe:vfs_read { @ = (enum pid_type)arg1; }").value == CEnum(
        64, False, "pid_type", (("PIDTYPE_PID", 0), ("PIDTYPE_TGID", 1), ("PIDTYPE_PGID", 2)))


def test_sizeof_and_offsetof_are_constants_from_btf():
    text = ir("BEGIN { @a = sizeof(struct task_struct); @b = offsetof(struct task_struct, comm);"
              " @c = sizeof(curtask->comm); }")
    assert "= 96\n" in text and "= 24\n" in text and "= 16\n" in text


@pytest.mark.parametrize("script, message", [
    ("BEGIN { @ = (struct nosuch *)0; }",
     "-e:1:14: error: the kernel has no type 'struct nosuch'\n"
     "BEGIN { @ = (struct nosuch *)0; }\n"
     "             ~~~~~~~~~~~~~~~\n"
     "hint: list kernel types with: pytrace -lv 'struct NAME'"),
    ("BEGIN { @ = (struct task_struct)0; }",
     "-e:1:14: error: cannot cast an integer to struct task_struct, only to a pointer to it\n"
     "BEGIN { @ = (struct task_struct)0; }\n"
     "             ~~~~~~~~~~~~~~~~~~\n"
     "hint: write (struct task_struct *)"),
    ("BEGIN { @ = curtask->tgdi; }",
     "-e:1:13: error: struct task_struct has no field 'tgdi'\n"
     "BEGIN { @ = curtask->tgdi; }\n"
     "            ~~~~~~~~~~~~~\n"
     "hint: did you mean 'tgid'?"),
    ("BEGIN { @ = curtask->real_parent->nope->pid; }",
     "-e:1:13: error: struct task_struct has no field 'nope'\n"
     "BEGIN { @ = curtask->real_parent->nope->pid; }\n"
     "            ~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: its fields are: __state, flags, pid, tgid, real_parent, comm, mm, "
     "sched_reset_on_fork, in_iowait, nice_bits, ptype, tasks, …"),
    ("BEGIN { $t = *curtask; }",
     "-e:1:14: error: $t cannot hold a struct task_struct\n"
     "BEGIN { $t = *curtask; }\n"
     "             ~~~~~~~~\n"
     "hint: keep a pointer to it, or one of its fields"),
    ("BEGIN { @ = offsetof(struct task_struct, nope); }",
     "-e:1:13: error: struct task_struct has no field 'nope'\n"
     "BEGIN { @ = offsetof(struct task_struct, nope); }\n"
     "            ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: its fields are: __state, flags, pid, tgid, real_parent, comm, mm, "
     "sched_reset_on_fork, in_iowait, nice_bits, ptype, tasks, …"),
])
def test_mistakes(script, message):
    assert error(script) == message


def test_without_btf_kernel_types_say_so():
    assert error("BEGIN { @ = sizeof(struct task_struct); }", {Feature.BTF}) == (
        "-e:1:20: error: sizeof(struct task_struct) needs kernel type information: this "
        "kernel has no BTF type information (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)\n"
        "BEGIN { @ = sizeof(struct task_struct); }\n"
        "                   ~~~~~~~~~~~~~~~~~~")


def test_struct_types_convert_lazily():
    conv_kernel = btf_kernel()
    from pytrace.lang.kernel_types import converter, lookup
    t = lookup(conv_kernel, "struct list_head")
    assert isinstance(t, Struct)
    nxt = t.field("next").type
    assert isinstance(nxt.target, StructRef) and nxt.target.resolve() is t
    assert converter(conv_kernel) is converter(conv_kernel)
    assert lookup(conv_kernel, "struct list_head", 2) == Ptr(Ptr(nxt.target))
    assert lookup(conv_kernel, "unsigned long") == UINT64
