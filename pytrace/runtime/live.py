"""The interactive session: probes come and go while the maps live on.

A ``LiveSession`` holds the parts a one-shot ``Session`` holds (loader,
attacher, event stream, map reader, services) and grows one input at a
time. Each input is compiled against everything loaded so far
(``compile_ast(base=)``): its probes read and update the maps earlier probes made (same types, same
kernel maps), their events get ids after the earlier ones, so one reader
serves every probe. An input is loaded and attached as a unit: when a
program is rejected nothing of it stays; when an attach fails none of its
probes stays attached (its maps, and what its BEGIN did, do).

Maps the session owns from the start: the event buffer (ring or perf
buffer) and pytrace's counters (lost events, full maps), made large enough
for ``COUNTER_SLOTS`` counters so later inputs can add theirs. Each input's
scratch map is its own; the kernel keeps it while the input's programs are
loaded, so our fd closes as soon as they are.

Life cycle: ``start()`` -> ``add(text)`` / ``detach(n)`` / ``print_maps()``
... -> ``finish()`` (stop every probe, run END, print the maps as the CLI
does at exit) -> ``close()`` (nothing left in the kernel).
"""
from __future__ import annotations

import os
from contextlib import ExitStack

from ..base.diagnostics import RuntimeFailure, UsageError
from ..base.record import field, record
from ..lang.kernelinfo import Feature, KernelInfo
from ..lang.program import CompiledScript, MapKind, MapSpec
from .attacher import AttachContext, Attacher
from .detach import BackgroundCloser, stop_now
from .eventloop import STOP_EXIT, STOP_SIGNAL, Ending, EventStream
from .livemaps import LiveMaps
from .loader import Loader, create_map, make_room
from .mapreader import MapReader
from .options import Options
from .services import ServiceContext, Services

#: how many of pytrace's own counters (one per map that can fill up, plus
#: lost events) all inputs of a session can have together
COUNTER_SLOTS = 256
EVENTS_MAP, SCRATCH_MAP, COUNTERS_MAP = "events", "scratch", "counters"

ATTACHED, RAN, AT_END, DETACHED = "attached", "ran", "at end", "detached"


@record(eq=False)
class LiveProbe:
    """One probe of the session, as typed: ``number`` is what ``.detach``
    takes; ``programs`` the BPF programs it became (one per group of
    targets sharing a context)."""
    number: int
    text: str
    special: str
    targets: list
    programs: list
    prog_fds: list = field(default_factory=list)
    attachments: list = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)
    state: str = ATTACHED

    def run_count(self) -> int | None:
        """How often its programs ran (BPF_ENABLE_STATS on); None once they
        are gone or when the kernel does not say."""
        from ..kernel import bpf
        if self.state != ATTACHED:
            return None
        total = 0
        for fd in self.prog_fds:
            try:
                total += bpf.prog_info(fd).run_cnt
            except bpf.BpfError:
                return None
        return total

    @property
    def name(self) -> str:
        """The probe's attach points, shortened: ``tracepoint:syscalls:sys_enter_read``."""
        names = [t.name for t in self.targets]
        if len(names) > 2:
            return f"{names[0]}, … ({len(names)} probes)"
        return ", ".join(names)

    @property
    def mechanism(self) -> str:
        """How the probe is attached, for ``.probes``."""
        if self.special == "BEGIN":
            from ..providers import by_name
            target = self.programs[0].targets[0] if self.programs else None
            how = by_name()[target.provider].run_once_how(target) if target else ""
            return f"ran once ({how})"
        if self.special == "END":
            return "runs at the end"
        kinds = []
        for a in self.attachments:
            if a.perf_fd >= 0 and a.link_fd >= 0:
                kind = "perf event + BPF link"
            elif a.perf_fd >= 0:
                kind = "perf event (ioctl)"
            elif a.link_fd >= 0:
                kind = "BPF link"
            elif not a.closed:          # held by kernel state, not an fd (xdp/tc netlink)
                kind = "netlink"
            else:
                kind = "detached"
            if kind not in kinds:
                kinds.append(kind)
        provider = self.targets[0].provider if self.targets else "?"
        return f"{provider}: {', '.join(kinds) or 'nothing'}"


