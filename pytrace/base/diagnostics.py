"""Source locations and the messages that point at them.

Every error a user can cause renders as::

    -e:1:14: error: '+' needs two integers, not a string and an integer
    BEGIN { $x = "a" + 1; }
                 ~~~~~~~
    hint: to join strings use strcat(), or print both with printf("%s%d")

``FILE`` is the script's path, ``-e`` for a program given on the command
line and ``-`` for standard input.
"""
from __future__ import annotations

from .record import field, record
from enum import Enum


@record(frozen=True, eq=False)
class Source:
    name: str
    text: str

    def line(self, n: int) -> str:
        lines = self.text.split("\n")
        return lines[n - 1] if 0 < n <= len(lines) else ""


@record(frozen=True)
class Loc:
    """A span of source: 1-based line and column, end column exclusive."""
    source: Source | None
    line: int
    col: int
    end_line: int
    end_col: int

    def __repr__(self) -> str:
        return f"Loc({self.line}:{self.col}-{self.end_line}:{self.end_col})"

    @property
    def file(self) -> str:
        return self.source.name if self.source else "<unknown>"

    def text(self) -> str:
        if self.source is None:
            return ""
        lines = self.source.text.split("\n")[self.line - 1:self.end_line]
        if not lines:
            return ""
        if len(lines) == 1:
            return lines[0][self.col - 1:self.end_col - 1]
        lines[0] = lines[0][self.col - 1:]
        lines[-1] = lines[-1][:self.end_col - 1]
        return "\n".join(lines)


NOWHERE = Loc(None, 0, 0, 0, 0)


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@record(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    loc: Loc = NOWHERE
    hint: str | None = None
    #: further located remarks ("the map was first used here")
    notes: tuple["Diagnostic", ...] = field(default=())

    def render(self) -> str:
        return render(self)


def underline(loc: Loc) -> list[str]:
    """The source line and a line of ``~`` under the span (``^`` for a point)."""
    if loc.source is None or loc.line <= 0:
        return []
    src = loc.source.line(loc.line).expandtabs(1)
    if not src.strip():
        return []
    start = max(loc.col - 1, 0)
    end = loc.end_col - 1 if loc.end_line == loc.line else len(src)
    width = max(end - start, 1)
    mark = "^" if width == 1 and end - start < 1 else "~" * width
    return [src, " " * start + mark]


def render(diag: Diagnostic) -> str:
    loc = diag.loc
    if loc.source is None:
        where = ""
    elif loc.line > 0:
        where = f"{loc.file}:{loc.line}:{loc.col}: "
    else:
        where = f"{loc.file}: "           # the whole file (an empty program)
    out = [f"{where}{diag.severity.value}: {diag.message}"]
    out += underline(loc)
    if diag.hint:
        out.append(f"hint: {diag.hint}")
    for note in diag.notes:
        out.append(render(note))
    return "\n".join(out)


class PytraceError(Exception):
    """Base of every error pytrace reports to a user (never as a traceback)."""
    exit_code = 1

    def render(self) -> str:
        return f"error: {self}"


class CompileError(PytraceError):
    """One or more located errors in a script (exit status 2)."""
    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class FeatureError(CompileError):
    """A probe the running kernel cannot attach by any mechanism pytrace
    knows (no kprobes and no fentry, …): located like a compile error, but
    exit status 1, the status of a missing kernel feature."""
    exit_code = 1


class MissingProbe(CompileError):
    """A probe spec that names nothing (a function its binary lacks): in a
    block with others, config missing_probes decides whether it is an error."""


def error(message: str, loc: Loc = NOWHERE, hint: str | None = None) -> CompileError:
    return CompileError(Diagnostic(Severity.ERROR, message, loc, hint))


class UsageError(PytraceError):
    """Wrong command-line use (exit status 2)."""
    exit_code = 2


class RuntimeFailure(PytraceError):
    """Load, attach or kernel-feature failure (exit status 1)."""
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.hint = hint
        self.detail = detail

    def render(self) -> str:
        out = [f"error: {self}"]
        if self.detail:
            out.append(self.detail.rstrip("\n"))
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


class OutputError(PytraceError):
    """Writing the trace's output failed (ENOSPC, EIO, …; a closed pipe is
    BrokenPipeError, which ends a tool quietly instead). Exit status 1."""
    exit_code = 1

    def __init__(self, err: OSError, where: str = "the output"):
        super().__init__(err.strerror or str(err))
        self.errno = err.errno
        self.where = where

    def render(self) -> str:
        return f"error: cannot write {self.where}: {self}"


class PrivilegeError(PytraceError):
    """Missing root or CAP_BPF+CAP_PERFMON (exit status 3)."""
    exit_code = 3
