"""The checker and the compiler's front door (pytrace.compile.compile_ast)
against a fake x86_64 machine (tests/fakes.py): whole rendered error
messages for the mistakes people make, and for scripts that compile, the
maps, events and programs they produce.
"""
import pytest

from pytrace.base.diagnostics import CompileError
from pytrace.lang.kernelinfo import Feature
from pytrace.lang.dump import asm_lines
from pytrace.lang.probes import ProgKind
from pytrace.lang.program import Counter, EventKind, Limits, MapKind
from pytrace.lang.types import (INT64, UINT64, AddrSpace, Agg, AggKind, Int, Ptr, Str,
                                Tuple)
from pytrace.providers import special

from tests.fakes import compile_error, compile_script, fake_kernel


def errors(text, **kwargs):
    """The CompileError's diagnostics (for counting them)."""
    with pytest.raises(CompileError) as info:
        compile_script(text, **kwargs)
    return info.value.diagnostics


# -- the fake machine itself -------------------------------------------------------

def test_fake_kernel_formats_parse():
    kernel = fake_kernel()
    info = kernel.tracepoint("syscalls", "sys_enter_openat")
    assert info.id == 782
    fields = {f.name: (f.offset, f.type) for f in info.args.fields}
    assert fields["filename"] == (24, Ptr(Int(8, True), AddrSpace.USER))
    assert fields["flags"] == (32, Int(64, False))
    switch = kernel.tracepoint("sched", "sched_switch").args
    assert switch.field("prev_comm").type == Str(16)
    assert switch.field("prev_pid").type == Int(32, True)
    assert kernel.list_tracepoints("syscalls:sys_enter_rea?") == [("syscalls", "sys_enter_read")]
    assert kernel.tracepoint("syscalls", "nope") is None


def test_data_loc_char_array_is_a_string():
    args = fake_kernel().tracepoint("sched", "sched_process_exec").args
    f = args.field("filename")
    assert (f.offset, f.data_loc, isinstance(f.type, Str)) == (8, "loc", True)


# -- probes ---------------------------------------------------------------------------

def test_unknown_probe_type():
    assert compile_error("foo:bar { }") == (
        "-e:1:1: error: unknown probe type 'foo'\n"
        "foo:bar { }\n"
        "~~~~~~~\n"
        "hint: probe types: BEGIN, END, fentry (kfunc, f), fexit (kretfunc, fr), "
        "hardware (h), interval (i), kprobe (k), kretprobe (kr), profile (p), "
        "rawtracepoint (rt), software (s), tc, tracepoint (t), uprobe (u), uretprobe (ur), "
        "usdt (U), xdp")


def test_unknown_bare_probe_name():
    assert compile_error("BEGN { }") == (
        "-e:1:1: error: unknown probe type 'BEGN'\n"
        "BEGN { }\n"
        "~~~~\n"
        "hint: did you mean BEGIN?")


@pytest.mark.parametrize("spec,message", [
    ("t:syscalls:sys_enter_opnat",
     "-e:1:1: error: no tracepoint matches syscalls:sys_enter_opnat\n"
     "t:syscalls:sys_enter_opnat { }\n"
     "~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: did you mean syscalls:sys_enter_openat or syscalls:sys_exit_openat or "
     "syscalls:sys_enter_read?"),
    ("t:syscalls:nothing_like_it",
     "-e:1:1: error: no tracepoint matches syscalls:nothing_like_it\n"
     "t:syscalls:nothing_like_it { }\n"
     "~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: list them with: pytrace -l 'tracepoint:syscalls:*'"),
    ("tracepoint:syscals:sys_enter_read",
     "-e:1:1: error: no tracepoint matches syscals:sys_enter_read\n"
     "tracepoint:syscals:sys_enter_read { }\n"
     "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: there is no category 'syscals'; did you mean syscalls?"),
    ("t:nope:x",
     "-e:1:1: error: no tracepoint matches nope:x\n"
     "t:nope:x { }\n"
     "~~~~~~~~\n"
     "hint: there is no category 'nope'; list categories with: pytrace -l 'tracepoint:*'"),
    ("t:syscalls:sys_enter_foo*",
     "-e:1:1: error: no tracepoint matches syscalls:sys_enter_foo*\n"
     "t:syscalls:sys_enter_foo* { }\n"
     "~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: list tracepoints with: pytrace -l 'tracepoint:syscalls:*'"),
    ("t:syscalls",
     "-e:1:1: error: 't:syscalls' is not a tracepoint\n"
     "t:syscalls { }\n"
     "~~~~~~~~~~\n"
     "hint: write tracepoint:CATEGORY:NAME, e.g. tracepoint:syscalls:sys_enter_openat"),
    ("interval:x:1",
     "-e:1:1: error: 'interval:x:1' is not an interval\n"
     "interval:x:1 { }\n"
     "~~~~~~~~~~~~\n"
     "hint: write interval:s:N, interval:ms:N, interval:us:N, interval:hz:N or "
     "interval:1s / interval:500ms"),
])
def test_probe_that_matches_nothing(spec, message):
    assert compile_error(spec + " { }") == message


def test_errors_of_several_probes_are_all_reported():
    assert compile_error("t:syscalls:sys_enter_raed { }\nt:sched:sched_swtch { }") == (
        "-e:1:1: error: no tracepoint matches syscalls:sys_enter_raed\n"
        "t:syscalls:sys_enter_raed { }\n"
        "~~~~~~~~~~~~~~~~~~~~~~~~~\n"
        "hint: did you mean syscalls:sys_enter_read or syscalls:sys_enter_write or "
        "syscalls:sys_enter_getppid?\n"
        "-e:2:1: error: no tracepoint matches sched:sched_swtch\n"
        "t:sched:sched_swtch { }\n"
        "~~~~~~~~~~~~~~~~~~~\n"
        "hint: did you mean sched:sched_switch?")


def test_too_many_probes():
    assert compile_error("t:syscalls:* { }", limits=Limits(max_probes=3)) == (
        "-e:1:1: error: the script attaches to 9 probes; the limit is 3\n"
        "t:syscalls:* { }\n"
        "~~~~~~~~~~~~~~~~\n"
        "hint: narrow the wildcard, or raise the limit with PYTRACE_MAX_PROBES")


# -- names -------------------------------------------------------------------------------

