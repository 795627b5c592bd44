"""``tracepoint:CATEGORY:NAME`` (alias ``t:``): static kernel tracepoints.

The record layout comes from tracefs' format file (read by ``kernel.host``,
parsed by ``lang.tracepoint_format``); programs of one script
share one BPF program among tracepoints whose layouts agree (or among all of
them when the script does not read ``args``), and ``probe`` is read from the
record's ``common_type`` so sharing does not lose which tracepoint fired.
Attached through perf_event_open + a BPF link (or PERF_EVENT_IOC_SET_BPF).
"""
from __future__ import annotations

from ..lang.kernelinfo import Feature
from ..lang.probes import ProbeContext, ProgKind, Target
from ..lang.tracepoint_format import USER_POINTER_CATEGORIES
from . import Provider


class Tracepoint(Provider):
    doc = "static kernel tracepoints: tracepoint:CATEGORY:NAME (wildcards * and ?)"
    tracepoint_names = True
    #: the event's name says enough: pt0_sys_enter_read
    prog_name_prefix = ""

    def expand(self, spec, kernel) -> list[Target]:
        parts = spec.text.split(":")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise self.fail(f"'{spec.text}' is not a tracepoint", spec,
                            "write tracepoint:CATEGORY:NAME, e.g. "
                            "tracepoint:syscalls:sys_enter_openat")
        _, cat, name = parts
        found = kernel.list_tracepoints(f"{cat}:{name}")
        if not found:
            raise self.fail(f"no tracepoint matches {cat}:{name}", spec,
                            self._hint(cat, name, kernel))
        targets = []
        cookies = kernel.has(Feature.LINK)
        for c, n in found:
            info = kernel.tracepoint(c, n)
            if info is None:
                continue
            ctx = ProbeContext(
                ProgKind.TRACEPOINT, args=info.args, probe_by_cookie=cookies,
                share_key=info.args, user_pointers=c in USER_POINTER_CATEGORIES)
            targets.append(Target("tracepoint", f"tracepoint:{c}:{n}", ctx, (c, n, info.id),
                                  probe_index=info.id))
        return targets

    @staticmethod
    def _hint(cat: str, name: str, kernel) -> str:
        import difflib
        if any(ch in cat + name for ch in "*?["):
            return f"list tracepoints with: pytrace -l 'tracepoint:{cat}:*'"
        in_cat = [n for _, n in kernel.list_tracepoints(f"{cat}:*")]
        if in_cat:
            near = difflib.get_close_matches(name, in_cat, n=3, cutoff=0.6)
            if near:
                return "did you mean " + " or ".join(f"{cat}:{n}" for n in near) + "?"
            return f"list them with: pytrace -l 'tracepoint:{cat}:*'"
        cats = sorted({c for c, _ in kernel.list_tracepoints("*:*")})
        near = difflib.get_close_matches(cat, cats, n=3, cutoff=0.6)
        if near:
            return f"there is no category '{cat}'; did you mean {' or '.join(near)}?"
        return f"there is no category '{cat}'; list categories with: pytrace -l 'tracepoint:*'"

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import attach
        _, _, tp_id = target.data
        fd = attach.open_tracepoint(tp_id)
        return [attach.attach_perf_event(fd, prog_fd, runtime.use_link, what=target.name,
                                         cookie=target.probe_index)]

    def listing(self, pattern: str, kernel) -> list[str]:
        if not pattern:
            pattern = "*:*"
        if pattern.count(":") == 0:     # a category (tracepoint:sched) or, across types
            # (-l '*sched_switch*'), a name: both, as bpftrace matches the whole name
            found = set(kernel.list_tracepoints(pattern + ":*"))
            found.update(kernel.list_tracepoints("*:" + pattern))
            return [f"tracepoint:{c}:{n}" for c, n in sorted(found)]
        return [f"tracepoint:{c}:{n}" for c, n in kernel.list_tracepoints(pattern)]