class LiveSession:
    """Probes added and detached one input at a time, sharing maps and one
    event reader, until ``finish()``; ``close()`` leaves nothing loaded."""

    @classmethod
    def printing(cls, options: Options, fmt: str, out, err) -> "LiveSession":
        """A session printing as the CLI does (``-f text|json``) to out/err."""
        from ..render.output import Resolvers, make_printer
        ref: list[LiveSession] = []
        printer = make_printer(fmt, out, err,
                               Resolvers(special=lambda how, v: ref[0].resolve(how, v),
                                         stack=lambda t, v: ref[0].resolve_stack(t, v)))
        ref.append(cls(options, printer))
        return ref[0]

    def __init__(self, options: Options, printer):
        self.options = options
        self.printer = printer
        self.stack = ExitStack()
        self.kernel: KernelInfo | None = None
        self.child = None
        self.watched = None
        self.ending = Ending()
        self.loader = Loader(options.verbose)
        self.services = Services(ServiceContext(self.loader, self.stack, options.pid))
        self.map_reader = MapReader(self.loader)
        self.events = EventStream(self.loader, printer, self.services, self.map_reader,
                                  self.ending)
        #: the maps as the REPL reads and writes them (.print, .set …)
        self.live_maps = LiveMaps(self.loader, self.map_reader, printer)
        self.attacher: Attacher | None = None
        self.probes: list[LiveProbe] = []
        self.inputs = 0
        self.finished = False
        self._next_number = 1
        self._constants: dict[str, int] = {}
        self._stats_fd = -1
        self._closer = BackgroundCloser()
        self.stack.callback(self._closer.wait)     # the last to run when closing

    @property
    def script(self) -> CompiledScript | None:
        """Everything loaded so far, as one script."""
        return self.loader.script

    @property
    def maps(self) -> dict:
        return self.loader.maps

    @property
    def exit_code(self) -> int:
        return self.ending.exit_code

    @property
    def stop_reason(self) -> str | None:
        return self.ending.reason

    # -- set-up ----------------------------------------------------------------
    def start(self) -> None:
        """Privileges, kernel facts, the -c child (held), the shared maps and
        the event reader."""
        from ..kernel import bpf
        from ..kernel import privileges
        from .prepare import learn_kernel, program_constants, start_processes
        self.kernel = learn_kernel(self.options)
        self.loader.map_batch = self.kernel.has(Feature.MAP_BATCH)
        self.child, self.watched = start_processes(self.options, self.stack)
        privileges.raise_rlimit_memlock()
        self._constants = program_constants(self.options, self.child)
        self.loader.script = CompiledScript([], session_maps(self.kernel, self.options.limits),
                                            [], [], self.options.limits, {})
        for spec in self.loader.script.maps:
            self.loader.maps[spec.name] = create_map(spec, self.stack, self.loader.map_batch)
        self.events.open(EVENTS_MAP, self.stack)
        self.stack.callback(self._close_probes)
        self.attacher = Attacher(AttachContext(self.kernel, self.options.pid,
                                               self.child.pid if self.child is not None
                                               else None, force=self.options.force))
        try:
            self._stats_fd = bpf.enable_stats()
            self.stack.callback(os.close, self._stats_fd)
        except bpf.BpfError:
            self._stats_fd = -1          # before 5.8: no hit counts

    # -- adding probes -----------------------------------------------------------
    def add(self, text: str, name: str | None = None) -> list[LiveProbe]:
        """Compile, load and attach the probes in ``text`` (BEGIN runs now,
        END waits for the end); returns them, numbered. Raises PytraceError
        (CompileError with located messages, RuntimeFailure): after a compile
        or load error nothing of ``text`` stays; after an attach failure none
        of its probes does (its new maps do, as its BEGIN left them)."""
        from ..lang.parser import parse
        from .compiling import compile_input
        if self.finished:
            raise UsageError("the session has ended")
        self.inputs += 1
        program = parse(text, name or f"<input {self.inputs}>")
        if not program.probes:
            return []
        unit = compile_input(program, self.options, self.kernel, self._constants,
                             self.printer, self.loader.script)
        if len(unit.counters) > COUNTER_SLOTS:
            raise RuntimeFailure(f"this session has used all {COUNTER_SLOTS} of pytrace's "
                                 "counters (one per map that can fill up)",
                                 hint="end the session and start a new one")
        make_room(unit, self._open_estimate())
        pending = ExitStack()           # new shared maps: the session's once all went well
        private = ExitStack()           # this input's scratch map: the programs hold it
        built: list[LiveProbe] = []
        try:
            with private:
                new_maps = load_input(self.loader, program, unit, pending, private, built)
            self._commit(unit, new_maps)
            self.stack.push(pending.pop_all())
            self.attacher.sweep(unit.probes)
            self._attach_unit(built)
        except BaseException:
            for lp in built:
                lp.stack.close()
            pending.close()
            raise
        for lp in built:
            lp.number = self._next_number
            self._next_number += 1
            self.probes.append(lp)
        return built

    def _close_probes(self) -> None:
        """At the end: every probe still here (detached ones are the closer's)."""
        for lp in self.probes:
            lp.stack.close()

    def _open_estimate(self) -> int:
        return len(self.loader.maps) + sum(len(p.prog_fds) + 2 * len(p.attachments)
                                           for p in self.probes)

    def _commit(self, unit: CompiledScript, new_maps: dict) -> None:
        """The input's maps and events become the session's: from here on
        its programs' events decode and its maps print."""
        old = self.loader.script
        maps = list(old.maps) + [spec for spec, _ in new_maps.values()]
        for name, (_, m) in new_maps.items():
            self.loader.maps[name] = m
        self.loader.script = CompiledScript(old.probes + unit.probes, maps, unit.events,
                                            unit.counters, old.limits, unit.probe_names, None,
                                            unit.map_origins)
        # user stacks: follow processes from now (idempotent)
        self.services.start_needed(self.loader.script)

    def _attach_unit(self, built: list[LiveProbe]) -> None:
        """BEGIN runs first (as in a script), then every other probe attaches;
        an attach failure takes the whole input's probes back."""
        for lp in built:
            if lp.special == "BEGIN":
                for prog, fd in zip(lp.programs, lp.prog_fds):
                    self.attacher.run_once(prog, fd)
                self.events.drain()
                lp.state = RAN
                lp.stack.close()            # its programs are done
            elif lp.special == "END":
                lp.state = AT_END
        if self.ending.reason is not None:  # exit() in BEGIN: the session ends
            return
        for lp in built:
            if lp.special:
                continue

            def keep(a, lp=lp) -> None:
                lp.stack.callback(a.close)
                lp.attachments.append(a)
            for prog, fd in zip(lp.programs, lp.prog_fds):
                self.attacher.attach(prog, fd, keep)    # kprobe_multi too

    # -- removing probes -----------------------------------------------------------
    def probe(self, number: int) -> LiveProbe:
        for lp in self.probes:
            if lp.number == number:
                return lp
        raise UsageError(f"there is no probe {number}" + (
            f" (probes: {', '.join(str(p.number) for p in self.probes)})" if self.probes
            else " (no probes yet)"))

    def detach(self, number: int) -> LiveProbe:
        """Stop probe ``number`` at once and unload it; its maps stay."""
        lp = self.probe(number)
        self._unload([lp])
        return lp

    def detach_all(self) -> list[LiveProbe]:
        gone = list(self.probes)
        self._unload(gone)
        return gone

    def _unload(self, gone: list[LiveProbe]) -> None:
        """Stop the probes now, read what they sent, and close the rest of
        their fds in the background: a tracepoint's perf event takes a grace
        period to close (~40 ms each, one after the other: half a minute for
        a wildcard over every syscall), which the prompt should not wait for."""
        stop_now([a for lp in gone for a in lp.attachments])
        self.events.drain()
        for lp in gone:
            self.probes.remove(lp)
            lp.state = DETACHED
            self._closer.close_later(lp.stack)

    # -- what probes did -------------------------------------------------------------
    @property
    def has_hit_counts(self) -> bool:
        return self._stats_fd >= 0

    def hits(self, lp: LiveProbe) -> int | None:
        """How often the probe's programs ran (None: the kernel does not count)."""
        return lp.run_count() if self._stats_fd >= 0 else None

    def poll(self) -> bool:
        """Handle the events waiting; True once the session should end
        (exit() in a probe, a signal)."""
        self.events.drain()
        return self.should_end

    @property
    def should_end(self) -> bool:
        return self.stop_reason in (STOP_EXIT, STOP_SIGNAL)

    def terminate(self) -> None:
        """SIGTERM: end as Ctrl-D does."""
        self.ending.stop(STOP_SIGNAL)

    def events_fileno(self) -> int | None:
        return self.events.fileno()

    # -- the maps (the rest: live_maps) -------------------------------------------------
    def print_maps(self, names: list[str] | None = None) -> int:
        return self.live_maps.print_maps(names)

    def render_map(self, name: str) -> str:
        return self.live_maps.render_map(name)

    def write_entry(self, text: str) -> None:
        self.live_maps.write_entry(text)

    def delete_entry(self, text: str) -> bool:
        return self.live_maps.delete_entry(text)

    # -- what printers ask -----------------------------------------------------------
    def resolve(self, how, value: int) -> str | None:
        """Text for values userspace prints specially (probe names …)."""
        return self.services.resolve(how, value)

    def resolve_stack(self, stack_type, value: int) -> str:
        """A stack as bpftrace prints it (output.Resolvers.stack)."""
        return self.services.resolve_stack(stack_type, value)

    # -- the -c child ----------------------------------------------------------------
    def release_child(self) -> int:
        """Let the -c command run; returns its pid."""
        if self.child is None:
            raise UsageError("there is no command to run: start pytrace with -c CMD")
        if self.child.released:
            raise UsageError(f"the command (pid {self.child.pid}) was already started")
        self.child.release()
        return self.child.pid

    def child_exit(self) -> int | None:
        """The -c child's exit status once it ended (reaped), else None."""
        if self.child is None or not self.child.poll():
            return None
        return self.child.status

    # -- the end -----------------------------------------------------------------------
    def finish(self) -> int:
        """Stop every probe, run END probes, print the maps as the CLI does at
        exit; returns the exit status (exit()'s code, else 0)."""
        if self.finished:
            return self.exit_code
        self.finished = True
        stop_now([a for lp in self.probes for a in lp.attachments])
        self.events.drain()
        self.events.ignoring = False
        for lp in self.probes:
            if lp.special == "END":
                for prog, fd in zip(lp.programs, lp.prog_fds):
                    self.attacher.run_once(prog, fd)
                self.events.drain()
        self.map_reader.print_at_exit(self.printer, self.events.lost)
        return self.exit_code

    def close(self) -> None:
        self.stack.close()

    def script_text(self) -> str:
        """The live probes as one script (``.save``)."""
        return "".join(lp.text.rstrip() + "\n\n" for lp in self.probes).rstrip("\n") + "\n" \
            if self.probes else ""