def test_unknown_field_with_a_near_name():
    assert compile_error("t:syscalls:sys_enter_read { @ = args->cnt; }") == (
        "-e:1:33: error: tracepoint syscalls:sys_enter_read has no field 'cnt'\n"
        "t:syscalls:sys_enter_read { @ = args->cnt; }\n"
        "                                ~~~~~~~~~\n"
        "hint: did you mean 'count'?")


def test_unknown_field_lists_the_fields():
    assert compile_error("t:syscalls:sys_enter_read { @ = args->xyzzy; }") == (
        "-e:1:33: error: tracepoint syscalls:sys_enter_read has no field 'xyzzy'\n"
        "t:syscalls:sys_enter_read { @ = args->xyzzy; }\n"
        "                                ~~~~~~~~~~~\n"
        "hint: its fields are: __syscall_nr, fd, buf, count")


def test_unknown_field_under_a_wildcard_is_reported_once():
    assert len(errors("t:syscalls:sys_enter_* { @[args->fd] = count(); }")) == 1


def test_field_of_an_integer():
    assert compile_error("t:syscalls:sys_enter_read { @x = args->count->foo; }") == (
        "-e:1:34: error: '->foo' needs a struct, not an integer\n"
        "t:syscalls:sys_enter_read { @x = args->count->foo; }\n"
        "                                 ~~~~~~~~~~~~~~~~")


def test_args_where_there_are_none():
    assert compile_error("BEGIN { printf(\"%d\\n\", args->x); }") == (
        "-e:1:24: error: BEGIN has no 'args'\n"
        'BEGIN { printf("%d\\n", args->x); }\n'
        "                       ~~~~")


def test_args_where_there_are_none_is_one_error():
    assert compile_error("BEGIN { @x = args; }") == (
        "-e:1:14: error: BEGIN has no 'args'\n"
        "BEGIN { @x = args; }\n"
        "             ~~~~")


def test_unknown_function():
    # issue 10 item 11: a hint about variables is not true of a call
    assert compile_error("BEGIN { @ = foo(1); }") == (
        "-e:1:13: error: unknown function foo()\n"
        "BEGIN { @ = foo(1); }\n"
        "            ~~~\n"
        "hint: pytrace -l builtins lists the functions there are")


def test_unknown_function_near_a_builtin():
    assert compile_error('BEGIN { prinf("x"); }') == (
        "-e:1:9: error: unknown function prinf()\n"
        'BEGIN { prinf("x"); }\n'
        "        ~~~~~\n"
        "hint: did you mean 'printf'?")


def test_unknown_variable():
    assert compile_error("BEGIN { @ = pidd; }") == (
        "-e:1:13: error: unknown name 'pidd'\n"
        "BEGIN { @ = pidd; }\n"
        "            ~~~~\n"
        "hint: did you mean 'pid'?")


def test_function_used_as_a_variable():
    assert compile_error("BEGIN { printf; }") == (
        "-e:1:9: error: printf is a function: call it as printf()\n"
        "BEGIN { printf; }\n"
        "        ~~~~~~")


def test_retval_outside_return_probes():
    assert compile_error("BEGIN { @x = retval; }") == (
        "-e:1:14: error: 'retval' is not available in this probe type\n"
        "BEGIN { @x = retval; }\n"
        "             ~~~~~~\n"
        "hint: retval exists in return probes (kretprobe, uretprobe, fexit); argN in "
        "kprobes, uprobes and raw tracepoints")


def test_cpid_without_a_command():
    assert compile_error("BEGIN { @x = cpid; }") == (
        "-e:1:14: error: cpid is the pid of the command started with -c (or given with -p), "
        "and there is none\n"
        "BEGIN { @x = cpid; }\n"
        "             ~~~~\n"
        "hint: run with -c CMD or -p PID, or use pid")


def test_cpid_with_a_command():
    script = compile_script("BEGIN { @x = cpid; }", constants={"cpid": 4242})
    assert any(line.endswith(": *(u64 *)(r10 -8) = 4242") for line in asm_lines(script.probes[0]))


def test_jiffies_needs_linux_5_5():
    """bpf_jiffies64 has no feature probe: the kernel's version decides."""
    from pytrace.base.record import replace
    from pytrace.compile import compile_ast
    from pytrace.lang.parser import parse
    from pytrace.providers import resolvers
    text = "BEGIN { @ = jiffies; }"
    old = replace(fake_kernel(), version=(5, 4, 0))
    with pytest.raises(CompileError) as info:
        compile_ast(parse(text, "-e"), old, resolvers())
    assert info.value.render() == (
        "-e:1:13: error: jiffies needs bpf_jiffies64 (Linux 5.5), which this kernel lacks\n"
        "BEGIN { @ = jiffies; }\n"
        "            ~~~~~~~")
    # a masked feature does not hide it (it used to stand in for the version)
    compile_script(text, without={Feature.PROBE_READ_USER})
    compile_ast(parse(text, "-e"), replace(fake_kernel(), version=(5, 5, 0)), resolvers())


# -- variables ---------------------------------------------------------------------------

def test_variable_used_before_assignment():
    assert compile_error("BEGIN { @ = $y; }") == (
        "-e:1:13: error: $y is used before it is assigned\n"
        "BEGIN { @ = $y; }\n"
        "            ~~\n"
        "hint: assign it first: $y = …;")


def test_variable_incremented_before_assignment():
    assert compile_error("BEGIN { $x++; }") == (
        "-e:1:9: error: $x is used before it is assigned\n"
        "BEGIN { $x++; }\n"
        "        ~~\n"
        "hint: assign it first: $x = 0;")


def test_variables_belong_to_one_probe():
    assert compile_error("BEGIN { $x = 1; }\nEND { @ = $x; }") == (
        "-e:2:11: error: $x is used before it is assigned\n"
        "END { @ = $x; }\n"
        "          ~~\n"
        "hint: assign it first: $x = …;")


def test_variable_cannot_change_kind():
    assert compile_error('BEGIN { $x = 1; $x = "a"; }') == (
        "-e:1:22: error: $x holds an integer; it cannot also hold a string\n"
        'BEGIN { $x = 1; $x = "a"; }\n'
        "                     ~~~\n"
        "hint: use another variable for the other value")


# -- types --------------------------------------------------------------------------------

