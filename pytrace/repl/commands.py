"""The REPL's dot-commands: ``.probes``, ``.detach``, ``.print``, ``.watch`` …

Each takes the rest of the line and works through the ``LiveSession``;
user mistakes raise PytraceError subclasses, which the REPL prints before
the next prompt.
"""
from __future__ import annotations

import inspect

from ..base.diagnostics import PytraceError, UsageError

HELP = [
    ("PROBE { ... }", "compile, load and attach probes at once (BEGIN runs now, END at the end)"),
    (".probes", "the live probes: number, hits, probe, how it is attached"),
    (".detach N|all", "stop probe N (or all of them) and unload it; maps stay"),
    (".print [@m ...]", "print maps (all of them, or these) as they are now"),
    (".clear [@m ...]", "empty maps (all of them, or these)"),
    (".watch @m [SECS]", "show a map, refreshed every SECS seconds (1), until a key is pressed"),
    (".set @m[k] = v", "write a map entry (numbers, strings, tuples)"),
    (".delete @m[k]", "delete a map entry"),
    (".run", "start the -c command (it waits until then)"),
    (".save FILE", "write the live probes as a script"),
    (".load FILE", "add the probes of a script"),
    (".info", "the kernel features pytrace found"),
    (".help", "this list"),
    (".quit", "end: detach everything, run END, print the maps (also Ctrl-D)"),
]


class Commands:
    def __init__(self, repl):
        self.repl = repl
        self.session = repl.session
        self.table = {
            ".help": self.help, ".probes": self.probes, ".detach": self.detach,
            ".print": self.print, ".clear": self.clear, ".watch": self.watch,
            ".set": self.set, ".delete": self.delete, ".run": self.run_child,
            ".save": self.save, ".load": self.load, ".info": self.info, ".quit": self.quit,
            ".exit": self.quit,
        }

    async def run(self, text: str) -> None:
        name, _, arg = text.partition(" ")
        handler = self.table.get(name)
        try:
            if handler is None:
                raise UsageError(f"unknown command {name}" + _did_you_mean(name, self.table)
                                 + "; .help lists the commands")
            result = handler(arg.strip())
            if inspect.isawaitable(result):
                await result
        except PytraceError as err:
            self.repl.error(err)

    # -- the commands ------------------------------------------------------------
    def help(self, arg: str) -> None:
        width = max(len(c) for c, _ in HELP)
        self.repl.show("\n".join(f"  {c:<{width}}  {text}" for c, text in HELP))

    def probes(self, arg: str) -> None:
        s = self.session
        if not s.probes:
            self.repl.show("no probes yet: type one, e.g. "
                           "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }")
            return
        rows = [("#", "hits", "probe", "attached through")]
        for lp in s.probes:
            hits = s.hits(lp)
            rows.append((str(lp.number), "-" if hits is None else str(hits), lp.name,
                         lp.mechanism))
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        w2 = max(len(r[2]) for r in rows)
        lines = [f"{a:>{w0}}  {b:>{w1}}  {c:<{w2}}  {d}".rstrip() for a, b, c, d in rows]
        if not s.has_hit_counts:
            lines.append("(no hit counts: the kernel lacks BPF_ENABLE_STATS, Linux 5.8)")
        self.repl.show("\n".join(lines))

    def detach(self, arg: str) -> None:
        if arg == "all":
            gone = self.session.detach_all()
            self.repl.say(f"detached {len(gone)} probe{'s' if len(gone) != 1 else ''}")
            return
        if not arg.isdigit():
            raise UsageError("write .detach N (a number from .probes) or .detach all")
        lp = self.session.detach(int(arg))
        self.repl.say(f"probe {lp.number} detached: {lp.name}")

    def print(self, arg: str) -> None:
        names = arg.split() or None
        if not self.session.print_maps(names):
            self.repl.say("no map has values yet" if not names else
                          f"{' '.join(names)}: empty")

    def clear(self, arg: str) -> None:
        cleared = self.session.live_maps.clear_maps(arg.split() or None)
        self.repl.say(f"cleared {', '.join(cleared)}" if cleared else "no maps to clear")

    async def watch(self, arg: str) -> None:
        parts = arg.split()
        if not parts or len(parts) > 2:
            raise UsageError("write .watch @map [SECONDS]")
        name = parts[0]
        self.session.live_maps.map_spec(name)
        secs = 1.0
        if len(parts) == 2:
            try:
                secs = float(parts[1])
            except ValueError:
                secs = 0
            if not secs > 0:
                raise UsageError(f".watch: '{parts[1]}' is not a number of seconds")
        from .watch import watch
        await watch(self.repl, name, secs)

    def set(self, arg: str) -> None:
        self.session.write_entry(arg)
        self.repl.say(f"set {arg.strip()}")

    def delete(self, arg: str) -> None:
        if not self.session.delete_entry(arg):
            self.repl.say(f"{arg.strip()}: no such key")
        else:
            self.repl.say(f"deleted {arg.strip()}")

    def run_child(self, arg: str) -> None:
        pid = self.session.release_child()
        self.repl.say(f"started process {pid}: {' '.join(self.session.child.argv)}")

    def save(self, arg: str) -> None:
        if not arg:
            raise UsageError("write .save FILE")
        text = self.session.script_text()
        if not text:
            raise UsageError("there are no probes to save")
        try:
            with open(arg, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as err:
            raise UsageError(f"cannot write {arg}: {err.strerror}") from None
        n = len(self.session.probes)
        self.repl.say(f"saved {n} probe{'s' if n != 1 else ''} to {arg}")

    def load(self, arg: str) -> None:
        if not arg:
            raise UsageError("write .load FILE")
        try:
            with open(arg, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as err:
            raise UsageError(f"cannot read {arg}: {err.strerror}") from None
        self.repl.add(text, arg)

    def info(self, arg: str) -> None:
        from ..tools.info import print_info
        print_info(self.repl.out, self.session.options.masked)
        self.repl.out.flush()

    def quit(self, arg: str) -> None:
        self.repl.ending = True


def _did_you_mean(name: str, table) -> str:
    import difflib
    near = difflib.get_close_matches(name, list(table), n=1, cutoff=0.75)
    return f" (did you mean {near[0]}?)" if near else ""
