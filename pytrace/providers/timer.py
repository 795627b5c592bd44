"""Timed probes: ``interval:s:N`` / ``ms`` / ``us`` / ``hz`` (also
``interval:1s``, ``interval:500ms``), alias ``i:``.

An interval probe fires on one CPU every period, through a software
cpu-clock perf event.
"""
from __future__ import annotations

from ..lang.probes import ProbeContext, ProgKind, Target
from ..base.record import record
from . import Provider

UNITS_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@record(frozen=True)
class Period:
    unit: str          # "s", "ms", "us", "ns" or "hz"
    count: int         # as written
    ns: int            # the period in nanoseconds


def parse_period(parts: list[str]) -> Period | None:
    """["s", "1"] or ["1s"] or ["hz", "99"] -> Period."""
    if len(parts) == 2:
        unit, count = parts
    elif len(parts) == 1:
        text = parts[0]
        digits = len(text) - len(text.lstrip("0123456789"))
        count, unit = text[:digits], text[digits:]
    else:
        return None
    count = count.replace("_", "")
    if not count.isdigit() or int(count) <= 0:
        return None
    n = int(count)
    if unit == "hz":
        return Period(unit, n, max(1_000_000_000 // n, 1))
    if unit in UNITS_NS:
        return Period(unit, n, n * UNITS_NS[unit])
    return None


class Interval(Provider):
    doc = "a timer on one CPU: interval:s:N, interval:ms:N, interval:us:N, interval:hz:N"

    def expand(self, spec, kernel) -> list[Target]:
        parts = spec.text.split(":")[1:]
        period = parse_period(parts)
        if period is None:
            raise self.fail(f"'{spec.text}' is not an interval", spec,
                            "write interval:s:N, interval:ms:N, interval:us:N, interval:hz:N "
                            "or interval:1s / interval:500ms")
        ctx = ProbeContext(ProgKind.PERF_EVENT, args_missing="interval probes have no 'args'")
        return [Target("interval", spec.text if spec.provider == "interval"
                       else "interval:" + ":".join(parts), ctx, period.ns)]

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import attach
        fd = attach.open_cpu_clock(runtime.first_cpu, target.data)
        return [attach.attach_perf_event(fd, prog_fd, runtime.use_link, what=target.name)]

    def listing(self, pattern: str, kernel) -> list[str]:
        return ["interval:s:N", "interval:ms:N", "interval:us:N", "interval:hz:N"]