def test_adding_a_string_and_an_integer():
    # the example of the design card
    assert compile_error('BEGIN { $x = "a" + 1; }') == (
        "-e:1:14: error: '+' needs two integers, not a string and an integer\n"
        'BEGIN { $x = "a" + 1; }\n'
        "             ~~~~~~~\n"
        'hint: strings cannot be added; print them together with printf("%s%d", …)')


@pytest.mark.parametrize("text,message", [
    ("BEGIN { exit(\"a\"); }",
     "-e:1:14: error: the exit code must be an integer, not a string\n"
     'BEGIN { exit("a"); }\n'
     "             ~~~"),
    ("BEGIN { @x = sum(comm); }",
     "-e:1:18: error: sum()'s value must be an integer, not a string\n"
     "BEGIN { @x = sum(comm); }\n"
     "                 ~~~~"),
    ("BEGIN { @x = -comm; }",
     "-e:1:14: error: '-' needs an integer, not a string\n"
     "BEGIN { @x = -comm; }\n"
     "             ~~~~~"),
    ("BEGIN { @x = (uint8)comm; }",
     "-e:1:14: error: cannot cast a string to uint8\n"
     "BEGIN { @x = (uint8)comm; }\n"
     "             ~~~~~~~~~~~"),
    ("BEGIN { if (comm) { } }",
     "-e:1:13: error: a condition must be an integer, not a string\n"
     "BEGIN { if (comm) { } }\n"
     "            ~~~~\n"
     'hint: compare strings explicitly, e.g. comm == "bash"'),
    ('BEGIN { @x = pid == "a"; }',
     "-e:1:14: error: '==' compares two strings or two integers, not an integer and a string\n"
     'BEGIN { @x = pid == "a"; }\n'
     "             ~~~~~~~~~~\n"
     "hint: strings compare only with strings; integers only with integers"),
    ("t:syscalls:sys_enter_read /comm/ { }",
     "-e:1:28: error: a predicate must be an integer condition, not a string\n"
     "t:syscalls:sys_enter_read /comm/ { }\n"
     "                           ~~~~"),
    ('BEGIN { @x = 1 ? 2 : "a"; }',
     "-e:1:14: error: both branches of '?:' must have the same kind of value, not an "
     "integer and a string\n"
     'BEGIN { @x = 1 ? 2 : "a"; }\n'
     "             ~~~~~~~~~~~"),
    ("BEGIN { $x = 1; $x += comm; }",
     "-e:1:23: error: '+=' needs an integer on the right, not a string\n"
     "BEGIN { $x = 1; $x += comm; }\n"
     "                      ~~~~"),
    ("BEGIN { @s = comm; @s++; }",
     "-e:1:20: error: '+=' needs an integer map, but @s holds a string\n"
     "BEGIN { @s = comm; @s++; }\n"
     "                   ~~"),
    ("BEGIN { @x = *1; }",
     "-e:1:14: error: '*' needs a pointer, not an integer\n"
     "BEGIN { @x = *1; }\n"
     "             ~~"),
    ("BEGIN { @x = &pid; }",
     "-e:1:14: error: '&' (address of) is not supported\n"
     "BEGIN { @x = &pid; }\n"
     "             ~~~~"),
    ("BEGIN { @x = 18446744073709551616; }",
     "-e:1:14: error: integer literal does not fit in 64 bits\n"
     "BEGIN { @x = 18446744073709551616; }\n"
     "             ~~~~~~~~~~~~~~~~~~~~"),
    ("BEGIN { @x = (struct task_struct *)0; }",
     "-e:1:15: error: cannot cast to struct task_struct *: this kernel has no BTF type "
     "information (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)\n"
     "BEGIN { @x = (struct task_struct *)0; }\n"
     "              ~~~~~~~~~~~~~~~~~~~~\n"
     "hint: read the value as an integer, or use tracepoints whose fields are typed"),
    ('BEGIN { $t = (1, "a"); @x = $t.2; }',
     "-e:1:29: error: the tuple has 2 elements; .2 is past the end\n"
     'BEGIN { $t = (1, "a"); @x = $t.2; }\n'
     "                            ~~~~"),
    ('BEGIN { $t = (1, "a"); @x = $t.a; }',
     "-e:1:29: error: tuple elements are read by position: t.0, t.1, …\n"
     'BEGIN { $t = (1, "a"); @x = $t.a; }\n'
     "                            ~~~~"),
    ("BEGIN { pid; }",
     "-e:1:9: error: this expression has no effect\n"
     "BEGIN { pid; }\n"
     "        ~~~\n"
     "hint: print it with printf() or print(), or store it in a map"),
    ("t:syscalls:sys_enter_read { @x = args; }",
     "-e:1:34: error: cannot store a struct tracepoint syscalls:sys_enter_read in a map\n"
     "t:syscalls:sys_enter_read { @x = args; }\n"
     "                                 ~~~~\n"
     "hint: store one of its fields instead\n"
     "-e:1:29: error: map @x is used but never assigned a value\n"
     "t:syscalls:sys_enter_read { @x = args; }\n"
     "                            ~~\n"
     "hint: assign it first, e.g. @x = count() or @x[key] = value"),
    ("BEGIN { for ($kv : @m) { } }",
     "-e:1:9: error: for loops over maps are not supported yet\n"
     "BEGIN { for ($kv : @m) { } }\n"
     "        ~~~~~~~~~~~~~~~~~~\n"
     "hint: print the map with print() instead"),
])
def test_type_errors(text, message):
    assert compile_error(text) == message


def test_floating_point_number():
    assert compile_error("BEGIN { $x = 1.5; }") == (
        "-e:1:14: error: floating-point numbers are not supported\n"
        "BEGIN { $x = 1.5; }\n"
        "             ~~~\n"
        "hint: the language has integers only")


# -- maps -------------------------------------------------------------------------------------

def test_map_with_different_key_types():
    assert compile_error('BEGIN { @x[1] = 1; @x["a"] = 2; }') == (
        "-e:1:20: error: @x is keyed by integer elsewhere, not string\n"
        'BEGIN { @x[1] = 1; @x["a"] = 2; }\n'
        "                   ~~~~~~~\n"
        "-e:1:9: note: @x first keyed here\n"
        'BEGIN { @x[1] = 1; @x["a"] = 2; }\n'
        "        ~~~~~")


