"""The interactive REPL: ``pytrace`` with no script (or ``-i``).

Each input is probes (added at once, with a number) or a dot-command
(``.help``). Talks to the ``LiveSession`` only; prompt-toolkit is imported
here and nowhere else, when the REPL starts (extra ``repl``).

Events are read on prompt-toolkit's event loop (the reader's fd), so
printf output lands above the prompt (patch_stdout) while the line being
typed stays. Ctrl-C clears the line (or stops ``.watch``); Ctrl-D or
``.quit`` end the session: probes detach, END runs, the maps print as the
CLI prints them at exit, and nothing stays loaded.
"""
from __future__ import annotations

import asyncio
import datetime
import errno
import os
import signal
import stat
import sys

from ..base.diagnostics import PytraceError, RuntimeFailure
from ..runtime.live import LiveSession
from .syntax import STYLES, complete, highlight, indent_for, is_complete
from .commands import Commands
from .words import SessionWords
from ..runtime.options import Options

INSTALL_HINT = "pip install 'pytrace[repl]'"
PROMPT = "pytrace> "
CONTINUATION = "    ...> "


def history_path(environ=os.environ) -> str:
    """$XDG_STATE_HOME/pytrace/history, else ~/.local/state/pytrace/history;
    under sudo root's own ~root/.local/state/pytrace/history (a kept HOME or
    XDG_STATE_HOME is the invoking user's)."""
    if os.geteuid() == 0 and environ.get("SUDO_USER"):
        import pwd
        return os.path.join(pwd.getpwuid(0).pw_dir, ".local", "state", "pytrace", "history")
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "pytrace", "history")


def _require_prompt_toolkit() -> None:
    try:
        import prompt_toolkit  # noqa: F401
    except ImportError:
        raise RuntimeFailure("the interactive REPL needs prompt-toolkit: "
                             f"{INSTALL_HINT}") from None


def run_repl(options: Options, fmt: str = "text", out=None, err=None, initial=None, *,
             input=None, output=None, history: str | None = None) -> int:
    """Run a whole interactive session; returns the exit status.

    ``initial``: (text, name) loaded first (``pytrace -i -e PROGRAM``).
    ``input``/``output``: prompt-toolkit's (tests pass a pipe input and a
    dummy output); without them the terminal, with patch_stdout so output
    goes above the prompt. ``history``: a file, "" for none."""
    _require_prompt_toolkit()
    terminal = output is None
    out = out if out is not None else _Current("stdout")
    err = err if err is not None else _Current("stderr")
    session = LiveSession.printing(options, fmt, out, err)
    try:
        session.start()
        repl = Repl(session, out, err, input=input, output=output,
                    history=history_path() if history is None else history)
        if terminal:
            from prompt_toolkit.patch_stdout import patch_stdout
            with patch_stdout(raw=True):
                repl.run(initial)
        else:
            repl.run(initial)
        return session.finish()
    finally:
        session.close()


class _Current:
    """sys.stdout/sys.stderr as they are at each write (patch_stdout swaps them)."""

    def __init__(self, name: str):
        self.name = name

    def write(self, text: str) -> int:
        return getattr(sys, self.name).write(text)

    def flush(self) -> None:
        getattr(sys, self.name).flush()


