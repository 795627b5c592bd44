"""Sampling and counting perf events, on every CPU:

* ``profile:hz:N`` (N samples a second), ``profile:s:N`` / ``ms`` / ``us``
  (one every N units), also ``profile:99hz``, ``profile:10ms``; alias ``p:``
  — a cpu-clock timer per online CPU, so a probe sees what each CPU runs;
* ``software:EVENT[:COUNT]`` (alias ``s:``) — a kernel software counter
  (page-faults, context-switches …) firing every COUNT events;
* ``hardware:EVENT[:COUNT]`` (alias ``h:``) — a CPU hardware counter
  (cycles, instructions, cache-misses …) where the machine has a PMU.

Event names, short names and default counts are bpftrace's (perf's).
With ``-p PID`` each probe follows that process's threads (and threads
they start) instead of watching every CPU. Programs are
BPF_PROG_TYPE_PERF_EVENT; their context starts with ``struct pt_regs``,
so ``reg()``, ``kstack`` and ``ustack`` work here.
"""
from __future__ import annotations

from ..lang.probes import ProbeContext, ProgKind, Target
from ..base.record import record
from . import Provider
from .timer import parse_period


@record(frozen=True)
class PerfEventKind:
    name: str
    alias: str
    config: int
    default_count: int


def _software() -> tuple[PerfEventKind, ...]:
    from ..kernel.perf import PerfSwConfig as C
    return (
        PerfEventKind("alignment-faults", "", C.ALIGNMENT_FAULTS, 1),
        PerfEventKind("bpf-output", "", C.BPF_OUTPUT, 1),
        PerfEventKind("context-switches", "cs", C.CONTEXT_SWITCHES, 1000),
        PerfEventKind("cpu-clock", "cpu", C.CPU_CLOCK, 1000000),
        PerfEventKind("cpu-migrations", "", C.CPU_MIGRATIONS, 1),
        PerfEventKind("dummy", "", C.DUMMY, 1),
        PerfEventKind("emulation-faults", "", C.EMULATION_FAULTS, 1),
        PerfEventKind("major-faults", "", C.PAGE_FAULTS_MAJ, 1),
        PerfEventKind("minor-faults", "", C.PAGE_FAULTS_MIN, 100),
        PerfEventKind("page-faults", "faults", C.PAGE_FAULTS, 100),
        PerfEventKind("task-clock", "", C.TASK_CLOCK, 1),
    )


def _hardware() -> tuple[PerfEventKind, ...]:
    from ..kernel.perf import PerfHwConfig as C
    return (
        PerfEventKind("backend-stalls", "", C.STALLED_CYCLES_BACKEND, 1000000),
        PerfEventKind("branch-instructions", "branches", C.BRANCH_INSTRUCTIONS, 100000),
        PerfEventKind("branch-misses", "", C.BRANCH_MISSES, 100000),
        PerfEventKind("bus-cycles", "", C.BUS_CYCLES, 100000),
        PerfEventKind("cache-misses", "", C.CACHE_MISSES, 1000000),
        PerfEventKind("cache-references", "", C.CACHE_REFERENCES, 1000000),
        PerfEventKind("cpu-cycles", "cycles", C.CPU_CYCLES, 1000000),
        PerfEventKind("frontend-stalls", "", C.STALLED_CYCLES_FRONTEND, 1000000),
        PerfEventKind("instructions", "", C.INSTRUCTIONS, 1000000),
        PerfEventKind("ref-cycles", "", C.REF_CPU_CYCLES, 1000000),
    )


@record(frozen=True)
class SampleData:
    """What to open: perf type/config and a period or a frequency."""
    type: int
    config: int
    period: int = 0
    freq: int = 0


def _context(what: str) -> ProbeContext:
    return ProbeContext(ProgKind.PERF_EVENT, args_missing=f"{what} probes have no 'args'",
                        share_key=("perf_event", what))


class _PerCpu(Provider):
    """Opens one event per online CPU, or per thread of ``-p PID``."""

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import attach, bpf
        from ..kernel import perf
        data: SampleData = target.data
        out = []
        try:
            for cpu, pid in _where(runtime):
                flags = perf.PerfAttrFlag.INHERIT if pid != -1 else 0
                try:
                    fd = attach.open_perf_event(data.type, data.config, cpu, pid,
                                                period=data.period, freq=data.freq, flags=flags)
                except bpf.BpfError as err:
                    self._open_failed(target, err, cpu, pid)
                    continue
                out.append(attach.attach_perf_event(fd, prog_fd, runtime.use_link,
                                                    what=target.name,
                                                    cookie=target.probe_index))
        except BaseException:
            attach.close_all(out)
            raise
        return out

    def _open_failed(self, target: Target, err, cpu: int, pid: int) -> None:
        import errno
        if err.errno == errno.ENODEV and pid == -1:
            return          # that CPU went offline meanwhile
        if err.errno == errno.ESRCH:
            return          # that thread exited meanwhile
        raise err


def _where(runtime) -> list[tuple[int, int]]:
    """(cpu, pid) pairs to open: every online CPU, or -p PID's threads."""
    if not runtime.pid:
        return [(cpu, -1) for cpu in runtime.cpus]
    import os
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{runtime.pid}/task"))
    except OSError:
        tids = [runtime.pid]
    return [(-1, tid) for tid in tids]