def test_map_with_different_key_types_in_two_probes():
    assert compile_error("t:syscalls:sys_enter_read {\n  @[args->fd] = count();\n}\n"
                         "t:syscalls:sys_enter_write {\n  @[comm] = count();\n}") == (
        "-e:5:3: error: @ is keyed by integer elsewhere, not string\n"
        "  @[comm] = count();\n"
        "  ~~~~~~~\n"
        "-e:2:3: note: @ first keyed here\n"
        "  @[args->fd] = count();\n"
        "  ~~~~~~~~~~~")


def test_map_with_different_key_counts():
    assert compile_error('BEGIN { @x[comm] = 1; @y = @x["a", 1]; }') == (
        "-e:1:28: error: @x is keyed by string elsewhere, not (string, integer)\n"
        'BEGIN { @x[comm] = 1; @y = @x["a", 1]; }\n'
        "                           ~~~~~~~~~~\n"
        "-e:1:9: note: @x first keyed here\n"
        'BEGIN { @x[comm] = 1; @y = @x["a", 1]; }\n'
        "        ~~~~~~~~")


def test_map_with_and_without_keys():
    assert compile_error("BEGIN { @x = 1; @x[1] = 2; }") == (
        "-e:1:17: error: @x is used without keys elsewhere; every use of a map needs the "
        "same keys\n"
        "BEGIN { @x = 1; @x[1] = 2; }\n"
        "                ~~~~~\n"
        "-e:1:9: note: @x first used here\n"
        "BEGIN { @x = 1; @x[1] = 2; }\n"
        "        ~~")


def test_map_with_different_value_types():
    assert compile_error('BEGIN { @x = 1; @x = "a"; }') == (
        "-e:1:22: error: @x already holds an integer; it cannot also hold a string\n"
        'BEGIN { @x = 1; @x = "a"; }\n'
        "                     ~~~\n"
        "hint: use another map for the other value\n"
        "-e:1:14: note: @x first assigned here\n"
        'BEGIN { @x = 1; @x = "a"; }\n'
        "             ~")


def test_map_with_different_aggregations():
    assert compile_error("BEGIN { @x = count(); @x = sum(1); }") == (
        "-e:1:28: error: @x already holds count() values; it cannot also hold sum() values\n"
        "BEGIN { @x = count(); @x = sum(1); }\n"
        "                           ~~~~~~\n"
        "-e:1:14: note: @x first assigned here\n"
        "BEGIN { @x = count(); @x = sum(1); }\n"
        "             ~~~~~~~")


def test_map_with_a_value_then_an_aggregation():
    assert compile_error("BEGIN { @x = 1; @x = count(); }") == (
        "-e:1:22: error: @x already holds integers; it cannot also hold count() values\n"
        "BEGIN { @x = 1; @x = count(); }\n"
        "                     ~~~~~~~\n"
        "-e:1:14: note: @x first assigned here\n"
        "BEGIN { @x = 1; @x = count(); }\n"
        "             ~")


def test_map_with_different_tuple_values_names_them():
    message = compile_error('BEGIN { @x = (1, 2); @x = (1, "a"); }')
    assert "(integer, integer)" in message and "(integer, string)" in message


def test_map_read_but_never_assigned():
    assert compile_error("BEGIN { @x = 1; } END { @y = @z; }") == (
        "-e:1:30: error: map @z is used but never assigned a value\n"
        "BEGIN { @x = 1; } END { @y = @z; }\n"
        "                             ~~\n"
        "hint: assign it first, e.g. @z = count() or @z[key] = value")


def test_aggregation_not_assigned_to_a_map():
    assert compile_error("BEGIN { count(); $x = count(); }") == (
        "-e:1:9: error: count() must be assigned to a map\n"
        "BEGIN { count(); $x = count(); }\n"
        "        ~~~~~~~\n"
        "hint: write @name = count(…)\n"
        "-e:1:23: error: count() must be assigned to a map\n"
        "BEGIN { count(); $x = count(); }\n"
        "                      ~~~~~~~\n"
        "hint: write @name = count(…)")


def test_histogram_cannot_be_read():
    assert compile_error("BEGIN { @[1] = hist(5); @y = @[1]; }") == (
        "-e:1:30: error: the value of histogram @ cannot be read in a probe\n"
        "BEGIN { @[1] = hist(5); @y = @[1]; }\n"
        "                             ~~~~\n"
        "hint: print it with print(@)")


def test_reading_a_count_needs_percpu_lookup():
    assert compile_error("BEGIN { @x = count(); @y = @x; }",
                         without={Feature.PERCPU_LOOKUP}) == (
        "-e:1:28: error: reading count() map @x in a probe needs bpf_map_lookup_percpu_elem "
        "(Linux 5.19), which this kernel lacks\n"
        "BEGIN { @x = count(); @y = @x; }\n"
        "                           ~~\n"
        "hint: print the map instead, or keep a plain counter: @x++ instead of @x = count()")


@pytest.mark.parametrize("text,message", [
    ("BEGIN { @x = count(); clear(@x[1]); }",
     "-e:1:29: error: clear() takes a whole map, without keys\n"
     "BEGIN { @x = count(); clear(@x[1]); }\n"
     "                            ~~~~~\n"
     "hint: to remove one key use delete(@map[key])"),
    ("BEGIN { clear(1); }",
     "-e:1:15: error: clear()'s argument must be a map (@name)\n"
     "BEGIN { clear(1); }\n"
     "              ~"),
    ("BEGIN { print(@x); }",
     "-e:1:15: error: map @x is used but never assigned a value\n"
     "BEGIN { print(@x); }\n"
     "              ~~\n"
     "hint: assign it first, e.g. @x = count() or @x[key] = value"),
    ("BEGIN { @x = 1; print(@x, $y); }",
     "-e:1:27: error: print(@map, top, div): top and div must be constant integers\n"
     "BEGIN { @x = 1; print(@x, $y); }\n"
     "                          ~~\n"
     "-e:1:27: error: $y is used before it is assigned\n"
     "BEGIN { @x = 1; print(@x, $y); }\n"
     "                          ~~\n"
     "hint: assign it first: $y = …;"),
])
def test_map_functions(text, message):
    assert compile_error(text) == message


