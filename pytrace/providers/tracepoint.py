"""``tracepoint:CATEGORY:NAME`` (alias ``t:``): static kernel tracepoints.

The record layout comes from tracefs' format file; programs of one script
share one BPF program among tracepoints whose layouts agree (or among all of
them when the script does not read ``args``), and ``probe`` is read from the
record's ``common_type`` so sharing does not lose which tracepoint fired.
Attached through perf_event_open + a BPF link (or PERF_EVENT_IOC_SET_BPF).
"""
from __future__ import annotations

from ..lang.kernelinfo import Feature
from ..base.record import replace
from ..lang.probes import ProbeContext, ProgKind, Target
from ..lang.types import AddrSpace, Array, Field, Int, Ptr, Str, Struct, Void
from . import Provider

#: the record's common_* header, which BPF programs cannot read: the kernel
#: hands them a pt_regs pointer in those bytes
HEADER_SIZE = 8
#: categories whose pointer fields point into user memory
USER_POINTER_CATEGORIES = frozenset({"syscalls"})


def parse_format(text: str, category: str, name: str, max_strlen: int = 1024) -> tuple[int, Struct]:
    """A tracefs format file to (event id, record layout)."""
    tp_id = -1
    fields = []
    user = category in USER_POINTER_CATEGORIES
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ID:"):
            tp_id = int(line[3:])
            continue
        if not line.startswith("field:"):
            continue
        parts = {}
        for item in line.split(";"):
            key, _, value = item.strip().partition(":")
            if key:
                parts[key] = value.strip()
        offset = int(parts.get("offset", 0))
        if offset < HEADER_SIZE:
            continue
        decl = parts.get("field", "")
        f = _field(decl, offset, int(parts.get("size", 0)),
                   parts.get("signed") == "1", user, max_strlen)
        if f is not None:
            f = replace(f, decl=_c_type(decl, f.name))
            fields.append(f)
    size = max((f.offset + _field_size(f) for f in fields), default=0)
    return tp_id, Struct(f"tracepoint {category}:{name}", tuple(fields), size)


def _c_type(decl: str, name: str) -> str:
    """"const char * filename" -> "const char *"; "char comm[16]" -> "char[16]"."""
    decl = decl.strip()
    for prefix in ("__data_loc ", "__rel_loc "):
        if decl.startswith(prefix):
            decl = decl[len(prefix):]
    head, sep, tail = decl.rpartition(name)
    return (head.strip() + tail.strip()) if sep else decl


def _field_size(f: Field) -> int:
    return 4 if f.data_loc else f.type.size


def _field(decl: str, offset: int, size: int, signed: bool, user: bool,
           max_strlen: int) -> Field | None:
    decl = decl.strip()
    if not decl:
        return None
    loc_kind = None
    for prefix, kind in (("__data_loc ", "loc"), ("__rel_loc ", "rel")):
        if decl.startswith(prefix):
            loc_kind = kind
            decl = decl[len(prefix):]
    count = None
    if decl.endswith("]"):
        decl, _, dim = decl[:-1].rpartition("[")
        count = int(dim) if dim.isdigit() else None
    words = decl.replace("*", " * ").split()
    name = words[-1]
    ctype = words[:-1]
    is_char = any(w == "char" or w.startswith("char[") for w in ctype)
    if loc_kind:
        if is_char:
            return Field(name, Str(max_strlen), offset, data_loc=loc_kind)
        return Field(name, Int(32, False), offset)      # the raw offset|length word
    if "*" in ctype:
        target = Int(8, True) if is_char else Void()
        space = AddrSpace.USER if user else AddrSpace.KERNEL
        return Field(name, Ptr(target, space), offset)
    if count is not None and count > 0:
        elem_size = size // count if size else 1
        if is_char and elem_size == 1:
            return Field(name, Str(count), offset)
        elem = Int(elem_size * 8, signed) if elem_size in (1, 2, 4, 8) else Int(8, False)
        return Field(name, Array(elem, count), offset)
    if size in (1, 2, 4, 8):
        return Field(name, Int(size * 8, signed), offset)
    return Field(name, Array(Int(8, False), size), offset)


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
        if pattern.count(":") == 0:
            pattern = pattern + ":*" if pattern else "*:*"
        return [f"tracepoint:{c}:{n}" for c, n in kernel.list_tracepoints(pattern)]
