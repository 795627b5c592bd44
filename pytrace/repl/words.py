"""What the live session can tell completion: probe types, tracepoints,
kernel functions (BTF), builtins with their doc lines, maps in use, probe
numbers (the ``repl.syntax.Words`` interface). Each list is read once."""
from __future__ import annotations

from ..base.diagnostics import PytraceError
from .syntax import Words


class SessionWords(Words):
    """Completion words from the live session (repl.syntax.Words)."""

    def __init__(self, session):
        self.session = session
        self._tracepoints: list | None = None
        self._funcs: list | None = None
        self._listings: dict[str, list[str]] = {}
        self._builtins: list | None = None

    def providers(self):
        from ..tools.builtins_listing import probe_types
        return [(w.name, w.aliases, w.doc) for w in probe_types()]

    def whole_probes(self, provider: str) -> tuple[str, ...]:
        from ..providers import by_name
        p = by_name().get(provider)
        return p.whole_probes if p is not None else ()

    def tracepoint_names(self, provider: str) -> bool:
        from ..providers import by_name
        p = by_name().get(provider)
        return p is not None and p.tracepoint_names

    def listing(self, provider: str) -> list[str]:
        if provider not in self._listings:
            from ..providers import by_name
            p = by_name().get(provider)
            try:
                self._listings[provider] = p.listing("", self.session.kernel) if p else []
            except (PytraceError, OSError):
                self._listings[provider] = []
        return self._listings[provider]

    def tracepoints(self):
        if self._tracepoints is None:
            try:
                self._tracepoints = list(self.session.kernel.list_tracepoints("*:*"))
            except (PytraceError, OSError):
                self._tracepoints = []
        return self._tracepoints

    def kernel_functions(self):
        if self._funcs is None:
            try:
                btf = self.session.kernel.btf()
                self._funcs = sorted(set(btf.funcs())) if btf is not None else []
            except (PytraceError, OSError):
                self._funcs = []
        return self._funcs

    def builtins(self):
        """The words ``pytrace -l builtins`` lists, a function's meta
        line led by its calls."""
        if self._builtins is None:
            from ..tools.builtins_listing import builtin_words
            self._builtins = [(w.completion or w.name, w.kind,
                               f"{w.signature}: {w.doc}" if w.signature else w.doc)
                              for w in builtin_words()]
        return self._builtins

    def builtin_names(self) -> frozenset[str]:
        return frozenset(n for n, _, _ in self.builtins())

    def maps(self):
        return [m.name for m in self.session.live_maps.user_maps]

    def probe_numbers(self):
        return [p.number for p in self.session.probes]