#: perf_event_open refuses a sampling frequency above this sysctl
MAX_SAMPLE_RATE_PATH = "/proc/sys/kernel/perf_event_max_sample_rate"


def max_sample_rate() -> int:
    """The kernel's current ceiling for profile:hz:N (100000 by default)."""
    try:
        with open(MAX_SAMPLE_RATE_PATH) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 100000


class Profile(_PerCpu):
    doc = "sample every CPU: profile:hz:N, profile:s:N, profile:ms:N, profile:us:N"

    def expand(self, spec, kernel) -> list[Target]:
        from ..kernel.perf import PerfSwConfig, PerfType
        parts = spec.text.split(":")[1:]
        period = parse_period(parts)
        if period is None or period.unit == "ns":
            raise self.fail(f"'{spec.text}' is not a profile probe", spec,
                            "write profile:hz:N, profile:s:N, profile:ms:N or profile:us:N "
                            "(or profile:99hz, profile:10ms)")
        if period.unit == "hz":
            top = max_sample_rate()
            if period.count > top:
                raise self.fail(f"profile:hz:{period.count} samples faster than the kernel "
                                f"allows: at most {top} a second", spec,
                                "sample less often, or raise the limit with sysctl "
                                "kernel.perf_event_max_sample_rate=N")
            data = SampleData(PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK, freq=period.count)
        else:
            data = SampleData(PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK, period=period.ns)
        name = spec.text if spec.provider == self.name else "profile:" + ":".join(parts)
        return [Target(self.name, name, _context("profile"), data)]

    def listing(self, pattern: str, kernel) -> list[str]:
        return ["profile:hz:N", "profile:s:N", "profile:ms:N", "profile:us:N"]


class _Counter(_PerCpu):
    """software:/hardware: EVENT[:COUNT]."""
    perf_type = 0

    def kinds(self) -> tuple[PerfEventKind, ...]:
        raise NotImplementedError

    def expand(self, spec, kernel) -> list[Target]:
        parts = spec.text.split(":")[1:]
        if not 1 <= len(parts) <= 2 or not parts[0]:
            raise self.fail(f"'{spec.text}' is not a {self.name} probe", spec,
                            f"write {self.name}:EVENT:COUNT, e.g. {self._example()}")
        kind = self._kind(parts[0])
        if kind is None:
            import difflib
            names = [k.name for k in self.kinds()] + [k.alias for k in self.kinds() if k.alias]
            near = difflib.get_close_matches(parts[0], names, 1, 0.6)
            raise self.fail(f"unknown {self.name} event '{parts[0]}'", spec,
                            f"did you mean {near[0]}?" if near else
                            f"events: {', '.join(k.name for k in self.kinds())}")
        count = kind.default_count
        if len(parts) == 2 and parts[1]:
            text = parts[1].replace("_", "")
            if not text.isdigit() or int(text) <= 0:
                raise self.fail(f"'{parts[1]}' is not a positive count", spec,
                                f"{self.name}:{kind.name}:N fires every N events")
            count = int(text)
        data = SampleData(self._perf_type(), kind.config, period=count)
        name = f"{self.name}:{parts[0]}:{count}"
        return [Target(self.name, name, _context(self.name), data)]

    def _kind(self, name: str) -> PerfEventKind | None:
        for k in self.kinds():
            if name == k.name or (k.alias and name == k.alias):
                return k
        return None

    def _perf_type(self) -> int:
        raise NotImplementedError

    def _example(self) -> str:
        raise NotImplementedError

    def listing(self, pattern: str, kernel) -> list[str]:
        return [f"{self.name}:{k.name}:" for k in self.kinds()]


class Software(_Counter):
    doc = "kernel software events: software:EVENT:COUNT (page-faults, context-switches, …)"

    def kinds(self):
        return _software()

    def _perf_type(self) -> int:
        from ..kernel.perf import PerfType
        return PerfType.SOFTWARE

    def _example(self) -> str:
        return "software:page-faults:100"


class Hardware(_Counter):
    doc = "CPU hardware counters: hardware:EVENT:COUNT (cycles, instructions, cache-misses, …)"

    def kinds(self):
        return _hardware()

    def _perf_type(self) -> int:
        from ..kernel.perf import PerfType
        return PerfType.HARDWARE

    def _example(self) -> str:
        return "hardware:cache-misses:1000000"

    def _open_failed(self, target: Target, err, cpu: int, pid: int) -> None:
        import errno

        from ..base.diagnostics import RuntimeFailure
        if err.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV) and not (
                err.errno == errno.ENODEV and pid == -1 and cpu > 0):
            raise RuntimeFailure(
                "this machine has no hardware performance counter for "
                f"that event (perf_event_open: {err.errno and errno.errorcode.get(err.errno)})",
                hint="virtual machines often have no PMU (with QEMU/KVM: -cpu host, "
                     "or enable the vPMU); software:cpu-clock:N or profile:hz:N sample "
                     "without one") from None
        super()._open_failed(target, err, cpu, pid)
