"""Userspace services builtins need while a script runs.

Some builtins need userspace to do part of their work: ``kstack``,
``ustack``, ``ksym`` and ``usym`` print symbols (``"symbols"``), ``load()``
reads a map's entries from a file (``"mapfiles"``). A builtin's record
names its service (``userspace``); ``SERVICES`` maps each name to the class
that provides it. A session holds one ``Services``, which makes each
service the first time something asks for it, polls the running ones with
the event buffer and closes them with the session.

``needed_at_start`` is the one place that knows which services must run
before any probe attaches, because what they serve can vanish before it is
printed (processes whose user addresses are recorded).
"""
from __future__ import annotations

from contextlib import ExitStack

from ..base.record import record
from ..lang.program import CompiledScript


@record(eq=False)
class ServiceContext:
    """What a service may use: the session's loaded script and maps (a
    ``loader.Loader``), the stack that closes the service, the -p process."""
    loader: object
    stack: ExitStack
    pid: int | None = None


class SymbolService:
    """Kernel and user symbols (``symbols.resolver.Symbolizer``, made on
    first use); for user addresses it follows processes' mappings."""

    def __init__(self, context: ServiceContext):
        self.context = context
        self._symbolizer = None

    def symbolizer(self):
        if self._symbolizer is None:
            from ..symbols.resolver import Symbolizer
            self._symbolizer = Symbolizer(self.context.loader.maps)
            self.context.stack.callback(self._symbolizer.close)
        return self._symbolizer

    def start(self) -> None:
        """User stacks and usym() need the mappings of the processes they
        come from, which may exit before maps print: follow them from now
        (before anything is attached or the -c child runs). Idempotent."""
        symbols = self.symbolizer()
        if not symbols.tracking:
            from ..kernel.maps import online_cpus
            symbols.track_processes(online_cpus())
            if self.context.pid is not None:
                symbols.watch(self.context.pid)

    def stack(self, stack_type, value: int) -> str:
        return self.symbolizer().stack(stack_type, value)

    def special(self, how, value: int) -> str | None:
        return self.symbolizer().special(how, value)

    def fileno(self) -> int:
        return self._symbolizer.fileno() if self._symbolizer is not None else -1

    def poll(self) -> None:
        if self._symbolizer is not None:
            self._symbolizer.poll()


class MapFileService:
    """``load(@map, file)``: a map's entries from a file, read when the
    program asks (``runtime.mapedit.load_file``)."""

    def __init__(self, context: ServiceContext):
        self.context = context

    def start(self) -> None:
        pass

    def load(self, map_name: str, path: str) -> int:
        from .mapedit import load_file
        return load_file(self.context.loader, map_name, path)

    def fileno(self) -> int:
        return -1

    def poll(self) -> None:
        pass


class _Passive:
    """A service with nothing to poll or start."""

    def __init__(self, context: ServiceContext):
        self.context = context

    def start(self) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def poll(self) -> None:
        pass


class ShellService(_Passive):
    """``system(cmd)`` (--unsafe): the command runs through ``/bin/sh -c``,
    system()'s documented meaning (bpftrace runs it with popen), and its
    standard output is what the script prints; its standard error goes to
    ours. The trace waits for it, as bpftrace does."""

    def run(self, command: str) -> str:
        import subprocess
        done = subprocess.run(["/bin/sh", "-c", command], stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, check=False)
        return done.stdout.decode("utf-8", "surrogateescape")


class FileService(_Passive):
    """``cat(file)``: the file's contents, or bpftrace's error line."""

    def cat(self, path: str) -> tuple[str, str | None]:
        """(contents, None) or ("", the error to print on stderr)."""
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "surrogateescape"), None
        except OSError as err:
            return "", f"ERROR: failed to open file '{path}': {err.strerror}"


#: service name (a builtin record's ``userspace``) -> what provides it
SERVICES: dict[str, type] = {
    "symbols": SymbolService,
    "mapfiles": MapFileService,
    "shell": ShellService,
    "files": FileService,
}


def needed_at_start(script: CompiledScript) -> list[str]:
    """The services ``script`` needs running before its probes attach.

    A compiled script does not list the builtins it used, so this reads
    what they left in it: maps of user addresses (user stacks, ``usym()``,
    ``lang.builtins.stacks.holds_user_addresses``) need ``"symbols"``
    following processes from the start. Other services start on first use."""
    from ..lang.builtins.stacks import holds_user_addresses
    if any(holds_user_addresses(m.name) for m in script.maps):
        return ["symbols"]
    return []


class Services:
    """The services of one session, each made on first use."""

    def __init__(self, context: ServiceContext):
        self.context = context
        self.running: dict[str, object] = {}

    def get(self, name: str):
        service = self.running.get(name)
        if service is None:
            service = self.running[name] = SERVICES[name](self.context)
        return service

    def start_needed(self, script: CompiledScript) -> None:
        """Start what ``script`` needs from the start (idempotent)."""
        for name in needed_at_start(script):
            self.get(name).start()

    def filenos(self) -> list[int]:
        """Fds to wait on with the event buffer (a service's own events)."""
        return [fd for fd in (s.fileno() for s in self.running.values()) if fd >= 0]

    def poll(self) -> None:
        for service in list(self.running.values()):
            service.poll()

    # -- what printers ask (render.output.Resolvers) ---------------------------------
    def resolve(self, how, value: int) -> str | None:
        """Text for a value userspace prints specially (probe names, symbols)."""
        from ..lang.types import Formatted
        script = self.context.loader.script
        if how is Formatted.PROBE and script is not None:
            return script.probe_names.get(value)
        if how in (Formatted.KSYM, Formatted.USYM):
            return self.get("symbols").special(how, value)
        return None

    def resolve_stack(self, stack_type, value: int) -> str:
        """A stack as bpftrace prints it (render.output.Resolvers.stack)."""
        return self.get("symbols").stack(stack_type, value)
