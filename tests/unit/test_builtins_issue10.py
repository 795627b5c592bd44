"""Issue 10's builtins in the checker (types, whole error messages), the
--unsafe gate, the formatter of username and the event handlers of join,
cat and system (without a kernel)."""
from __future__ import annotations

import io

import pytest

from pytrace.lang.program import EventKind, Limits
from pytrace.lang.types import ByteArray, Formatted, Int, Special
from tests.fakes import compile_error, compile_script

UNSAFE = Limits(unsafe=True)
INT8 = Int(8, True)


def _print_types(script):
    return [e.args.elems[0] for e in script.events if e.kind is EventKind.PRINT_VALUE]


def test_bswap_keeps_the_arguments_width():
    script = compile_script('BEGIN { print(bswap((uint16)1)); print(bswap((int32)1)); '
                            'print(bswap(1)); }')
    assert _print_types(script) == [Int(64, False), Int(64, True), Int(64, True)]
    from pytrace.lang.builtins.convert import _check_bswap  # noqa: F401  (record exists)
    assert compile_error('BEGIN { @ = bswap("a"); }') == (
        "-e:1:19: error: bswap()'s argument must be an integer, not a string\n"
        'BEGIN { @ = bswap("a"); }\n'
        "                  ~~~")


def test_pton_is_bpftraces_byte_array():
    script = compile_script('BEGIN { print(pton("1.2.3.4")); print(pton("::1")); '
                            'printf("%s %s\\n", ntop(pton("1.2.3.4")), ntop(pton("fe80::1"))); }')
    assert _print_types(script) == [ByteArray(INT8, 4), ByteArray(INT8, 16)]
    printf = [e for e in script.events if e.kind is EventKind.PRINTF][0]
    assert [str(t) for t in printf.args.elems] == ["inet4", "inet6"]


def test_pton_mistakes():
    assert compile_error('BEGIN { $a = "1.2.3.4"; print(pton($a)); }') == (
        '-e:1:36: error: pton() takes an address as a string literal, e.g. pton("127.0.0.1") '
        'or pton("::1")\n'
        'BEGIN { $a = "1.2.3.4"; print(pton($a)); }\n'
        "                                   ~~")
    assert compile_error('BEGIN { print(pton("1.2.3")); }') == (
        "-e:1:20: error: pton(): '1.2.3' is neither an IPv4 nor an IPv6 address\n"
        'BEGIN { print(pton("1.2.3")); }\n'
        "                   ~~~~~~~\n"
        'hint: write a.b.c.d (IPv4) or an IPv6 address such as "fe80::1"')


def test_strcontains_is_a_boolean_of_two_strings():
    script = compile_script('BEGIN { @a = strcontains(comm, "py"); $s = "x"; '
                            '@b = strcontains("abc", $s); }')
    assert str(script.map("@a").value) == str(script.map("@b").value)
    assert compile_error('BEGIN { print(strcontains(comm, 1)); }') == (
        "-e:1:33: error: strcontains()'s needle must be a string, not an integer\n"
        "BEGIN { print(strcontains(comm, 1)); }\n"
        "                                ~\n"
        "hint: read a string from a pointer with str(ptr)")


def test_username_prints_through_the_password_database():
    script = compile_script('BEGIN { @[username] = count(); }')
    assert script.map("@").key == Special(Formatted.USERNAME)
    from pytrace.render.formats import FORMATTERS, user_name
    assert user_name(0) == "root"
    assert user_name(4_000_000_000) == "4000000000"        # no such user: the number
    assert FORMATTERS[Formatted.USERNAME].text(Special(Formatted.USERNAME), 0, None) == "root"


def test_join_sends_sixteen_argument_slots():
    script = compile_script('t:syscalls:sys_enter_execve { join(args->argv, ","); }')
    (join,) = [e for e in script.events if e.kind is EventKind.JOIN]
    assert join.fmt == "," and len(join.args.elems) == 16
    assert compile_error("BEGIN { join(comm); }") == (
        "-e:1:14: error: join() takes an array of string pointers (char **, such as "
        "args->argv), not a string\n"
        "BEGIN { join(comm); }\n"
        "             ~~~~")
    assert compile_error('t:syscalls:sys_enter_execve { $s = ","; join(args->argv, $s); }') == (
        "-e:1:58: error: join()'s separator must be a string literal, e.g. "
        'join(args->argv, ",")\n'
        't:syscalls:sys_enter_execve { $s = ","; join(args->argv, $s); }\n'
        "                                                         ~~")


