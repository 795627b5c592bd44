"""Command-line parsing only; the work is the session's.

Exit status: 0 success (also after Ctrl-C/SIGTERM once maps are printed),
``exit(code)`` gives code, 1 a runtime failure (load, attach, missing kernel
feature), 2 a usage or compile error, 3 missing privileges.
"""
from __future__ import annotations

import errno
import os
import signal
import sys

from . import __version__
from .base.diagnostics import OutputError, PytraceError, UsageError
from .runtime.options import limits_from_env, masked_features

USAGE = """\
usage: pytrace [options] (-e PROGRAM | FILE | -) [ARG ...]
       pytrace [-i] [-c CMD | -p PID]  the interactive REPL (needs prompt-toolkit)
       pytrace -l [PATTERN]       list probes (-lv: with their arguments)
       pytrace -l builtins[:GLOB] list builtin variables, functions and probe types
       pytrace --info             the kernel features pytrace found

options:
  -e PROGRAM        the program to run
  -c CMD            run CMD (split like a shell, no shell) and trace it: it is held
                    until every probe is attached; pytrace exits when it does
  -p PID            trace until process PID exits (cpid is PID)
  -i                interactive: probes typed at a prompt attach at once (also
                    with no program when standard input is a terminal); with
                    -c, the command waits for .run
  -f text|json      output format (default text)
  -o FILE           write output to FILE
  -B none|line|full output buffering (default line)
  -q                quiet: no "Attached N probes"
  -d STAGES         dump stages: ast, ir, asm (comma separated) or all
  --dry-run         compile and load into the verifier, do not attach
  -v                verifier statistics for each program
  --no-feature NAME pretend the kernel lacks a feature (ringbuf, test_run,
                    probe_read_user, percpu_lookup, link, kprobe, fentry,
                    map_batch, ...); repeatable
  --no-fallback     never run a kprobe as fentry (or fentry as a kprobe) when the
                    kernel lacks the mechanism written
  --force           xdp probes replace a program already on the interface
  --unsafe          allow actions that change the system (drop all traffic,
                    system(), signal(), override())
  --include FILE    preprocess FILE before the script (repeatable)
  -I DIR            search DIR first for #include files (repeatable)
  -l [PATTERN]      list probes matching PATTERN; -l builtins: builtins and
                    probe types with their docs (-lv: signatures, aliases)
  --info            print the kernel feature table
  --export prometheus[=HOST:PORT]
                    serve the script's maps on http://HOST:PORT/metrics while it
                    runs (default 127.0.0.1:9435; needs pip install 'pytrace[export]');
                    --export-prefix NAME (default pytrace), --export-max-series N
                    (per map, default 5000); '// export: @map labels=a,b' in the
                    script names a map's labels. With several script files:
                    an agent running them all (SIGHUP reloads changed files)
  -V, --version     print the version
  -h, --help        this help

environment: PYTRACE_MAX_STRLEN (1024), PYTRACE_MAX_MAP_KEYS (4096),
  PYTRACE_MAX_PROBES (4096), PYTRACE_MAX_PRINTF_ARGS (32), PYTRACE_CACHE_DIR
"""

DUMP_STAGES = ("ast", "ir", "asm")


class Args:
    def __init__(self):
        self.program: str | None = None
        self.file: str | None = None
        self.params: list[str] = []
        self.command: str | None = None
        self.pid: int | None = None
        self.fmt = "text"
        self.output: str | None = None
        self.buffering = "line"
        self.quiet = False
        self.dump: set[str] = set()
        self.dry_run = False
        self.verbose = False
        self.masked: list[str] = []
        self.list: str | None = None
        self.list_verbose = False
        self.info = False
        self.version = False
        self.help = False
        self.interactive = False
        self.no_fallback = False
        self.force = False
        self.unsafe = False
        self.includes: list[str] = []           # --include FILE
        self.include_dirs: list[str] = []       # -I DIR
        self.export: tuple | None = None        # --export: see _set_export
        self.export_prefix: str | None = None
        self.export_max_series: int | None = None


_WITH_VALUE = {"-e", "-c", "-p", "-f", "-o", "-B", "-d", "--no-feature", "-I",
               "--include"}


def parse_args(argv: list[str]) -> Args:
    """bpftrace-style arguments: options, then the script file (unless -e),
    then its positional parameters ($1, $2 …). Option parsing stops at the
    first parameter or at ``--``."""
    a = Args()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or _is_number(arg) and a.file is not None:
            if a.program is None and a.file is None:
                a.file = arg
                continue
            i -= 1
            break
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        short_with_value = not arg.startswith("--") and len(arg) > 2 and arg[:2] in _WITH_VALUE
        if name in _WITH_VALUE or short_with_value:
            if short_with_value:
                name, value = arg[:2], arg[2:]
            elif eq:
                value = inline
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise UsageError(f"{name} needs a value")
            _set(a, name, value)
        elif name in ("-l", "-lv"):
            a.list = ""
            a.list_verbose = name == "-lv"
            if i < len(argv) and not argv[i].startswith("-"):
                a.list = argv[i]
                i += 1
        elif name in _FLAGS:
            setattr(a, _FLAGS[name], True)
        else:
            raise UsageError(f"unknown option {arg} (see pytrace --help)")
    a.params = argv[i:]
    return a