# -- calls ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("BEGIN { @x = count(1); }",
     "-e:1:14: error: count() takes 0 arguments, 1 given\n"
     "BEGIN { @x = count(1); }\n"
     "             ~~~~~~~~\n"
     "hint: usage: count()"),
    ("BEGIN { @x = lhist(1, 0, 10); }",
     "-e:1:14: error: lhist() takes 4 arguments, 3 given\n"
     "BEGIN { @x = lhist(1, 0, 10); }\n"
     "             ~~~~~~~~~~~~~~~\n"
     "hint: usage: lhist(n, min, max, step)"),
    ("BEGIN { @x = hist(); }",
     "-e:1:14: error: hist() takes 1 to 2 arguments, 0 given\n"
     "BEGIN { @x = hist(); }\n"
     "             ~~~~~~\n"
     "hint: usage: hist(n[, bits])"),
    ("BEGIN { @x = str(comm, 0); }",
     "-e:1:24: error: str()'s length must be positive\n"
     "BEGIN { @x = str(comm, 0); }\n"
     "                       ~"),
    ("BEGIN { @ = str(comm, 1, 2); }",
     "-e:1:13: error: str() takes 1 to 2 arguments, 3 given\n"
     "BEGIN { @ = str(comm, 1, 2); }\n"
     "            ~~~~~~~~~~~~~~~\n"
     "hint: usage: str(ptr[, length])"),
])
def test_wrong_number_of_arguments(text, message):
    assert compile_error(text) == message


def test_wrong_number_of_arguments_with_an_optional_one():
    assert compile_error("BEGIN { exit(1, 2); }") == (
        "-e:1:9: error: exit() takes at most 1 argument, 2 given\n"
        "BEGIN { exit(1, 2); }\n"
        "        ~~~~~~~~~~\n"
        "hint: usage: exit([code])")


# -- printf ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ('BEGIN { printf("%d %d\\n", 1); }',
     "-e:1:9: error: printf: the format has 2 conversions but 1 argument was given\n"
     'BEGIN { printf("%d %d\\n", 1); }\n'
     "        ~~~~~~~~~~~~~~~~~~~~\n"
     "hint: give one argument per %-conversion (write %% for a literal %)"),
    ('BEGIN { printf("%d\\n"); }',
     "-e:1:9: error: printf: the format has 1 conversion but 0 arguments were given\n"
     'BEGIN { printf("%d\\n"); }\n'
     "        ~~~~~~~~~~~~~~\n"
     "hint: give one argument per %-conversion (write %% for a literal %)"),
    ('BEGIN { printf("%s\\n", comm, pid, 1); }',
     "-e:1:9: error: printf: the format has 1 conversion but 3 arguments were given\n"
     'BEGIN { printf("%s\\n", comm, pid, 1); }\n'
     "        ~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: give one argument per %-conversion (write %% for a literal %)"),
    # %q is no conversion, as in bpftrace 0.17 ("Too many arguments for format string")
    ('BEGIN { printf("%q\\n", 1); }',
     "-e:1:9: error: printf: the format has 0 conversions but 1 argument was given\n"
     'BEGIN { printf("%q\\n", 1); }\n'
     "        ~~~~~~~~~~~~~~~~~\n"
     "hint: give one argument per %-conversion (write %% for a literal %)"),
    ('BEGIN { printf("%d\\n", "a"); }',
     "-e:1:24: error: printf: %d needs an integer, but this is a string\n"
     'BEGIN { printf("%d\\n", "a"); }\n'
     "                       ~~~\n"
     "hint: use %s for strings"),
    ('BEGIN { printf("%s\\n", 1); }',
     "-e:1:24: error: printf: %s needs a string, but this is an integer\n"
     'BEGIN { printf("%s\\n", 1); }\n'
     "                       ~\n"
     "hint: use %d for integers, or str(ptr) to read a string from a pointer"),
    ('BEGIN { printf("%d\\n", (1, 2)); }',
     "-e:1:24: error: printf: %d needs an integer, but this is a tuple\n"
     'BEGIN { printf("%d\\n", (1, 2)); }\n'
     "                       ~~~~~~"),
    ("BEGIN { printf(comm); }",
     "-e:1:9: error: printf() needs a format string literal first\n"
     "BEGIN { printf(comm); }\n"
     "        ~~~~~~~~~~~~\n"
     'hint: e.g. printf("%s %d\\n", comm, pid)'),
    ("t:syscalls:sys_enter_openat { printf(\"%s\\n\", args->filename); }",
     "-e:1:46: error: printf: %s needs a string, but this is an integer\n"
     't:syscalls:sys_enter_openat { printf("%s\\n", args->filename); }\n'
     "                                             ~~~~~~~~~~~~~~\n"
     "hint: use %d for integers, or str(ptr) to read a string from a pointer"),
])
def test_printf_errors(text, message):
    assert compile_error(text) == message


def test_printf_argument_limit():
    assert compile_error('BEGIN { printf("%d %d %d\\n", 1, 2, 3); }',
                         limits=Limits(max_printf_args=2)) == (
        "-e:1:9: error: printf() takes at most 2 arguments\n"
        'BEGIN { printf("%d %d %d\\n", 1, 2, 3); }\n'
        "        ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
        "hint: raise the limit with config = { max_printf_args = N }")


def test_storing_a_statement_is_one_error():
    assert compile_error('BEGIN { @x = printf("a"); }') == (
        "-e:1:14: error: printf() returns no value to store\n"
        'BEGIN { @x = printf("a"); }\n'
        "             ~~~~~~~~~~~")


# -- constants ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("BEGIN { @x = 1 / 0; }",
     "-e:1:18: error: division by zero\n"
     "BEGIN { @x = 1 / 0; }\n"
     "                 ~"),
    ("BEGIN { $y = 3; @x = $y % 0; }",
     "-e:1:27: error: division by zero\n"
     "BEGIN { $y = 3; @x = $y % 0; }\n"
     "                          ~"),
    ("BEGIN { $x = 5; $x %= 0; }",
     "-e:1:23: error: division by zero\n"
     "BEGIN { $x = 5; $x %= 0; }\n"
     "                      ~"),
    ("BEGIN { @x[1] /= 0; }",
     "-e:1:18: error: division by zero\n"
     "BEGIN { @x[1] /= 0; }\n"
     "                 ~"),
])
def test_division_by_constant_zero(text, message):
    assert compile_error(text) == message