def test_unknown_function_hint_is_about_functions():
    assert compile_error("BEGIN { joinx(1); }") == (
        "-e:1:9: error: unknown function joinx()\n"
        "BEGIN { joinx(1); }\n"
        "        ~~~~~\n"
        "hint: did you mean 'join'?")


# -- the --unsafe gate ----------------------------------------------------------------

GATE_HINT = "hint: run pytrace with --unsafe to allow actions that change the system"


@pytest.mark.parametrize("call, col", [('system("echo %d", pid)', 32), ('signal("KILL")', 45),
                                       ("override(1)", 43)])
def test_unsafe_actions_need_the_flag(call, col):
    text = f"t:syscalls:sys_enter_getppid {{ {call}; }}"
    name = call.split("(")[0]
    got = compile_error(text)
    head = (f"-e:1:32: error: {name}() is an unsafe action: it needs --unsafe\n"
            f"{text}\n" + " " * 31 + "~" * len(call) + "\n" + GATE_HINT)
    assert got.startswith(head)
    if name != "override":
        assert got == head
        compile_script(text, limits=UNSAFE)          # allowed with --unsafe


def test_unsafe_action_mistakes():
    assert compile_error("BEGIN { system(comm); }", limits=UNSAFE) == (
        "-e:1:9: error: system() needs a format string literal first\n"
        "BEGIN { system(comm); }\n"
        "        ~~~~~~~~~~~~\n"
        'hint: e.g. system("ls /proc/%d", pid)')
    assert compile_error('BEGIN { signal("KILL"); }', limits=UNSAFE) == (
        "-e:1:9: error: signal() sends a signal to the process a probe fires in; BEGIN and "
        "END run in none\n"
        'BEGIN { signal("KILL"); }\n'
        "        ~~~~~~~~~~~~~~\n"
        "hint: use it in a probe of the traced process")
    assert compile_error('t:syscalls:sys_enter_getppid { signal("FOO"); }', limits=UNSAFE) == (
        "-e:1:39: error: signal(): 'FOO' is not a signal\n"
        't:syscalls:sys_enter_getppid { signal("FOO"); }\n'
        "                                      ~~~~~\n"
        'hint: write a name such as "SIGTERM" or "KILL", or a number 1..64')
    assert compile_error("t:syscalls:sys_enter_getppid { signal(99); }", limits=UNSAFE) == (
        "-e:1:39: error: signal(): 99 is not a signal number (1..64)\n"
        "t:syscalls:sys_enter_getppid { signal(99); }\n"
        "                                      ~~")
    assert compile_error("t:syscalls:sys_enter_getppid { override(1); }", limits=UNSAFE) == (
        "-e:1:32: error: override() sets the return value of a kernel function; it works in "
        "kprobes only\n"
        "t:syscalls:sys_enter_getppid { override(1); }\n"
        "                               ~~~~~~~~~~~\n"
        "hint: use kprobe:FUNCTION on a function the kernel lets you override "
        "(ALLOW_ERROR_INJECTION, CONFIG_BPF_KPROBE_OVERRIDE)")
    compile_script("kprobe:vfs_read { override(-5); }", limits=UNSAFE)


def test_signal_names_and_numbers():
    from pytrace.lang.builtins.actions import signal_number
    assert [signal_number(n) for n in ("SIGKILL", "kill", "9", "USR1", "64", "0", "NOPE")] == \
        [9, 9, 9, 10, 64, None, None]


def test_the_cli_flag_reaches_the_checker():
    from pytrace.cli import parse_args
    from pytrace.runtime.options import Options
    assert parse_args(["--unsafe", "-e", "BEGIN {}"]).unsafe is True
    assert Options("", unsafe=True).compile_limits().unsafe is True
    assert Options("").compile_limits().unsafe is False
    # a script cannot grant itself --unsafe
    assert compile_error('config = { unsafe = 1 } BEGIN { }') == (
        "-e:1:12: error: unknown config setting 'unsafe'\n"
        "config = { unsafe = 1 } BEGIN { }\n"
        "           ~~~~~~~~~~\n"
        "hint: known settings: max_map_keys, max_printf_args, max_probes, max_strlen, missing_probes, "
        "perf_rb_pages, ringbuf_size, stack_mode")


# -- handlers (no kernel) -------------------------------------------------------------

class _Stream:
    def __init__(self, printer, services):
        self.printer, self.services = printer, services

    def printf_text(self, spec, values):
        from pytrace.runtime.eventloop import EventStream
        return EventStream.printf_text(self, spec, values)


