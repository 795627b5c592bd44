"""Limits the kernel (or pytrace) puts on a script, checked before the
kernel is asked, each as an error that names the limit and how to raise it.

    setting ranges        config = { … } and PYTRACE_* values (``SETTING_RANGES``)
    MAX_USER_MAPS         maps one script declares (each is a file descriptor)
    MAX_MAPS_PER_PROGRAM  maps one BPF program uses (the kernel's MAX_USED_MAPS)
    PERCPU_VALUE_MAX      a per-CPU map's value (the kernel's PCPU_MIN_UNIT_SIZE)
"""
from __future__ import annotations

from ..base.diagnostics import NOWHERE, CompileError, Diagnostic, Loc, Severity
from .program import MapKind, MapSpec

#: setting -> (smallest, largest) value accepted
SETTING_RANGES = {
    "max_strlen": (1, 32768),
    "max_map_keys": (1, 1 << 24),
    "max_printf_args": (1, 128),
    "max_probes": (1, 1 << 20),
    "perf_rb_pages": (1, 1 << 16),
    "ringbuf_size": (4096, 1 << 30),
}
#: settings the kernel takes only as a power of two (a BPF ring buffer's
#: bytes, a perf buffer's data pages)
POWERS_OF_TWO = ("perf_rb_pages", "ringbuf_size")
MAX_USER_MAPS = 1024
MAX_MAPS_PER_PROGRAM = 64
PERCPU_VALUE_MAX = 32768

_PERCPU = (MapKind.PERCPU_ARRAY, MapKind.PERCPU_HASH)


def setting_problem(name: str, value: int) -> str | None:
    """Why ``value`` cannot be the setting ``name``, or None."""
    lo, hi = SETTING_RANGES.get(name, (None, None))
    if lo is not None and not lo <= value <= hi:
        return f"{name} = {value} is out of range: it is {lo} to {hi}"
    if name in POWERS_OF_TWO and value & (value - 1):
        return (f"{name} = {value} is not a power of two (the kernel's ring sizes are): "
                f"try {1 << (value.bit_length() - 1)} or {1 << value.bit_length()}")
    return None


def check_map_count(maps: dict, loc_of) -> None:
    if len(maps) > MAX_USER_MAPS:
        def first_use(name):
            loc = loc_of(name)
            return (0, 0) if loc is None else (loc.line, loc.col)
        name = sorted(maps, key=first_use)[MAX_USER_MAPS]
        raise CompileError(Diagnostic(
            Severity.ERROR, f"the script uses {len(maps)} maps; pytrace allows at most "
            f"{MAX_USER_MAPS}", loc_of(name) or NOWHERE,
            "keep related values in one map with keys, e.g. @m[1], @m[2]"))


def check_map_sizes(specs: list[MapSpec], max_strlen: int, loc_of) -> None:
    for spec in specs:
        if spec.kind in _PERCPU and spec.value_size > PERCPU_VALUE_MAX:
            what = ("the per-CPU scratch space for strings and events" if not spec.user
                    else f"a value of {spec.name}")
            raise CompileError(Diagnostic(
                Severity.ERROR, f"{what} needs {spec.value_size} bytes; the kernel allows "
                f"{PERCPU_VALUE_MAX} bytes in a per-CPU map", loc_of(spec.name) or NOWHERE,
                f"lower max_strlen (now {max_strlen}) with config = {{ max_strlen = N }} "
                "or PYTRACE_MAX_STRLEN"))


def check_program_maps(insns: list, probe_loc: Loc | None) -> None:
    used = {i.ref for i in insns if i.ref}
    if len(used) > MAX_MAPS_PER_PROGRAM:
        raise CompileError(Diagnostic(
            Severity.ERROR, f"this probe uses {len(used)} maps (counting pytrace's own); the kernel allows "
            f"{MAX_MAPS_PER_PROGRAM} in one program", probe_loc or NOWHERE,
            "keep related values in one map with keys, e.g. @m[1], @m[2], or split the "
            "probe into several"))