def session_maps(kernel: KernelInfo, limits) -> list[MapSpec]:
    """The maps every input shares from the start: the event buffer (ring
    or perf buffer) and pytrace's counters."""
    if kernel.has(Feature.RINGBUF):
        events = MapSpec(EVENTS_MAP, MapKind.RINGBUF, 0, 0, limits.ringbuf_size, user=False)
    else:
        events = MapSpec(EVENTS_MAP, MapKind.PERF_EVENT_ARRAY, 4, 4,
                         max(kernel.ncpus, 1), user=False)
    counters = MapSpec(COUNTERS_MAP, MapKind.ARRAY, 4, 8 * COUNTER_SLOTS, 1, user=False)
    return [events, counters]


def load_input(loader: Loader, program, unit: CompiledScript, pending: ExitStack,
               private: ExitStack, built: list[LiveProbe]) -> dict:
    """Load one input: the maps the session lacks are made (its scratch map
    owned by ``private``, the others by ``pending``) and each probe's
    programs loaded into the probe's own stack. Its probes are appended to
    ``built`` as they are made, so a failure midway leaves none unowned
    (``LiveSession.add`` closes them). Returns the new shared maps,
    name -> (spec, map)."""
    fds = loader.map_fds()
    new_maps = {}
    for spec in unit.maps:
        if spec.name in loader.maps:
            continue
        owner = private if spec.name == SCRATCH_MAP else pending
        m = create_map(spec, owner, loader.map_batch)
        fds[spec.name] = m.fd
        if spec.name != SCRATCH_MAP:
            new_maps[spec.name] = (spec, m)
    for index, probe in enumerate(program.probes):
        programs = [p for p in unit.probes if p.source == index]
        lp = LiveProbe(0, probe.loc.text(), programs[0].special if programs else "",
                       [t for p in programs for t in p.targets], programs)
        built.append(lp)
        for p in programs:
            lp.prog_fds.append(loader.load_program(p, fds, lp.stack))
    return new_maps
