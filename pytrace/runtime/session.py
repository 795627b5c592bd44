"""The driver: compile -> load -> attach -> poll -> print -> tear down.

Every fd, map, program, perf event and link a session opens is owned by one
``ExitStack``, closed on every way out (exit(), Ctrl-C, SIGTERM, the ``-c``
child exiting, an exception, an attach failing midway), so nothing is left
behind in the kernel.
"""
from __future__ import annotations

import os
import signal
from contextlib import ExitStack
from ..base.record import field, record

from ..base.diagnostics import CompileError, Diagnostic, RuntimeFailure, Severity
from ..lang.kernelinfo import Feature, KernelInfo
from ..lang.probes import ProgKind
from ..lang.program import CompiledProbe, CompiledScript, Counter, EventKind, Limits, MapKind

#: how BEGIN/END-only scripts, exit() and the -c child end a run
STOP_EXIT, STOP_SIGNAL, STOP_CHILD, STOP_DONE = "exit", "signal", "child", "done"


@record
class Options:
    text: str
    name: str = "-e"
    params: list[str] = field(default_factory=list)
    command: list[str] | None = None
    pid: int | None = None
    quiet: bool = False
    dump: frozenset[str] = frozenset()
    dry_run: bool = False
    verbose: bool = False
    masked: frozenset[Feature] = frozenset()
    limits: Limits = field(default_factory=Limits)
    #: stop after this many seconds (library use); None: run until told
    timeout: float | None = None
    #: --no-fallback: a kprobe never runs as fentry, nor fentry as a kprobe
    no_fallback: bool = False
    #: xdp probes replace a program already on the interface
    force: bool = False


class Runtime:
    """What providers need at attach time."""

    def __init__(self, kernel: KernelInfo, pid: int | None = None, cpid: int | None = None,
                 force: bool = False):
        self.kernel = kernel
        #: --force: xdp probes replace a program already on their interface
        self.force = force
        #: -p PID: per-process probes (uprobes, timers) attach to this process only
        self.pid = pid
        #: the -c child's pid
        self.cpid = cpid
        self.use_link = kernel.has(Feature.LINK)
        from ..kernel.maps import online_cpus
        cpus = online_cpus()
        self.cpus = cpus
        self.first_cpu = cpus[0] if cpus else 0


def _prog_type(kind: ProgKind) -> int:
    from ..kernel.bpf_consts import ProgType
    return {ProgKind.TRACEPOINT: ProgType.TRACEPOINT,
            ProgKind.RAW_TRACEPOINT: ProgType.RAW_TRACEPOINT,
            ProgKind.KPROBE: ProgType.KPROBE,
            ProgKind.KPROBE_MULTI: ProgType.KPROBE,
            ProgKind.PERF_EVENT: ProgType.PERF_EVENT,
            ProgKind.TRACING: ProgType.TRACING,
            ProgKind.XDP: ProgType.XDP,
            ProgKind.SCHED_CLS: ProgType.SCHED_CLS}[kind]


def _map_type(kind: MapKind) -> int:
    from ..kernel.bpf_consts import MapType
    return {MapKind.HASH: MapType.HASH, MapKind.PERCPU_HASH: MapType.PERCPU_HASH,
            MapKind.ARRAY: MapType.ARRAY, MapKind.PERCPU_ARRAY: MapType.PERCPU_ARRAY,
            MapKind.RINGBUF: MapType.RINGBUF,
            MapKind.PERF_EVENT_ARRAY: MapType.PERF_EVENT_ARRAY,
            MapKind.STACK_TRACE: MapType.STACK_TRACE, MapKind.LPM_TRIE: MapType.LPM_TRIE}[kind]


def _bpf_name(name: str) -> str:
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name.lstrip("@"))
    return (clean or "anon")[:15]


