"""Attaching to kernel functions: kprobes and fentry/fexit.

kprobes come from the perf kprobe PMU (Linux 4.17): a perf event the
kernel removes when its fd closes, so nothing outlives pytrace. Without
the PMU they are created in tracefs' ``kprobe_events``; those entries stay
until removed, so pytrace names them ``pytrace_<pid>/<function>_<n>``,
removes its own when an attachment closes, and ``sweep()`` removes those of
pytrace processes that no longer exist (a killed run).

fentry/fexit (and tp_btf) programs name their target when they are loaded
(``attach_btf_id``) and are attached by one raw_tracepoint_open call that
returns a link.
"""
from __future__ import annotations

import errno
import os

from ..base.diagnostics import RuntimeFailure
from . import attach
from . import bpf

from . import perf
KPROBE_EVENTS = "kprobe_events"
GROUP_PREFIX = "pytrace_"
#: the kernel's limit on event names (MAX_EVENT_NAME_LEN)
MAX_EVENT_NAME = 64
#: set to "tracefs" to skip the PMU (tests of the kprobe_events path)
VIA_ENV = "PYTRACE_KPROBE_VIA"


def has_pmu() -> bool:
    return attach.pmu_type("kprobe") is not None and os.environ.get(VIA_ENV) != "tracefs"


def _events_file() -> str:
    return os.path.join(attach.tracefs_dir(), KPROBE_EVENTS)


def has_kprobe_events() -> bool:
    try:
        return os.path.exists(_events_file())
    except RuntimeFailure:
        return False


def _write_events(line: str) -> None:
    """Append one command to kprobe_events (the kernel parses each write)."""
    fd = os.open(_events_file(), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def group_name(pid: int | None = None) -> str:
    return f"{GROUP_PREFIX}{os.getpid() if pid is None else pid}"


_counter = 0


def _event_name(function: str) -> str:
    global _counter
    _counter += 1
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in function)
    suffix = f"_{_counter}"
    return clean[:MAX_EVENT_NAME - len(suffix)] + suffix


class TracefsKprobe(attach.Attachment):
    """A kprobe made in kprobe_events: removed from there after closing."""

    def __init__(self, what: str, group: str, event: str):
        super().__init__(what)
        self.group = group
        self.event = event

    def close(self) -> None:
        super().close()
        if self.event:
            event, self.event = self.event, ""
            try:
                _write_events(f"-:{self.group}/{event}")
            except OSError:
                pass            # already gone; sweep() catches anything left


def _symbol(function: str, module: str | None) -> str:
    return f"{module}:{function}" if module else function


def _open_tracefs_kprobe(function: str, module: str | None, offset: int, ret: bool,
                         what: str) -> TracefsKprobe:
    group, event = group_name(), _event_name(function)
    target = _symbol(function, module) + (f"+{offset}" if offset else "")
    try:
        _write_events(f"{'r' if ret else 'p'}:{group}/{event} {target}")
    except OSError as e:
        raise RuntimeFailure(f"cannot create kprobe {target} in {_events_file()}: {e.strerror}",
                             hint=f"check that {target} exists and can be probed: "
                                  "pytrace -l 'kprobe:*'") from None
    att = TracefsKprobe(what, group, event)
    try:
        att.perf_fd = attach.open_tracepoint(attach.tracepoint_id(group, event))
    except BaseException:
        att.close()
        raise
    return att


def attach_kprobe(prog_fd: int, function: str, module: str | None = None, offset: int = 0,
                  ret: bool = False, *, use_link: bool, cookie: int = 0,
                  what: str = "") -> attach.Attachment:
    """Run ``prog_fd`` (a kprobe program) at ``function+offset`` (or on its
    return): through the perf kprobe PMU, else a kprobe_events entry."""
    what = what or f"{'kretprobe' if ret else 'kprobe'}:{function}"
    if has_pmu():
        fd = attach.open_kprobe(_symbol(function, module), offset, ret)
        return attach.attach_perf_event(fd, prog_fd, use_link, what=what, cookie=cookie)
    if not has_kprobe_events():
        raise RuntimeFailure(f"cannot attach {what}: this kernel has neither the perf kprobe "
                             f"PMU nor tracefs {KPROBE_EVENTS}")
    att = _open_tracefs_kprobe(function, module, offset, ret, what)
    try:
        if use_link:
            att.link_fd = bpf.link_create(prog_fd, att.perf_fd, bpf.AttachType.PERF_EVENT,
                                          bpf_cookie=cookie)
        else:
            perf.perf_set_bpf(att.perf_fd, prog_fd)
        perf.perf_enable(att.perf_fd)
    except BaseException:
        att.close()
        raise
    return att


def attach_kprobe_multi(prog_fd: int, functions: list[str], cookies: list[int],
                        ret: bool = False, what: str = "") -> attach.Attachment:
    """One link running ``prog_fd`` (loaded for BPF_TRACE_KPROBE_MULTI) at the
    entry (or return) of every function, each with its cookie."""
    fd = bpf.link_create_kprobe_multi(prog_fd, functions, cookies, ret)
    return attach.Attachment(what or f"kprobe_multi ({len(functions)} functions)", link_fd=fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> list[str]:
    """Remove kprobe_events entries of pytrace processes that are gone;
    returns the ``group/event`` names removed."""
    if not has_kprobe_events():
        return []
    try:
        with open(_events_file()) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    removed = []
    for line in lines:
        # "p:pytrace_123/do_sys_openat2_1 do_sys_openat2"
        head = line.split(None, 1)[0] if line.strip() else ""
        _, _, name = head.partition(":")
        group, _, event = name.partition("/")
        pid = group[len(GROUP_PREFIX):]
        if not group.startswith(GROUP_PREFIX) or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            _write_events(f"-:{group}/{event}")
            removed.append(f"{group}/{event}")
        except OSError as e:
            if e.errno != errno.ENOENT:
                continue
    return removed


_module_btf_fds: dict[str, int] = {}


def module_btf_fd(module: str) -> int:
    """An fd of module ``module``'s BTF object, which fentry programs on its
    functions name at load time (``attach_btf_obj_fd``). Kept open for the
    process's life: programs may be loaded more than once."""
    fd = _module_btf_fds.get(module)
    if fd is not None:
        return fd
    btf_id = bpf.btf_get_next_id(0)
    while btf_id is not None:
        try:
            fd = bpf.btf_get_fd_by_id(btf_id)
        except bpf.BpfError:            # gone meanwhile
            btf_id = bpf.btf_get_next_id(btf_id)
            continue
        name, kernel = bpf.btf_name(fd)
        if kernel and name == module:
            _module_btf_fds[module] = fd
            return fd
        os.close(fd)
        btf_id = bpf.btf_get_next_id(btf_id)
    raise RuntimeFailure(f"the kernel has no BTF object for module {module}",
                         hint=f"is {module} loaded? (lsmod)")


def attach_tracing(prog_fd: int, what: str) -> attach.Attachment:
    """Attach a loaded fentry/fexit/tp_btf program (its target was named at
    load time) through a link."""
    return attach.Attachment(what, link_fd=bpf.raw_tracepoint_open(None, prog_fd))