class Repl:
    """The prompt, its completion and highlighting, and the loop that runs
    inputs and reads events; output goes to ``out`` (what the user asked
    for) and ``err`` (notices and errors)."""

    def __init__(self, session: LiveSession, out, err, *, input=None, output=None,
                 history: str = ""):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import ThreadedCompleter
        from prompt_toolkit.styles import Style
        self.session = session
        self.out, self.err = out, err
        self.input, self.output = input, output
        self.ending = False
        self.watching = None            # the .watch Application while it runs
        self.commands = Commands(self)
        words = SessionWords(session)
        self.prompt = PromptSession(
            multiline=True, key_bindings=_key_bindings(), completer=ThreadedCompleter(
                _completer(words)), lexer=_lexer(words.builtin_names()),
            history=_history(history), prompt_continuation=CONTINUATION,
            style=Style.from_dict({k: v for k, v in STYLES.items() if v}),
            complete_while_typing=False, include_default_pygments_style=False,
            input=input, output=output, erase_when_done=False)

    # -- output ----------------------------------------------------------------
    def say(self, text: str) -> None:
        """A notice (stderr, like the CLI's "Attached 2 probes")."""
        self.err.write(text.rstrip("\n") + "\n")
        self.err.flush()

    def show(self, text: str) -> None:
        """Output the user asked for (.probes, .help): stdout."""
        self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    def error(self, err: PytraceError) -> None:
        self.say(err.render())

    # -- the loop -----------------------------------------------------------------
    def run(self, initial=None) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.run_async(initial))
        finally:
            loop.close()

    async def run_async(self, initial=None) -> None:
        loop = asyncio.get_running_loop()
        watched = self._watch_fds(loop)
        try:
            loop.add_signal_handler(signal.SIGTERM, self._terminate)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        try:
            self.say("pytrace interactive session: type probes (they attach at once) or "
                     ".help; Ctrl-D ends")
            if initial is not None:
                self.add(*initial)
            while not self._should_end():
                try:
                    text = await self.prompt.prompt_async(PROMPT)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if self._should_end():
                    break
                try:
                    await self.execute(text)
                except KeyboardInterrupt:
                    self.say("interrupted")
                except Exception as err:        # a bug: keep the session and its maps
                    self.internal_error(err)
        finally:
            for fd in watched:
                loop.remove_reader(fd)
            try:
                loop.remove_signal_handler(signal.SIGTERM)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _watch_fds(self, loop) -> list[int]:
        fds = []
        fd = self.session.events_fileno()
        if fd is not None:
            loop.add_reader(fd, self._on_events)
            fds.append(fd)
        waited = self.session.child or self.session.watched
        if waited is not None and waited.pidfd >= 0:
            loop.add_reader(waited.pidfd, self._on_process_exit, loop, waited.pidfd)
            fds.append(waited.pidfd)
        return fds

    def _should_end(self) -> bool:
        return self.ending or self.session.should_end

    def internal_error(self, err: Exception) -> None:
        self.say(f"internal error (a bug in pytrace, please report it): "
                 f"{type(err).__name__}: {err}")

    def _on_events(self) -> None:
        try:
            stop = self.session.poll()
        except PytraceError as err:
            self.error(err)
            return
        except Exception as err:
            self.internal_error(err)
            return
        if stop:
            self.end_now()

    def _on_process_exit(self, loop, fd: int) -> None:
        loop.remove_reader(fd)
        session = self.session
        if session.child is not None:
            status = session.child_exit()
            self.say(f"process {session.child.pid} ({' '.join(session.child.argv)}) exited "
                     f"with status {status}")
        elif session.watched is not None:
            self.say(f"process {session.watched.pid} exited")
        self._on_events()

    def _terminate(self) -> None:
        self.session.terminate()
        self.end_now()

    def end_now(self) -> None:
        """End the session from an event (exit(), SIGTERM): leave the prompt."""
        self.ending = True
        if self.watching is not None and self.watching.is_running:
            self.watching.exit()
        app = self.prompt.app
        if app.is_running and app.future is not None and not app.future.done():
            app.exit(exception=EOFError())

    # -- inputs ----------------------------------------------------------------------
    async def execute(self, text: str) -> None:
        if not text.strip():
            return
        if text.lstrip().startswith("."):
            await self.commands.run(text.strip())
        else:
            self.add(text)
        self._on_events()

    def add(self, text: str, name: str | None = None) -> None:
        try:
            added = self.session.add(text, name)
        except PytraceError as err:
            self.error(err)
            return
        for lp in added:
            if lp.special == "BEGIN":
                self.say(f"probe {lp.number}: BEGIN ran")
            elif lp.special == "END":
                self.say(f"probe {lp.number}: END will run when the session ends")
            else:
                n = len(lp.attachments)
                self.say(f"probe {lp.number}: attached to {lp.name}" +
                         (f" ({n} attach points)" if n > 1 else ""))


# ---------------------------------------------------------------- prompt-toolkit glue

def _completer(words):
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    class PytraceCompleter(Completer):
        def get_completions(self, document, complete_event):
            before = document.text_before_cursor
            head = before.lstrip()
            if head.startswith((".save ", ".load ")):
                arg = head.split(" ", 1)[1].lstrip()
                yield from paths.get_completions(Document(arg, len(arg)), complete_event)
                return
            start, candidates = complete(before, words)
            for c in candidates:
                yield Completion(c.text, start_position=-start, display=c.display or None,
                                 display_meta=c.meta or None)

    return PytraceCompleter()


def _lexer(names: frozenset[str]):
    from prompt_toolkit.lexers import Lexer

    class PytraceLexer(Lexer):
        def lex_document(self, document):
            lines = highlight(document.text, names)
            return lambda i: lines[i] if i < len(lines) else []

    return PytraceLexer()


def _key_bindings():
    from prompt_toolkit.key_binding import KeyBindings
    kb = KeyBindings()

    @kb.add("enter")
    def _enter(event):
        buf = event.current_buffer
        if buf.complete_state is not None and buf.complete_state.current_completion:
            buf.complete_state = None           # take the chosen completion
            return
        if is_complete(buf.text):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n" + indent_for(buf.document.text_before_cursor))

    @kb.add("}")
    def _close(event):
        """Closing a block on a line of its own takes one indent back."""
        buf = event.current_buffer
        line = buf.document.current_line_before_cursor
        if line.endswith("  ") and not line.strip():
            buf.delete_before_cursor(2)
        buf.insert_text("}")

    return kb


def _history(path: str):
    """The history kept in ``path``: in a directory of the effective user's
    own (``base.cache.trusted_dir``), never through a symlink; in memory
    when that cannot be."""
    from prompt_toolkit.history import InMemoryHistory
    from ..base.cache import trusted_dir
    if not path or not trusted_dir(os.path.dirname(os.path.abspath(path)),
                                   "history directory"):
        return InMemoryHistory()
    try:
        os.close(_open_history(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
    except OSError as err:
        sys.stderr.write(f"warning: not keeping history in {path}: {err.strerror}\n")
        return InMemoryHistory()
    return _private_history(path)


def _open_history(path: str, flags: int) -> int:
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return fd


def _private_history(path: str):
    """prompt-toolkit's FileHistory, opening its file with O_NOFOLLOW."""
    from prompt_toolkit.history import FileHistory

    class PrivateHistory(FileHistory):
        def load_history_strings(self):
            try:
                os.close(_open_history(self.filename, os.O_RDONLY))
            except OSError:
                return []
            return super().load_history_strings()

        def store_string(self, string: str) -> None:
            try:
                fd = _open_history(self.filename, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            except OSError:
                return
            with os.fdopen(fd, "ab") as f:
                f.write(f"\n# {datetime.datetime.now()}\n".encode())
                for line in string.split("\n"):
                    f.write(f"+{line}\n".encode("utf-8", "surrogateescape"))

    return PrivateHistory(path)