class Session:
    def __init__(self, options: Options, printer, dump_out=None):
        self.options = options
        self.printer = printer
        self.dump_out = dump_out
        self.stack = ExitStack()
        self.kernel: KernelInfo | None = None
        self.script: CompiledScript | None = None
        self.maps: dict = {}
        self.prog_fds: dict[int, int] = {}
        self.child = None
        self.watched = None
        self.reader = None
        self.exit_code = 0
        self.stop_reason: str | None = None
        self._segments: dict[int, list] = {}
        #: symbols.resolver.Symbolizer, made when something prints a symbol or stack
        self.symbols = None
        self._signal = False
        self._ignoring = False

    # -- set-up ------------------------------------------------------------------
    def prepare(self) -> None:
        """Check privileges, learn the kernel, start a held -c child."""
        from ..kernel import host
        from ..kernel import features
        from ..kernel.privileges import check_privileges
        check_privileges()
        feats = features.probe_features(self.options.masked)
        self.kernel = host.build(feats, self.options.limits.max_strlen)
        # for providers choosing between mechanisms (kprobe/fentry) and saying why
        self.kernel.extra["masked"] = self.options.masked
        self.kernel.extra["fallback"] = not self.options.no_fallback
        if self.options.command:
            from .child import Child
            self.child = Child(self.options.command)
            self.stack.callback(self.child.close)
        if self.options.pid is not None:
            from .child import Watched
            self.watched = Watched(self.options.pid)
            self.stack.callback(self.watched.close)

    def compile(self) -> CompiledScript:
        from ..compile import compile_ast
        from ..lang.parser import parse
        from ..providers import resolvers
        program = parse(self.options.text, self.options.name)
        if "ast" in self.options.dump:
            self._dump_ast(program)
        self.script = compile_ast(program, self.kernel, resolvers(), params=self.options.params,
                                  constants=self._constants(), limits=self.options.limits)
        self._fallback_notes()
        if "ir" in self.options.dump:
            self._dump_ir()
        if "asm" in self.options.dump:
            self._dump_asm()
        return self.script

    def _fallback_notes(self, script=None) -> None:
        """One line on stderr for each probe that runs through another
        mechanism than the one written (kprobe as fentry, …)."""
        seen = set()
        for p in (script or self.script).probes:
            for t in p.targets:
                note = t.context.note
                if note and note not in seen:
                    seen.add(note)
                    self.printer.message(f"note: {note}")

    def _constants(self) -> dict[str, int]:
        """Values compiled into programs: the start time, cpid, the -p filter."""
        constants = {"start_ns": _monotonic_ns()}
        if self.child is not None:
            constants["cpid"] = self.child.pid
        if self.options.pid is not None:
            constants["filter_pid"] = self.options.pid
            constants.setdefault("cpid", self.options.pid)
        return constants

    @staticmethod
    def _make_room(script: CompiledScript, open_now: int) -> None:
        """Raise RLIMIT_NOFILE for a script's attach points (a perf event
        and a link each) on top of the fds already open."""
        from ..kernel import privileges
        targets = sum(len(p.targets) for p in script.probes)
        privileges.raise_rlimit_nofile(2 * targets + open_now + 64)

    def load(self) -> None:
        from ..kernel import privileges
        privileges.raise_rlimit_memlock()
        script = self.script
        self._make_room(script, len(script.maps) + len(script.probes))
        for spec in script.maps:
            self.maps[spec.name] = self._create_map(spec, self.stack)
        fds = {name: m.fd for name, m in self.maps.items()}
        for probe in script.probes:
            self.prog_fds[probe.index] = self._load_program(probe, fds, self.stack)

    @staticmethod
    def _create_map(spec, owner: ExitStack):
        """The kernel map for ``spec``, closed by ``owner``."""
        from ..kernel.maps import Map
        from ..kernel.bpf_consts import MapFlag
        # an LPM trie must be created without preallocation
        flags = MapFlag.NO_PREALLOC if spec.kind is MapKind.LPM_TRIE else 0
        m = Map.create(_map_type(spec.kind), spec.key_size, spec.value_size,
                       spec.max_entries, name=_bpf_name(spec.name), flags=flags)
        owner.callback(m.close)
        return m

    def _load_program(self, probe: CompiledProbe, fds: dict[str, int], owner: ExitStack) -> int:
        """Load one program with its maps' fds; its fds are closed by ``owner``.
        A verifier rejection becomes an error located in the script."""
        from ..kernel import bpf
        from ..bpf.emit import relocate
        from ..bpf.insn import encode
        from ..providers import by_name
        insns = relocate(probe.insns, fds)
        # fentry/fexit/tp_btf programs name their attach point when loaded
        target = probe.targets[0]
        extra = dict(by_name()[target.provider].load_options(target))
        if len(probe.funcs) > 1:
            from ..bpf.prog_btf import program_btf
            blob, func_info = program_btf(probe.funcs)
            btf_fd = bpf.btf_load(blob)
            owner.callback(os.close, btf_fd)
            extra.update(btf_fd=btf_fd, func_info=func_info)
        try:
            if self.options.verbose:
                res = bpf.prog_load_logged(_prog_type(probe.kind), encode(insns),
                                           name=probe.name, **extra)
                fd = res.fd
                self._verifier_stats(probe, res.log)
            else:
                fd = bpf.prog_load(_prog_type(probe.kind), encode(insns), name=probe.name,
                                   **extra)
        except bpf.BpfError as err:
            raise self._rejected(probe, err) from None
        owner.callback(os.close, fd)
        return fd

    def _rejected(self, probe: CompiledProbe, err) -> Exception:
        from ..bpf import verifier
        from ..bpf.insn import slot_offsets
        log = err.verifier_log or ""
        slot = verifier.failing_slot(log)
        loc = None
        if slot is not None:
            offsets = slot_offsets(probe.insns)
            for i, start in enumerate(offsets):
                if start == slot and i < len(probe.locs):
                    loc = probe.locs[i]
        why = verifier.reason(log) or [str(err)]
        names = ", ".join(t.name for t in probe.targets[:3])
        message = f"the kernel's verifier rejected the program for {names}: {why[-1]}"
        hint = ("this is a bug in pytrace's code generation; please report it with the "
                "output of -d asm" if log else None)
        if loc is not None and loc.source is not None and loc.line > 0:
            return CompileError(Diagnostic(Severity.ERROR, message, loc, hint))
        return RuntimeFailure(message, hint=hint, detail="\n".join(why[:-1]) or None)

    def _verifier_stats(self, probe: CompiledProbe, log: str) -> None:
        import sys
        lines = [ln for ln in (log or "").splitlines() if ln.startswith(("processed", "verification"))]
        print(f"{probe.name}: {probe.nslots} instructions; " + "; ".join(lines), file=sys.stderr)

    # -- running -------------------------------------------------------------------
    def start_events(self) -> None:
        from ..kernel import buffers as events
        spec_by_name = {m.name: m for m in self.script.maps}
        events_spec = spec_by_name.get("events")
        if events_spec is None:
            return
        fd = self.maps["events"].fd
        if events_spec.kind is MapKind.RINGBUF:
            self.reader = events.RingBufferReader(fd, events_spec.max_entries, self._on_event)
        else:
            self.reader = events.PerfBufferReader(fd, None, self._on_event,
                                                  pages_per_cpu=self.script.limits.perf_rb_pages)
        self.stack.callback(self.reader.close)

    def run(self) -> int:
        """Run the whole life cycle; returns the exit status."""
        self.prepare()
        self.compile()
        self.load()
        if self.options.dry_run:
            if not self.options.quiet:
                self.printer.message(f"{len(self.script.probes)} program(s) loaded and "
                                     "verified; nothing attached (--dry-run)")
            return 0
        self.start_events()
        self._start_symbols()
        runtime = Runtime(self.kernel, self.options.pid,
                          self.child.pid if self.child is not None else None,
                          force=self.options.force)
        self._sweep(runtime)
        with _Signals(self) as sig:
            self._run_special("BEGIN", runtime)
            if self.stop_reason is None:
                attached = self._attach_all(runtime)
                if not self.options.quiet:
                    self.printer.attached(attached)
                if self.child is not None:
                    self.child.release()
                self._loop(sig)
            self._detach()
            self._drain()               # what probes sent before they stopped
            self._ignoring = False      # END speaks even after exit()
            self._run_special("END", runtime)
            self._finish()
        return self.exit_code

    def _sweep(self, runtime: Runtime) -> None:
        from ..providers import by_name
        registry = by_name()
        used = {t.provider for p in self.script.probes for t in p.targets}
        for name in sorted(used):
            registry[name].sweep(runtime)

    def _run_special(self, which: str, runtime: Runtime) -> None:
        from ..providers.special import Special
        provider = Special()
        for probe in self.script.probes:
            if probe.special == which:
                provider.trigger(probe.targets[0], self.prog_fds[probe.index], runtime)
        self._drain()

    def _attach_all(self, runtime: Runtime) -> int:
        self._attachments = ExitStack()
        self._live: list = []
        self.stack.enter_context(self._attachments)

        def keep(a) -> None:
            self._attachments.callback(a.close)
            self._live.append(a)
        count = 0
        for probe in self.script.probes:
            count += len(probe.targets)
            if not probe.special:
                attach_program(probe.targets, self.prog_fds[probe.index], runtime, keep)
        return count

    def _detach(self) -> None:
        """Stop every probe now (links close side by side); closing the perf
        events left (slow for tracepoints) happens last."""
        from .detach import stop_now
        stop_now(getattr(self, "_live", []))

    def _loop(self, sig: "_Signals") -> None:
        import select
        import time
        if self._only_special():
            self.stop_reason = STOP_DONE
            return
        ep = select.epoll()
        self.stack.callback(ep.close)
        if self.reader is not None:
            ep.register(self.reader.fileno(), select.EPOLLIN)
        ep.register(sig.fd, select.EPOLLIN)
        waited = self.child or self.watched
        if waited is not None and waited.pidfd >= 0:
            ep.register(waited.pidfd, select.EPOLLIN)
        if self.symbols is not None and self.symbols.fileno() >= 0:
            ep.register(self.symbols.fileno(), select.EPOLLIN)
        deadline = None if self.options.timeout is None else time.monotonic() + self.options.timeout
        while self.stop_reason is None:
            timeout = 1.0 if waited is not None and waited.pidfd < 0 else -1
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop_reason = STOP_DONE
                    break
                timeout = left if timeout < 0 else min(timeout, left)
            try:
                ep.poll(timeout)
            except InterruptedError:
                pass
            self._drain()
            if self._signal:
                self.stop_reason = self.stop_reason or STOP_SIGNAL
            elif waited is not None and waited.poll():
                self._drain()
                self.stop_reason = self.stop_reason or STOP_CHILD

    def _only_special(self) -> bool:
        return all(p.special for p in self.script.probes)

    def _drain(self) -> None:
        if self.reader is not None:
            while self.reader.poll(0):
                pass
        if self.symbols is not None:
            self.symbols.poll()

    # -- symbols -----------------------------------------------------------------
    def _start_symbols(self) -> None:
        """User stacks and usym() need the mappings of the processes they
        come from, which may exit before maps print: follow them from now
        (before anything is attached or the -c child runs). Idempotent."""
        from ..lang.builtins.stacks import USYM_PIDS_MAP
        if any(m.name.startswith("stack_u") or m.name == USYM_PIDS_MAP
               for m in self.script.maps):
            symbols = self._symbolizer()
            if not symbols.tracking:
                from ..kernel.maps import online_cpus
                symbols.track_processes(online_cpus())
                if self.options.pid is not None:
                    symbols.watch(self.options.pid)

    def _symbolizer(self):
        if self.symbols is None:
            from ..symbols.resolver import Symbolizer
            self.symbols = Symbolizer(self.maps)
            self.stack.callback(self.symbols.close)
        return self.symbols

    def resolve_stack(self, stack_type, value: int) -> str:
        """A stack as bpftrace prints it (output.Resolvers.stack)."""
        return self._symbolizer().stack(stack_type, value)

    # -- events ------------------------------------------------------------------
    def _on_event(self, data: bytes) -> None:
        if self._ignoring:
            return
        eid = int.from_bytes(data[:8], "little")
        if not 1 <= eid <= len(self.script.events):
            return
        spec = self.script.events[eid - 1]
        kind = spec.kind
        if kind is EventKind.PRINTF:
            self.printer.printf(self._format(spec, data))
        elif kind is EventKind.EXIT:
            code = int.from_bytes(data[8:16], "little", signed=True)
            if self.stop_reason != STOP_EXIT:
                self.exit_code = code & 0xFF
            self.stop_reason = STOP_EXIT
            self._ignoring = True       # bpftrace stops printing at exit()
        elif kind is EventKind.PRINT_MAP:
            top = int.from_bytes(data[8:16], "little")
            div = int.from_bytes(data[16:24], "little") or 1
            self.printer.map(self.dump_map(spec.map), top, div, fill_empty_scalar=True)
        elif kind is EventKind.CLEAR_MAP:
            self.maps[spec.map].clear()
        elif kind is EventKind.ZERO_MAP:
            self.maps[spec.map].zero()
        elif kind is EventKind.PRINT_VALUE:
            from ..render.decode import decode
            values = decode(spec.args, data, 8)
            self.printer.value(spec.args.elems[0], values[0])
        elif kind is EventKind.TIME:
            import time
            self.printer.time(time.strftime(spec.fmt))
        elif kind is EventKind.LOAD_MAP:
            from .mapedit import load_file
            load_file(self, spec.map, spec.fmt)

    def _format(self, spec, data: bytes) -> str:
        from ..render.decode import decode
        from ..lang.printf import format_printf, parse_format
        from ..render.output import printf_arg
        segs = self._segments.get(spec.id)
        if segs is None:
            segs = self._segments[spec.id] = parse_format(spec.fmt)
        values = decode(spec.args, data, 8)
        convs = [s for s in segs if not isinstance(s, str)]
        args = [printf_arg(c, t, v, self.printer.resolvers)
                for c, t, v in zip(convs, spec.args.elems, values)]
        return format_printf(segs, args)

    def resolve(self, how, value: int) -> str | None:
        """Text for values userspace prints specially (probe names …)."""
        from ..lang.types import Formatted
        if how is Formatted.PROBE and self.script is not None:
            return self.script.probe_names.get(value)
        if how in (Formatted.KSYM, Formatted.USYM):
            return self._symbolizer().special(how, value)
        return None

    def dump_map(self, name: str):
        from ..render.decode import build_dump
        spec = self.script.map(name)
        return build_dump(name, spec.key, spec.value, list(self.maps[name].items()))

    # -- the end -----------------------------------------------------------------
    def _finish(self) -> None:
        user = sorted((m for m in self.script.user_maps), key=lambda m: m.name)
        dumps = [self.dump_map(m.name) for m in user]
        if any(d.entries for d in dumps):
            self.printer.end()
            for d in dumps:
                if d.entries:
                    self.printer.map(d)
        self._report_counters()

    def _report_counters(self) -> None:
        lost = self.reader.lost if self.reader is not None else 0
        counters = self.maps.get("counters")
        values: list[int] = []
        if counters is not None:
            raw = counters.lookup(b"\0\0\0\0")
            raw = raw[0] if isinstance(raw, list) else raw
            if raw:
                values = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
        for c in self.script.counters:
            n = values[c.index] if c.index < len(values) else 0
            if c.kind is Counter.LOST_EVENTS:
                lost += n
            elif c.kind is Counter.MAP_FULL and n:
                limit = self.script.limits.max_map_keys
                self.printer.message(
                    f"warning: map {c.map} was full ({limit} keys): {n} update"
                    f"{'s were' if n != 1 else ' was'} dropped; raise the limit with "
                    f"PYTRACE_MAX_MAP_KEYS or config = {{ max_map_keys = N }}")
        if lost:
            self.printer.lost(lost)

    def close(self) -> None:
        self.stack.close()

    # -- dumps -------------------------------------------------------------------
    def _dump(self, text: str) -> None:
        import sys
        print(text, file=self.dump_out or sys.stdout)

    def _dump_ast(self, program) -> None:
        from ..lang.dump import ast_lines
        self._dump("\n".join(ast_lines(program)))

    def _dump_ir(self) -> None:
        for p in self.script.probes:
            self._dump(f"; {p.name}: {', '.join(t.name for t in p.targets[:4])}")
            self._dump("\n".join(p.ir_dump))

    def _dump_asm(self) -> None:
        from ..lang.dump import asm_lines
        for p in self.script.probes:
            self._dump("\n".join(asm_lines(p)))