def test_division_by_a_zero_parameter():
    assert compile_error("BEGIN { @x = 10 / $1; }", params=["0"]) == (
        "-e:1:19: error: division by zero\n"
        "BEGIN { @x = 10 / $1; }\n"
        "                  ~~")


@pytest.mark.parametrize("text,message", [
    ("BEGIN { @x = hist(1, 6); }",
     "-e:1:22: error: hist()'s second argument (bits per power of two) must be a constant "
     "from 0 to 5\n"
     "BEGIN { @x = hist(1, 6); }\n"
     "                     ~"),
    ("BEGIN { @x = hist(1, -1); }",
     "-e:1:22: error: hist()'s second argument (bits per power of two) must be a constant "
     "from 0 to 5\n"
     "BEGIN { @x = hist(1, -1); }\n"
     "                     ~~"),
    ("BEGIN { $b = 2; @x = hist(1, $b); }",
     "-e:1:30: error: hist()'s second argument (bits per power of two) must be a constant "
     "from 0 to 5\n"
     "BEGIN { $b = 2; @x = hist(1, $b); }\n"
     "                             ~~"),
])
def test_hist_bits_out_of_range(text, message):
    assert compile_error(text) == message


@pytest.mark.parametrize("text,message", [
    ("BEGIN { @x = lhist(1, 10, 0, 1); }",
     "-e:1:27: error: lhist()'s max must be greater than its min\n"
     "BEGIN { @x = lhist(1, 10, 0, 1); }\n"
     "                          ~"),
    ("BEGIN { @x = lhist(1, 0, 10, 0); }",
     "-e:1:30: error: lhist()'s step must be positive\n"
     "BEGIN { @x = lhist(1, 0, 10, 0); }\n"
     "                             ~"),
    ("BEGIN { @x = lhist(1, 0, 100000, 1); }",
     "-e:1:14: error: lhist() would have 100000 buckets; at most 1000\n"
     "BEGIN { @x = lhist(1, 0, 100000, 1); }\n"
     "             ~~~~~~~~~~~~~~~~~~~~~~\n"
     "hint: use a larger step"),
    ("BEGIN { $lo = 0; @x = lhist(1, $lo, 10, 1); }",
     "-e:1:32: error: lhist()'s min, max and step must be constant integers\n"
     "BEGIN { $lo = 0; @x = lhist(1, $lo, 10, 1); }\n"
     "                               ~~~"),
])
def test_lhist_bad_parameters(text, message):
    assert compile_error(text) == message


@pytest.mark.parametrize("text,message", [
    ("BEGIN { unroll(0) { } }",
     "-e:1:16: error: unroll needs a constant count from 1 to 100\n"
     "BEGIN { unroll(0) { } }\n"
     "               ~"),
    ("BEGIN { unroll(101) { } }",
     "-e:1:16: error: unroll needs a constant count from 1 to 100\n"
     "BEGIN { unroll(101) { } }\n"
     "               ~~~"),
])
def test_unroll_count(text, message):
    assert compile_error(text) == message


# -- loops ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("BEGIN { break; }",
     "-e:1:9: error: 'break' outside a loop\n"
     "BEGIN { break; }\n"
     "        ~~~~~"),
    ("BEGIN { if (1) { continue; } }",
     "-e:1:18: error: 'continue' outside a loop\n"
     "BEGIN { if (1) { continue; } }\n"
     "                 ~~~~~~~~"),
    ("BEGIN { unroll(2) { break; } }",
     "-e:1:21: error: 'break' outside a loop\n"
     "BEGIN { unroll(2) { break; } }\n"
     "                    ~~~~~"),
])
def test_break_and_continue_outside_a_loop(text, message):
    assert compile_error(text) == message


def test_while_needs_bounded_loops():
    message = compile_error("BEGIN { $i = 0; while ($i < 3) { $i++; } }",
                            without={Feature.BOUNDED_LOOPS})
    assert "while" in message and "5.3" in message


# -- config ----------------------------------------------------------------------------------

def test_unknown_config_setting():
    assert compile_error("config = { max_strln = 5 } BEGIN { }") == (
        "-e:1:12: error: unknown config setting 'max_strln'\n"
        "config = { max_strln = 5 } BEGIN { }\n"
        "           ~~~~~~~~~~~~~\n"
        "hint: known settings: max_map_keys, max_printf_args, max_probes, max_strlen, missing_probes, "
        "perf_rb_pages, ringbuf_size, stack_mode")


def test_config_setting_of_the_wrong_kind():
    assert compile_error('config = { max_strlen = "a" } BEGIN { }') == (
        "-e:1:12: error: max_strlen takes a number\n"
        'config = { max_strlen = "a" } BEGIN { }\n'
        "           ~~~~~~~~~~~~~~~~")


def test_string_literal_longer_than_max_strlen():
    assert compile_error('config = { max_strlen = 4 } BEGIN { @ = "abcd"; }') == (
        "-e:1:41: error: string literal is longer than the string limit (4 bytes)\n"
        'config = { max_strlen = 4 } BEGIN { @ = "abcd"; }\n'
        "                                        ~~~~~~\n"
        "hint: raise it with config = { max_strlen = N } or PYTRACE_MAX_STRLEN")


# -- not yet implemented: a traceback is never acceptable ------------------------------------------

def test_indexing_a_char_array_compiles():
    script = compile_script("t:sched:sched_switch { @[args->prev_comm[0]] = count(); }")
    assert script.map("@").key == Int(64, True)


def test_indexing_a_user_pointer_compiles():
    script = compile_script("t:syscalls:sys_enter_read { @ = args->buf[1]; }")
    assert script.map("@").value == Int(64, True)


def test_dereferencing_a_user_pointer_compiles():
    script = compile_script("t:syscalls:sys_enter_read { @ = *args->buf; }")
    assert script.map("@").value == Int(64, True)


def test_printing_a_data_loc_string():
    script = compile_script('t:sched:sched_process_exec { printf("%s\\n", args->filename); }')
    (event,) = [e for e in script.events if e.kind is EventKind.PRINTF]
    assert isinstance(event.args.elems[0], Str)


# -- successful compiles: maps -------------------------------------------------------------------

