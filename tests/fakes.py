"""Shared fakes for the machine-independent compiler tests.

``fake_kernel()`` is a ``KernelInfo`` for an x86_64 machine with 4 CPUs and
every feature, whose tracefs holds only the format files below (copied from
a Linux 6.18 x86_64 machine, ``print fmt`` lines left out). Compiling
through it needs no root, no kernel and no tracefs.
"""
from __future__ import annotations

import fnmatch

from pytrace.base import arch
from pytrace.base.diagnostics import CompileError
from pytrace.lang.kernelinfo import Feature, KernelInfo, TracepointInfo
from pytrace.compile import compile_ast
from pytrace.lang.parser import parse
from pytrace.providers import resolvers
from pytrace.lang.tracepoint_format import parse_format

#: "category/name" -> the tracefs format file
FORMATS = {
    "syscalls/sys_enter_openat": """\
name: sys_enter_openat
ID: 782
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * filename;	offset:24;	size:8;	signed:0;
	field:int flags;	offset:32;	size:8;	signed:0;
	field:umode_t mode;	offset:40;	size:8;	signed:0;
""",
    "syscalls/sys_exit_openat": """\
name: sys_exit_openat
ID: 781
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:long ret;	offset:16;	size:8;	signed:1;
""",
    "syscalls/sys_enter_read": """\
name: sys_enter_read
ID: 842
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned int fd;	offset:16;	size:8;	signed:0;
	field:char * buf;	offset:24;	size:8;	signed:0;
	field:size_t count;	offset:32;	size:8;	signed:0;
""",
    "syscalls/sys_exit_read": """\
name: sys_exit_read
ID: 841
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:long ret;	offset:16;	size:8;	signed:1;
""",
    "syscalls/sys_enter_write": """\
name: sys_enter_write
ID: 840
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned int fd;	offset:16;	size:8;	signed:0;
	field:const char * buf;	offset:24;	size:8;	signed:0;
	field:size_t count;	offset:32;	size:8;	signed:0;
""",
    "syscalls/sys_enter_close": """\
name: sys_enter_close
ID: 776
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned int fd;	offset:16;	size:8;	signed:0;
""",
    "syscalls/sys_enter_getppid": """\
name: sys_enter_getppid
ID: 305
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
""",
    "syscalls/sys_enter_getpgid": """\
name: sys_enter_getpgid
ID: 291
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:pid_t pid;	offset:16;	size:8;	signed:0;
""",
    "syscalls/sys_enter_execve": """\
name: sys_enter_execve
ID: 862
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:const char * filename;	offset:16;	size:8;	signed:0;
	field:const char *const * argv;	offset:24;	size:8;	signed:0;
	field:const char *const * envp;	offset:32;	size:8;	signed:0;
""",
    "sched/sched_switch": """\
name: sched_switch
ID: 372
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:int prev_prio;	offset:28;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:char next_comm[16];	offset:40;	size:16;	signed:0;
	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
	field:int next_prio;	offset:60;	size:4;	signed:1;
""",
    "sched/sched_process_exec": """\
name: sched_process_exec
ID: 365
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
	field:pid_t pid;	offset:12;	size:4;	signed:1;
	field:pid_t old_pid;	offset:16;	size:4;	signed:1;
""",
}

ALL_FEATURES = frozenset(Feature)
NCPUS = 4


def _tracepoints(max_strlen: int) -> dict[tuple[str, str], TracepointInfo]:
    out = {}
    for path, text in FORMATS.items():
        cat, name = path.split("/")
        tp_id, args = parse_format(text, cat, name, max_strlen)
        out[(cat, name)] = TracepointInfo(cat, name, tp_id, args)
    return out


def fake_kernel(without: frozenset[Feature] | set[Feature] = frozenset(),
                max_strlen: int = 1024) -> KernelInfo:
    """The fake machine, optionally lacking some features (``--no-feature``)."""
    tps = _tracepoints(max_strlen)
    names = sorted(tps)

    def list_tracepoints(pattern: str) -> list[tuple[str, str]]:
        cat, _, name = pattern.partition(":")
        name = name or "*"
        return [(c, n) for c, n in names
                if fnmatch.fnmatchcase(c, cat) and fnmatch.fnmatchcase(n, name)]

    def tracepoint(cat: str, name: str) -> TracepointInfo | None:
        return tps.get((cat, name))

    kernel = KernelInfo(arch=arch.lookup("x86_64"), features=ALL_FEATURES, ncpus=NCPUS,
                        list_tracepoints=list_tracepoints, tracepoint=tracepoint,
                        version=(6, 18, 0))
    return kernel.without(without) if without else kernel


def compile_script(text: str, *, without=frozenset(), name: str = "-e", **kwargs):
    """Parse and compile ``text`` against the fake machine."""
    return compile_ast(parse(text, name), fake_kernel(without), resolvers(), **kwargs)


def compile_error(text: str, **kwargs) -> str:
    """The whole rendered message of the CompileError compiling ``text`` raises."""
    try:
        compile_script(text, **kwargs)
    except CompileError as err:
        return err.render()
    raise AssertionError(f"compiled without error: {text!r}")