def attach_program(targets: list, prog_fd: int, runtime: Runtime, keep) -> None:
    """Attach one loaded program to its targets, handing each Attachment to
    ``keep`` as soon as it exists, so a failure midway leaves none unowned.
    A provider may take all of its targets at once (``attach_group``: one
    kprobe_multi link for a wildcard); else they attach one at a time."""
    from ..providers import by_name
    registry = by_name()
    by_provider: dict[str, list] = {}
    for target in targets:
        by_provider.setdefault(target.provider, []).append(target)
    for name, group in by_provider.items():
        provider = registry[name]
        try:
            got = provider.attach_group(group, prog_fd, runtime)
        except (OSError, RuntimeFailure) as err:
            what = group[0].name + (f" and {len(group) - 1} more" if len(group) > 1 else "")
            raise _attach_failure(what, err) from None
        if got is not None:
            for a in got:
                keep(a)
            continue
        for target in group:
            try:
                got = provider.attach(target, prog_fd, runtime)
            except (OSError, RuntimeFailure) as err:
                raise _attach_failure(target.name, err) from None
            for a in got:
                keep(a)


def _attach_failure(name: str, err: Exception) -> RuntimeFailure:
    import errno
    code = getattr(err, "errno", None)
    why = getattr(err, "strerror", None) or str(err)
    hint = getattr(err, "hint", None)      # a provider's own advice (RuntimeFailure)
    if code == errno.EMFILE:
        hint = ("every probe needs open files; pytrace raised its limit as far as the hard "
                "limit allows: raise that (ulimit -Hn) or attach to fewer probes")
    elif code in (errno.ENOENT, errno.EINVAL):
        hint = f"check that {name} exists: pytrace -l '{name}'"
    return RuntimeFailure(f"cannot attach {name}: {why}", hint=hint)


def _monotonic_ns() -> int:
    import time
    return time.monotonic_ns()


class _Signals:
    """SIGINT/SIGTERM end the run (maps still print); a wakeup fd makes the
    poll loop notice at once."""

    def __init__(self, session: Session):
        self.session = session

    def __enter__(self) -> "_Signals":
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd = self.r
        self.old = {}
        try:
            self.old_fd = signal.set_wakeup_fd(self.w)
        except ValueError:           # not the main thread (library use): no signals
            self.old_fd = None
            return self
        self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        self.session._signal = True

    def __exit__(self, *exc) -> None:
        for s, h in self.old.items():
            signal.signal(s, _ignore_now if h is None else h)
        if self.old_fd is not None:
            signal.set_wakeup_fd(self.old_fd)
        os.close(self.r)
        os.close(self.w)


def _ignore_now(signum, frame) -> None:
    pass