def spec(script, name):
    m = script.map(name)
    return m.kind, m.key_size, m.value_size, m.key, m.value


def test_count_by_comm():
    script = compile_script("t:syscalls:sys_enter_read { @[comm] = count(); }")
    assert spec(script, "@") == (MapKind.PERCPU_HASH, 16, 8, Str(16), Agg(AggKind.COUNT, ()))
    assert script.map("@").max_entries == 4096 and script.map("@").user
    assert [m.name for m in script.user_maps] == ["@"]


def test_aggregation_maps():
    script = compile_script(
        "t:syscalls:sys_enter_read { @s = sum(args->count); @a[pid] = avg(args->count); "
        "@mn = min(args->count); @mx = max(args->count); @st = stats(args->count); "
        "@h = hist(args->count); @h2[comm] = hist(args->count, 3); "
        "@l[comm] = lhist(args->count, 0, 100, 10); }")
    assert spec(script, "@s") == (MapKind.PERCPU_HASH, 8, 8, None, Agg(AggKind.SUM, ()))
    assert spec(script, "@a") == (MapKind.PERCPU_HASH, 8, 16, UINT64, Agg(AggKind.AVG, ()))
    assert spec(script, "@mn") == (MapKind.PERCPU_HASH, 8, 16, None, Agg(AggKind.MIN, ()))
    assert spec(script, "@mx") == (MapKind.PERCPU_HASH, 8, 16, None, Agg(AggKind.MAX, ()))
    assert spec(script, "@st") == (MapKind.PERCPU_HASH, 8, 16, None, Agg(AggKind.STATS, ()))
    # histograms keep the bucket as the key's last u64
    assert spec(script, "@h") == (MapKind.PERCPU_HASH, 8, 8, None, Agg(AggKind.HIST, (0,)))
    assert spec(script, "@h2") == (MapKind.PERCPU_HASH, 24, 8, Str(16), Agg(AggKind.HIST, (3,)))
    assert spec(script, "@l") == (MapKind.PERCPU_HASH, 24, 8, Str(16),
                                  Agg(AggKind.LHIST, (0, 100, 10)))


def test_plain_value_maps():
    script = compile_script(
        'BEGIN { @i = 1; @n = -1; @u = (uint8)1; @p = pid; @s = "abc"; @c = comm; '
        '@t[1, "x"] = (pid, comm); @k[pid, comm] = 1; }')
    assert spec(script, "@i") == (MapKind.HASH, 8, 8, None, INT64)
    assert spec(script, "@n") == (MapKind.HASH, 8, 8, None, INT64)
    assert spec(script, "@u") == (MapKind.HASH, 8, 8, None, UINT64)
    assert spec(script, "@p") == (MapKind.HASH, 8, 8, None, UINT64)
    assert spec(script, "@s") == (MapKind.HASH, 8, 4, None, Str(4))
    assert spec(script, "@c") == (MapKind.HASH, 8, 16, None, Str(16))
    assert spec(script, "@t") == (MapKind.HASH, 16, 24, Tuple((INT64, Str(2))),
                                  Tuple((UINT64, Str(16))))
    assert spec(script, "@k") == (MapKind.HASH, 24, 8, Tuple((UINT64, Str(16))), INT64)


def test_map_types_merge_across_probes():
    # a map may be read before the probe that assigns it; strings widen to the longest
    script = compile_script('BEGIN { @y = @x + 1; @s = "a"; } END { @x = 1; @s = comm; }')
    assert spec(script, "@x") == (MapKind.HASH, 8, 8, None, INT64)
    assert spec(script, "@s") == (MapKind.HASH, 8, 16, None, Str(16))


def test_config_block_sets_limits():
    script = compile_script("config = { max_map_keys = 100; max_strlen = 64 }\n"
                            "t:syscalls:sys_enter_openat { @[str(args->filename)] = count(); }")
    assert spec(script, "@") == (MapKind.PERCPU_HASH, 64, 8, Str(64), Agg(AggKind.COUNT, ()))
    assert script.map("@").max_entries == 100
    assert (script.limits.max_map_keys, script.limits.max_strlen) == (100, 64)


def test_tracepoint_fields_as_keys():
    script = compile_script("t:sched:sched_switch { @[args->prev_comm, args->prev_pid] = "
                            "count(); }")
    assert spec(script, "@") == (MapKind.PERCPU_HASH, 24, 8, Tuple((Str(16), INT64)),
                                 Agg(AggKind.COUNT, ()))


def test_internal_maps_and_counters():
    script = compile_script('BEGIN { @x = 1; printf("%d\\n", 1); }')
    events = script.map("events")
    assert (events.kind, events.max_entries, events.user) == (MapKind.RINGBUF, 4 << 20, False)
    counters = script.map("counters")
    assert (counters.kind, counters.key_size, counters.value_size, counters.max_entries) == (
        MapKind.ARRAY, 4, 16, 1)
    assert [(c.index, c.kind, c.map) for c in script.counters] == [
        (0, Counter.MAP_FULL, "@x"), (1, Counter.LOST_EVENTS, "")]


@pytest.mark.parametrize("src, size", [
    ("BEGIN { exit(); }", 64 << 10),                       # only exit(): a small ring
    ("t:sched:sched_switch { @ = count(); } interval:s:1 { exit(); }", 64 << 10),
    ("config = { ringbuf_size = 8192 } BEGIN { exit(); }", 8192),   # a smaller one is kept
    ('BEGIN { printf("x\\n"); exit(); }', 4 << 20),         # printf: room for a burst
    ("t:sched:sched_switch { print(@x); } BEGIN { @x = 1; exit(); }", 4 << 20),
])
def test_ring_size_follows_the_records(src, size):
    assert compile_script(src).map("events").max_entries == size


def test_perf_buffer_without_ringbuf():
    script = compile_script('BEGIN { printf("hi\\n"); }', without={Feature.RINGBUF})
    events = script.map("events")
    assert (events.kind, events.key_size, events.value_size, events.max_entries) == (
        MapKind.PERF_EVENT_ARRAY, 4, 4, 4)