_FLAGS = {"-q": "quiet", "-v": "verbose", "--dry-run": "dry_run", "--info": "info",
          "-V": "version", "--version": "version", "-h": "help", "--help": "help",
          "-i": "interactive", "--interactive": "interactive", "--no-fallback": "no_fallback",
          "--force": "force", "--unsafe": "unsafe"}


def _is_number(text: str) -> bool:
    return text[1:].isdigit() if text.startswith("-") else text.isdigit()


#: the largest pid Linux can give (PID_MAX_LIMIT on 64-bit kernels)
PID_MAX_LIMIT = 4194304


def _set(a: Args, name: str, value: str) -> None:
    if name == "-e":
        a.program = value
    elif name == "-c":
        if not value.strip():
            raise UsageError("-c needs a command, e.g. -c 'sleep 1'")
        a.command = value
    elif name == "-I":
        a.include_dirs.append(value)
    elif name == "--include":
        a.includes.append(value)
    elif name == "-p":
        if not value.isdigit():
            raise UsageError(f"-p takes a process id, not '{value}'")
        if len(value) > 10 or not 0 < int(value) <= PID_MAX_LIMIT:
            raise UsageError(f"-p: {value} is not a process id (they are 1 to "
                             f"{PID_MAX_LIMIT})")
        a.pid = int(value)
    elif name == "-f":
        if value not in ("text", "json"):
            raise UsageError(f"-f takes text or json, not '{value}'")
        a.fmt = value
    elif name == "-o":
        a.output = value
    elif name == "-B":
        if value not in ("none", "line", "full"):
            raise UsageError(f"-B takes none, line or full, not '{value}'")
        a.buffering = value
    elif name == "-d":
        for stage in value.split(","):
            if stage == "all":
                a.dump.update(DUMP_STAGES)
            elif stage in DUMP_STAGES:
                a.dump.add(stage)
            else:
                raise UsageError(f"-d: unknown stage '{stage}' (use {', '.join(DUMP_STAGES)} "
                                 "or all)")
    elif name == "--no-feature":
        a.masked += [v for v in value.split(",") if v]
    elif name in _EXPORT_WITH_VALUE:
        _set_export(a, name, value)


def _read_program(a: Args) -> tuple[str, str]:
    if a.program is not None:
        if a.file is not None:
            a.params.insert(0, a.file)
        return a.program, "-e"
    if a.file is None:
        raise UsageError("no program: give -e PROGRAM, a script file, or - for standard input")
    if a.file == "-":
        return sys.stdin.read(), "-"
    try:
        with open(a.file, encoding="utf-8", errors="surrogateescape") as f:
            return f.read(), a.file
    except OSError as err:
        raise UsageError(f"cannot read {a.file}: {err.strerror}") from None


def _configure_stdout(stream, buffering: str) -> None:
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return
    if buffering == "none":
        reconfigure(line_buffering=True, write_through=True)
    elif buffering == "line":
        reconfigure(line_buffering=True)
    else:
        reconfigure(line_buffering=False)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    streams = [sys.stdout]
    where = "standard output"
    try:
        try:
            a = parse_args(argv)
            where = a.output or where
            try:
                rc = _dispatch(a, streams)
                _flush(streams[-1])
            except OSError as err:
                if isinstance(err, BrokenPipeError) or err.errno not in _OUTPUT_ERRNOS:
                    raise
                raise OutputError(err) from None    # a write to a line-buffered stdout
            return rc
        except PytraceError as err:
            if isinstance(err, OutputError):
                err.where = where
                if streams[-1] is sys.stdout:
                    _silence_stdout()
            _report(err)
            return err.exit_code
        except KeyboardInterrupt:
            return 0
        finally:
            if streams[-1] is not sys.stdout:
                try:
                    streams[-1].close()
                except OSError:             # already reported by _flush
                    pass
    except BrokenPipeError:
        _silence_stdout()
        return 128 + signal.SIGPIPE


def _report(err: PytraceError) -> None:
    sys.stderr.write(err.render().rstrip("\n") + "\n")
    sys.stderr.flush()


#: errors of a write that ends the run with "cannot write …"
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}


def _flush(out) -> None:
    """Whatever the run left buffered; a full disk shows here first."""
    try:
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise OutputError(err) from None


def _dispatch(a: Args, streams: list) -> int:
    out = streams[-1]
    if a.output:
        try:
            out = open(a.output, "w", encoding="utf-8", errors="surrogateescape")
        except OSError as err:
            raise UsageError(f"-o: cannot write {a.output}: {err.strerror}") from None
        streams.append(out)
    if a.help:
        out.write(USAGE)
        return 0
    if a.version:
        out.write(f"pytrace {__version__}\n")
        return 0
    _configure_stdout(out, a.buffering)
    if a.info:
        from .tools.info import print_info
        return print_info(out, masked_features(a.masked))
    if a.list is not None:
        from .tools.listing import print_listing
        return print_listing(out, a.list, a.list_verbose, masked_features(a.masked))
    if a.interactive or (a.program is None and a.file is None):
        if a.interactive or sys.stdin.isatty():
            return _repl(a, out)
    if a.export is not None:
        return _run_export(a, out)
    return _run(a, out)