def _stream():
    from pytrace.render.text_output import TextPrinter
    from pytrace.runtime.services import ServiceContext, Services
    from contextlib import ExitStack
    out, err = io.StringIO(), io.StringIO()
    s = _Stream(TextPrinter(out, err), Services(ServiceContext(None, ExitStack())))
    s._formats = {}
    return s, out, err


def test_join_cat_and_system_handlers(tmp_path):
    from pytrace.lang.program import EventSpec
    from pytrace.lang.types import INT64, Str, Tuple
    from pytrace.runtime.eventloop import HANDLERS
    s, out, err = _stream()
    HANDLERS[EventKind.JOIN](s, EventSpec(1, EventKind.JOIN, ","), ("a", "b", "", "c"))
    f = tmp_path / "f.txt"
    f.write_text("one\ntwo\n")
    HANDLERS[EventKind.CAT](s, EventSpec(2, EventKind.CAT, str(tmp_path) + "/%s",
                                         Tuple((Str(8),))), ("f.txt",))
    HANDLERS[EventKind.CAT](s, EventSpec(3, EventKind.CAT, "/nonexistent/%d",
                                         Tuple((INT64,))), (7,))
    HANDLERS[EventKind.SYSTEM](s, EventSpec(4, EventKind.SYSTEM, "echo $((%d + 1)); echo x",
                                            Tuple((INT64,))), (41,))
    assert out.getvalue() == "a,b\none\ntwo\n42\nx\n"
    assert err.getvalue() == ("ERROR: failed to open file '/nonexistent/7': "
                              "No such file or directory\n")


# -- buf() and %r -------------------------------------------------------------------------

def test_buf_types_and_printf_conversions():
    from pytrace.lang.types import Buffer
    script = compile_script('t:syscalls:sys_enter_write { printf("%r %rx %rh %s\\n", '
                            'buf(args->buf, args->count), buf(args->buf, 2), '
                            'buf(args->buf, 5000), buf(comm)); }')
    printf = [e for e in script.events if e.kind is EventKind.PRINTF][0]
    assert printf.args.elems == (Buffer(1025), Buffer(3), Buffer(1025), Buffer(17))
    assert compile_error('BEGIN { printf("%r\\n", comm); }') == (
        "-e:1:24: error: printf: %r prints a buffer made by buf(), but this is a string\n"
        'BEGIN { printf("%r\\n", comm); }\n'
        "                       ~~~~\n"
        "hint: write buf(ptr, length)")
    assert compile_error("BEGIN { print(buf(pid)); }") == (
        "-e:1:19: error: buf(ptr) needs a length unless its argument is an array\n"
        "BEGIN { print(buf(pid)); }\n"
        "                  ~~~\n"
        "hint: write buf(ptr, length)")


def test_buffer_text_as_bpftrace_prints_it():
    from pytrace.lang.printf import format_printf, parse_format
    from pytrace.render.formats import BufferValue
    v = BufferValue.of(b"ab\x01\n")
    assert v == "ab\\x01\\x0a"                      # %r, map keys, print(), %s
    assert format_printf(parse_format("%r|%rx|%rh"), [v, v, v]) == (
        "ab\\x01\\x0a|\\x61\\x62\\x01\\x0a|61 62 01 0a")
    from pytrace.render.decode import decode
    from pytrace.lang.types import Buffer
    got = decode(Buffer(5), bytes([2]) + b"xyzw")
    assert got == "xy" and got.raw == b"xy"


def test_cgroup_hierarchies_are_named_as_bpftrace_names_them(tmp_path):
    from pytrace.render.formats import cgroup_hierarchies
    info = tmp_path / "mountinfo"
    info.write_text(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
    assert cgroup_hierarchies(str(info)) == [
        ("unified", "/sys/fs/cgroup/unified"), ("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
        ("systemd", "/sys/fs/cgroup/systemd")]
    script = compile_script("BEGIN { printf(\"%s\\n\", cgroup_path(cgroup)); }")
    printf = [e for e in script.events if e.kind is EventKind.PRINTF][0]
    assert printf.args.elems == (Special(Formatted.CGROUP_PATH),)
    assert compile_error('BEGIN { print(cgroup_path("x")); }') == (
        "-e:1:27: error: cgroup_path()'s cgroup id (such as cgroup) must be an integer, "
        "not a string\n"
        'BEGIN { print(cgroup_path("x")); }\n'
        "                          ~~~")
