"""The one-shot run: compile -> load -> attach -> poll -> print -> tear down.

A ``Session`` wires the parts the live session holds too: a ``Loader``
(maps and programs), an ``Attacher`` (probes, BEGIN/END), an
``EventStream`` (the event buffer, one handler per event kind), a
``MapReader`` (maps printed at exit) and the builtins' userspace
``Services``. Every fd, map, program, perf event and link it opens is owned
by one ``ExitStack``, closed on every way out (exit(), Ctrl-C, SIGTERM, the
``-c`` child exiting, an exception, an attach failing midway), so nothing is
left behind in the kernel. The attachments go first and fast
(``detach.tear_down``): every program stops at once, and the perf events'
slow closes are left to a closer process, so the run returns as soon as
its maps are printed.
"""
from __future__ import annotations

from contextlib import ExitStack

from ..lang.kernelinfo import KernelInfo
from ..lang.program import CompiledScript
from .attacher import AttachContext, Attacher, Attachments
from .eventloop import (FINAL_DRAIN, STOP_DONE, STOP_SIGNAL, Ending, EventStream, Signals,
                        poll_until_stopped)
from .loader import Loader
from .mapreader import MapReader
from .options import Options       # also where callers import it from
from .services import ServiceContext, Services

#: the map programs send their events through
EVENTS_MAP = "events"


class Session:
    def __init__(self, options: Options, printer, dump_out=None):
        self.options = options
        self.printer = printer
        self.dump_out = dump_out
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
        #: every probe's attachments, closed before the programs and maps
        self.attachments = Attachments()

    # -- what the parts hold -----------------------------------------------------------
    @property
    def script(self) -> CompiledScript | None:
        return self.loader.script

    @property
    def maps(self) -> dict:
        return self.loader.maps

    @property
    def prog_fds(self) -> dict[int, int]:
        return self.loader.prog_fds

    @property
    def exit_code(self) -> int:
        return self.ending.exit_code

    @property
    def stop_reason(self) -> str | None:
        return self.ending.reason

    # -- set-up ------------------------------------------------------------------
    def prepare(self) -> None:
        """Check privileges, learn the kernel, start a held -c child."""
        from .prepare import learn_kernel, start_processes
        self.kernel = learn_kernel(self.options)
        self.child, self.watched = start_processes(self.options, self.stack)

    def compile(self) -> CompiledScript:
        from .compiling import compile_script
        from .prepare import program_constants
        self.loader.script = compile_script(self.options, self.kernel,
                                            program_constants(self.options, self.child),
                                            self.printer, self.dump_out)
        return self.loader.script

    def load(self) -> None:
        from ..lang.kernelinfo import Feature
        self.loader.map_batch = self.kernel.has(Feature.MAP_BATCH)
        self.loader.load(self.loader.script, self.stack)

    # -- running -------------------------------------------------------------------
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
        self.events.open(EVENTS_MAP, self.stack)
        self.services.start_needed(self.script)
        attacher = Attacher(AttachContext(self.kernel, self.options.pid,
                                          self.child.pid if self.child is not None else None,
                                          force=self.options.force,
                                          warn=self.printer.message))
        attacher.sweep(self.script.probes)
        with Signals() as signals:
            self._run_once("BEGIN", attacher)
            if self.ending.reason is None:
                attached = self._attach_all(attacher)
                if not self.options.quiet:
                    self.printer.attached(attached)
                if self.child is not None:
                    self.child.release()
                if all(p.special for p in self.script.probes):
                    self.ending.reason = STOP_DONE
                else:
                    poll_until_stopped(self.events, signals, self.child or self.watched,
                                       self.options.timeout, self.stack,
                                       self.map_reader.lost_counted)
            # no program runs from here on; the perf events close in the background
            self.attachments.stop_now()
            # what probes sent before they stopped; after a signal only for a
            # bounded time (the rest is counted as lost)
            self.events.finish(FINAL_DRAIN if self.ending.reason == STOP_SIGNAL else None)
            self.events.ignoring = False    # END speaks even after exit()
            self._run_once("END", attacher)
            self.map_reader.print_at_exit(self.printer, self.events.lost,
                                          self.events.reported_lost)
        return self.exit_code

    def _run_once(self, which: str, attacher: Attacher) -> None:
        for probe in self.script.probes:
            if probe.special == which:
                attacher.run_once(probe, self.prog_fds[probe.index])
        self.events.drain()

    def _attach_all(self, attacher: Attacher) -> int:
        self.stack.callback(self.attachments.close)
        count = 0
        for probe in self.script.probes:
            count += len(probe.targets)
            if not probe.special:
                attacher.attach(probe, self.prog_fds[probe.index], self.attachments.keep)
        skipped = attacher.context.skipped
        if skipped and skipped == sum(len(p.targets) for p in self.script.probes
                                      if not p.special):
            from ..base.diagnostics import RuntimeFailure
            raise RuntimeFailure(f"none of the {skipped} probes the script names could be "
                                 "attached")
        return count - skipped

    # -- what printers ask ---------------------------------------------------------------
    def resolve(self, how, value: int) -> str | None:
        """Text for values userspace prints specially (probe names …)."""
        return self.services.resolve(how, value)

    def resolve_stack(self, stack_type, value: int) -> str:
        """A stack as bpftrace prints it (output.Resolvers.stack)."""
        return self.services.resolve_stack(stack_type, value)

    def dump_map(self, name: str):
        return self.map_reader.dump(name)

    def close(self) -> None:
        self.stack.close()