def _options(a: Args, text: str, name: str, **changes):
    """The run's Options from the command line; ``changes`` override fields
    (the REPL and agent scripts start without -d, --dry-run, …)."""
    from .base.record import replace
    from .runtime.options import Options
    options = Options(text, name, a.params, _command(a), a.pid, a.quiet, frozenset(a.dump),
                      a.dry_run, a.verbose, masked_features(a.masked), limits_from_env(),
                      no_fallback=a.no_fallback, force=a.force, unsafe=a.unsafe,
                      includes=tuple(a.includes), include_dirs=tuple(a.include_dirs))
    return replace(options, **changes) if changes else options


def _run_session(a: Args, out, make_session) -> int:
    """Run the session ``make_session(printer)`` builds, its printer resolving
    symbols and stacks through that session; always closed."""
    from .render.output import Resolvers, make_printer
    ref: list = []
    printer = make_printer(a.fmt, out, sys.stderr,
                           Resolvers(special=lambda how, v: ref[0].resolve(how, v),
                                     stack=lambda t, v: ref[0].resolve_stack(t, v)))
    session = make_session(printer)
    ref.append(session)
    try:
        return session.run()
    except PytraceError as err:
        if isinstance(err, OutputError):
            raise
        # said before tear-down starts (it may take a while without BPF links)
        _report(err)
        return err.exit_code
    finally:
        session.close()


def _run(a: Args, out) -> int:
    from .runtime.session import Session
    options = _options(a, *_read_program(a))
    return _run_session(a, out, lambda printer: Session(options, printer, dump_out=out))


# -- --export (issue 13): the script's maps served to Prometheus (runtime/export/) --------
_EXPORT_WITH_VALUE = {"--export", "--export-prefix", "--export-max-series"}
_WITH_VALUE |= _EXPORT_WITH_VALUE


def _set_export(a: Args, name: str, value: str) -> None:
    if name == "--export":
        from .runtime.export.config import parse_export
        a.export = parse_export(value)
    elif name == "--export-prefix":
        a.export_prefix = value
    elif not value.isdigit() or int(value) == 0:
        raise UsageError(f"--export-max-series takes a positive number, not '{value}'")
    else:
        a.export_max_series = int(value)


def _run_export(a: Args, out) -> int:
    """A run with /metrics up while it lasts (prometheus_client is imported
    only here, so the plain CLI starts without it)."""
    from .runtime.export.server import require_client
    require_client()
    from .runtime.export.config import parse
    from .runtime.export.server import ExportingSession
    if a.file is not None and a.program is None and a.params and all(
            os.path.isfile(p) for p in a.params):
        return _run_agent(a, out, [a.file, *a.params])
    text, name = _read_program(a)
    config = parse(text, name, a.export_prefix, a.export_max_series)
    options = _options(a, text, name)
    return _run_session(a, out, lambda printer: ExportingSession(
        options, printer, config, a.export, dump_out=out,
        log=None if a.quiet else _export_log, version=__version__))


def _run_agent(a: Args, out, files: list[str]) -> int:
    """Several script files: agent mode (runtime/export/agent.py)."""
    from .runtime.export.agent import Agent
    if a.command is not None or a.pid is not None:
        raise UsageError("--export with several scripts runs them as an agent: -c and -p "
                         "apply to one script only")

    def options(text: str, name: str):
        return _options(a, text, name, params=[], quiet=True, dump=frozenset(),
                        dry_run=False)

    log = (lambda *_: None) if a.quiet else _export_log
    return Agent(files, options, (a.fmt, out, sys.stderr), a.export, a.export_prefix,
                 a.export_max_series, log, __version__).run()


def _export_log(level: str, event: str, detail: str) -> None:
    """The exporter's stderr log: one line, ``pytrace: LEVEL EVENT DETAIL``."""
    sys.stderr.write(f"pytrace: {level} {event} {detail}\n")
    sys.stderr.flush()
# -- end of --export ----------------------------------------------------------------------


def _repl(a: Args, out) -> int:
    """The interactive session (pytrace/repl.py); -e/FILE given with -i are
    its first input."""
    from .repl.app import run_repl
    initial = _read_program(a) if a.program is not None or a.file is not None else None
    options = _options(a, "", "<input>", dump=frozenset(), dry_run=False,
                       no_fallback=False, force=False)
    return run_repl(options, a.fmt, None if out is sys.stdout else out, initial=initial)


def _command(a: Args) -> list[str] | None:
    import shlex
    if a.command is None:
        return None
    try:
        return shlex.split(a.command)
    except ValueError as err:
        raise UsageError(f"-c: {err}") from None


def _silence_stdout() -> None:
    """After the reader of our stdout went away: point fd 1 at /dev/null so
    the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