def test_big_buffers_go_to_scratch():
    script = compile_script("t:syscalls:sys_enter_openat { printf(\"%s %s\\n\", "
                            "str(args->filename), comm); @[str(args->filename)] = count(); }",
                            without={Feature.RINGBUF})
    scratch = script.map("scratch")
    assert (scratch.kind, scratch.key_size, scratch.max_entries, scratch.user) == (
        MapKind.PERCPU_ARRAY, 4, 1, False)
    assert scratch.value_size >= 1024 + 1024


# -- successful compiles: events and programs ----------------------------------------------------

def test_events():
    script = compile_script('BEGIN { @x = 1; printf("%d %s\\n", pid, comm); print(@x, 5, 2); '
                            'clear(@x); zero(@x); print(comm); time("%H\\n"); exit(3); }')
    assert [(e.id, e.kind, e.fmt, e.args, e.map) for e in script.events] == [
        (1, EventKind.PRINTF, "%d %s\n", Tuple((UINT64, Str(16))), ""),
        (2, EventKind.PRINT_MAP, "", Tuple((UINT64, UINT64)), "@x"),
        (3, EventKind.CLEAR_MAP, "", Tuple(()), "@x"),
        (4, EventKind.ZERO_MAP, "", Tuple(()), "@x"),
        (5, EventKind.PRINT_VALUE, "", Tuple((Str(16),)), ""),
        (6, EventKind.TIME, "%H\n", Tuple(()), ""),
        (7, EventKind.EXIT, "", Tuple((INT64,)), ""),
    ]
    assert script.events[0].size == 8 + 24
    assert script.events[0].loc.text() == 'printf("%d %s\\n", pid, comm)'


def test_begin_and_end_are_test_run_programs():
    script = compile_script("BEGIN { @a = 1; } END { @b = 2; }")
    assert [(p.name, p.kind, p.special, [t.name for t in p.targets]) for p in script.probes] == [
        ("pt0_BEGIN", ProgKind.RAW_TRACEPOINT, "BEGIN", ["BEGIN"]),
        ("pt1_END", ProgKind.RAW_TRACEPOINT, "END", ["END"]),
    ]


def test_begin_without_test_run_is_a_getpgid_tracepoint(monkeypatch):
    monkeypatch.setattr(special.os, "getpid", lambda: 4242)
    script = compile_script("BEGIN { @a = 1; }", without={Feature.TEST_RUN})
    (probe,) = script.probes
    (target,) = probe.targets
    assert (probe.kind, target.data, target.context.only_tgid) == (
        ProgKind.TRACEPOINT, 291, 4242)


def test_tracepoints_share_a_program_when_args_are_not_read():
    script = compile_script("t:syscalls:sys_enter_read,t:syscalls:sys_enter_write "
                            "{ @[probe] = count(); }")
    (probe,) = script.probes
    assert [t.name for t in probe.targets] == ["tracepoint:syscalls:sys_enter_read",
                                               "tracepoint:syscalls:sys_enter_write"]
    assert script.probe_names == {842: "tracepoint:syscalls:sys_enter_read",
                                  840: "tracepoint:syscalls:sys_enter_write"}


def test_tracepoints_with_different_layouts_get_their_own_programs():
    script = compile_script("t:syscalls:sys_enter_read,t:syscalls:sys_enter_close "
                            "{ @[args->fd] = count(); }")
    assert [[t.name for t in p.targets] for p in script.probes] == [
        ["tracepoint:syscalls:sys_enter_read"], ["tracepoint:syscalls:sys_enter_close"]]
    assert [p.name for p in script.probes] == ["pt0_sys_enter_r", "pt1_sys_enter_c"]


def test_wildcard_expands_in_order():
    script = compile_script("t:syscalls:sys_exit_* { @[probe] = count(); }")
    (probe,) = script.probes
    assert [t.name for t in probe.targets] == ["tracepoint:syscalls:sys_exit_openat",
                                               "tracepoint:syscalls:sys_exit_read"]


def test_interval_probe():
    script = compile_script("interval:ms:250 { exit(); } i:2s { exit(); }")
    assert [(p.kind, p.targets[0].name, p.targets[0].data) for p in script.probes] == [
        (ProgKind.PERF_EVENT, "interval:ms:250", 250_000_000),
        (ProgKind.PERF_EVENT, "interval:2s", 2_000_000_000),
    ]


def test_positional_parameters():
    script = compile_script('BEGIN { @n = $1; @s = $2; @c = $#; @missing = $3; }',
                            params=["42", "hello"])
    assert spec(script, "@n") == (MapKind.HASH, 8, 8, None, INT64)
    assert spec(script, "@s") == (MapKind.HASH, 8, 6, None, Str(6))
    assert spec(script, "@c") == (MapKind.HASH, 8, 8, None, INT64)
    assert spec(script, "@missing") == (MapKind.HASH, 8, 8, None, INT64)


# -- strftime ----------------------------------------------------------------------------

def test_strftime_is_a_timestamp_carrying_its_format():
    from pytrace.lang.types import Formatted, Special
    script = compile_script('BEGIN { printf("%s\\n", strftime("%H:%M:%S.%f", nsecs)); '
                            '@t = strftime("%Y", 1000); }')
    assert script.map("@t").value == Special(Formatted.TIMESTAMP, "%Y")
    printf = [e for e in script.events if e.kind is EventKind.PRINTF][0]
    assert printf.args.elems == (Special(Formatted.TIMESTAMP, "%H:%M:%S.%f"),)


def test_strftime_mistakes():
    assert compile_error('BEGIN { $f = "%Y"; @ = strftime($f, nsecs); }') == (
        "-e:1:33: error: strftime() takes a strftime format string literal first, "
        'e.g. strftime("%H:%M:%S", nsecs)\n'
        'BEGIN { $f = "%Y"; @ = strftime($f, nsecs); }\n'
        "                                ~~")
    assert compile_error('BEGIN { @ = strftime("%Y", comm); }') == (
        "-e:1:28: error: strftime()'s time (nanoseconds since boot) must be an integer, "
        "not a string\n"
        'BEGIN { @ = strftime("%Y", comm); }\n'
        "                           ~~~~")
    assert compile_error('BEGIN { @ = strftime("%Y"); }') == (
        "-e:1:13: error: strftime() takes 2 arguments, 1 given\n"
        'BEGIN { @ = strftime("%Y"); }\n'
        "            ~~~~~~~~~~~~~~\n"
        "hint: usage: strftime(fmt, nsecs)")
