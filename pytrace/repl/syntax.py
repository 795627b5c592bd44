"""What the REPL knows about the text being typed, without prompt-toolkit:
whether an input is complete (its braces balance), which words to offer
for completion where the cursor is, and how to colour the language.

Pure and fast (a character scan per keystroke, no regular expressions,
no parser): the REPL's prompt-toolkit glue (``repl.py``) wraps these.
"""
from __future__ import annotations

from ..base.record import record

KEYWORDS = frozenset({"if", "else", "while", "for", "unroll", "return", "break", "continue",
                      "let", "sizeof", "offsetof", "struct", "union", "enum"})
#: probe types whose second part is a kernel function (completed from BTF)
FUNCTION_PROVIDERS = frozenset({"kprobe", "kretprobe", "fentry", "fexit", "k", "kr", "f", "fr"})
#: completion lists longer than this are cut (tens of thousands of functions)
MAX_CANDIDATES = 1000

_IDENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
_SPEC_STOP = frozenset(" \t\r\n,{}/")


@record(frozen=True)
class Candidate:
    """One completion: ``text`` replaces the word before the cursor."""
    text: str
    display: str = ""
    meta: str = ""


@record(frozen=True)
class ScanState:
    """Where a scan of the input ended."""
    depth: int = 0              # open braces
    string: bool = False        # inside "..."
    block_comment: bool = False
    predicate: bool = False     # inside /.../ at the top level
    bracket: int = 0            # open ( and [


def scan(text: str) -> ScanState:
    depth = bracket = 0
    string = block = predicate = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if block:
            if c == "*" and text.startswith("*/", i):
                block = False
                i += 1
        elif string:
            if c == "\\":
                i += 1
            elif c == '"':
                string = False
        elif c == '"':
            string = True
        elif c == "/" and text.startswith("//", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif c == "/" and text.startswith("/*", i):
            block = True
            i += 1
        elif c == "{":
            depth += 1
            predicate = False
        elif c == "}":
            depth -= 1
        elif c in "([":
            bracket += 1
        elif c in ")]":
            bracket -= 1
        elif c == "/" and depth <= 0:
            predicate = not predicate
        i += 1
    return ScanState(depth, string, block, predicate, bracket)


def is_complete(text: str) -> bool:
    """Whether Enter should run the input: a command, an empty line, probes
    whose braces balance (a probe's name and predicate alone, an unclosed
    string or comment continue on the next line), or anything after an
    empty line (which is how to get out of a mistake: the parser says what
    is wrong)."""
    stripped = text.strip()
    if not stripped or stripped.startswith("."):
        return True
    if "\n" in text and not text.rsplit("\n", 1)[1].strip():
        return True
    state = scan(text)
    if state.string or state.block_comment:
        return False
    return state.depth < 0 or state.depth == 0 and "{" in text


def indent_for(text: str) -> str:
    """Indentation for the next line of an unfinished block."""
    return "  " * max(scan(text).depth, 0)


# ---------------------------------------------------------------- completion

class Words:
    """What completion draws from (the REPL gives the live session's; tests
    give fixed lists). Every method returns a list; none may be slow twice."""

    def providers(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(name, aliases, doc) of each probe type."""
        return []

    def listing(self, provider: str) -> list[str]:
        """Probe names a probe type lists (``interval:s:N``)."""
        return []

    def whole_probes(self, provider: str) -> tuple[str, ...]:
        """Probes the type names whole, without a colon (BEGIN, END)."""
        return ()

    def tracepoint_names(self, provider: str) -> bool:
        """Whether the type's probes are tracepoints (CATEGORY:EVENT)."""
        return False

    def tracepoints(self) -> list[tuple[str, str]]:
        return []

    def kernel_functions(self) -> list[str]:
        return []

    def builtins(self) -> list[tuple[str, str, str]]:
        """(name, "variable" or "function", doc line)."""
        return []

    def maps(self) -> list[str]:
        return []

    def probe_numbers(self) -> list[int]:
        return []


#: dot-commands and what their argument is
COMMANDS = {
    ".help": "", ".probes": "", ".detach": "probe", ".print": "map", ".clear": "map",
    ".watch": "map", ".save": "file", ".load": "file", ".info": "", ".quit": "",
    ".run": "", ".set": "map", ".delete": "map",
}


def complete(before: str, words: Words) -> tuple[int, list[Candidate]]:
    """Completions for the text before the cursor: (how many characters
    before the cursor they replace, candidates)."""
    stripped = before.lstrip()
    if stripped.startswith("."):
        return _complete_command(stripped, words)
    state = scan(before)
    if state.string or state.block_comment:
        return 0, []
    if state.depth <= 0 and not state.predicate:
        word = _word_back(before, _SPEC_STOP)
        return len(word), _probe_specs(word, words)
    return _complete_expr(before, words)


def _word_back(text: str, stops: frozenset) -> str:
    i = len(text)
    while i > 0 and text[i - 1] not in stops:
        i -= 1
    return text[i:]


def _prefixed(items, prefix: str) -> list:
    return [x for x in items if x.startswith(prefix)]


def _probe_specs(word: str, words: Words) -> list[Candidate]:
    parts = word.split(":")
    if len(parts) == 1:
        out = []
        for name, aliases, doc in words.providers():
            if words.whole_probes(name):
                out += [Candidate(n, n, doc) for n in words.whole_probes(name)
                        if n.startswith(word)]
            elif name.startswith(word) or any(a.startswith(word) and word for a in aliases):
                out.append(Candidate(name + ":", name, doc))
        return out
    provider = parts[0]
    known = {n: (n, aliases) for n, aliases, _ in words.providers()}
    for name, aliases, _ in words.providers():
        for a in aliases:
            known[a] = (name, aliases)
    full = known.get(provider, (provider, ()))[0]
    if words.tracepoint_names(full):
        return _tracepoints(provider, parts[1:], words)
    if provider in FUNCTION_PROVIDERS and len(parts) == 2:
        names = _prefixed(words.kernel_functions(), parts[1])[:MAX_CANDIDATES]
        return [Candidate(f"{provider}:{n}", n, "kernel function") for n in names]
    if provider in known:
        rest = word[len(provider):]
        return [Candidate(provider + n[len(full):], n[len(full) + 1:] or n, "")
                for n in words.listing(full) if n[len(full):].startswith(rest)]
    return []


def _tracepoints(provider: str, parts: list[str], words: Words) -> list[Candidate]:
    if len(parts) == 1:
        cats = sorted({c for c, _ in words.tracepoints() if c.startswith(parts[0])})
        return [Candidate(f"{provider}:{c}:", c, "category") for c in cats[:MAX_CANDIDATES]]
    if len(parts) == 2:
        cat, prefix = parts
        names = [n for c, n in words.tracepoints() if c == cat and n.startswith(prefix)]
        return [Candidate(f"{provider}:{cat}:{n}", n, "tracepoint")
                for n in names[:MAX_CANDIDATES]]
    return []


def _complete_expr(before: str, words: Words) -> tuple[int, list[Candidate]]:
    i = len(before)
    while i > 0 and before[i - 1] in _IDENT:
        i -= 1
    sigil = before[i - 1] if i > 0 and before[i - 1] in "@$" else ""
    word = before[i:]
    if sigil == "@":
        return len(word) + 1, [Candidate(m, m, "map") for m in sorted(words.maps())
                               if m.startswith("@" + word)]
    if sigil == "$" or (i > 0 and (before[i - 1] == "." or before.endswith("->", 0, i))):
        return 0, []
    if not word or word[0].isdigit():
        return 0, []
    out = []
    for name, kind, doc in words.builtins():
        if name.startswith(word):
            out.append(Candidate(name + ("(" if kind == "function" else ""), name, doc))
    out += [Candidate(k, k, "keyword") for k in sorted(KEYWORDS) if k.startswith(word)]
    return len(word), out


def _complete_command(text: str, words: Words) -> tuple[int, list[Candidate]]:
    head, space, rest = text.partition(" ")
    if not space:
        return len(head), [Candidate(c, c, "") for c in COMMANDS if c.startswith(head)]
    kind = COMMANDS.get(head, "")
    word = rest.split(" ")[-1]
    if kind == "map":
        if " " in rest.strip() and head in (".watch", ".set", ".delete"):
            return 0, []
        return len(word), [Candidate(m, m, "map") for m in sorted(words.maps())
                           if m.startswith(word)]
    if kind == "probe":
        options = [str(n) for n in words.probe_numbers()] + ["all"]
        return len(word), [Candidate(o, o, "") for o in options if o.startswith(word)]
    return 0, []


# ---------------------------------------------------------------- highlighting

STYLES = {
    "probe": "ansicyan bold", "keyword": "ansimagenta bold", "builtin": "ansiblue",
    "function": "ansiblue bold", "map": "ansiyellow", "var": "ansigreen",
    "number": "ansired", "string": "ansigreen", "comment": "ansibrightblack italic",
    "command": "ansicyan", "predicate": "",
}


def highlight(text: str, builtin_names: frozenset[str] = frozenset()
              ) -> list[list[tuple[str, str]]]:
    """Each line of ``text`` as (style class, text) fragments."""
    if text.lstrip().startswith("."):
        return [[("class:command", line)] for line in text.split("\n")]
    lines: list[list[tuple[str, str]]] = []
    frags: list[tuple[str, str]] = []
    depth = 0
    i, n = 0, len(text)
    block = pred = False
    while i < n:
        c = text[i]
        if c == "\n":
            lines.append(frags)
            frags = []
            i += 1
            continue
        if block or text.startswith("/*", i):
            end = text.find("*/", i + (0 if block else 2))
            stop = n if end < 0 else end + 2
            nl = text.find("\n", i, stop)
            if nl >= 0:
                frags.append(("class:comment", text[i:nl]))
                block = True
                i = nl
                continue
            frags.append(("class:comment", text[i:stop]))
            block = end < 0
            i = stop
            continue
        if text.startswith("//", i):
            nl = text.find("\n", i)
            stop = n if nl < 0 else nl
            frags.append(("class:comment", text[i:stop]))
            i = stop
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n) if j < n and text[j] == '"' else j
            frags.append(("class:string", text[i:j]))
            i = j
            continue
        if depth <= 0 and c == "/":
            pred = not pred
            frags.append(("", c))
            i += 1
            continue
        if depth <= 0 and not pred and c not in _SPEC_STOP:
            j = i
            while j < n and text[j] not in _SPEC_STOP:
                j += 1
            frags.append(("class:probe", text[i:j]))
            i = j
            continue
        if c in "@$":
            j = i + 1
            while j < n and text[j] in _IDENT:
                j += 1
            frags.append(("class:map" if c == "@" else "class:var", text[i:j]))
            i = j
            continue
        if c.isdigit():
            j = i
            while j < n and (text[j] in _IDENT):
                j += 1
            frags.append(("class:number", text[i:j]))
            i = j
            continue
        if c in _IDENT:
            j = i
            while j < n and text[j] in _IDENT:
                j += 1
            word = text[i:j]
            k = j
            while k < n and text[k] in " \t":
                k += 1
            if word in KEYWORDS:
                style = "class:keyword"
            elif k < n and text[k] == "(" and (word in builtin_names or not builtin_names):
                style = "class:function"
            elif word in builtin_names:
                style = "class:builtin"
            else:
                style = ""
            frags.append((style, word))
            i = j
            continue
        if c == "{":
            depth += 1
            pred = False
        elif c == "}":
            depth -= 1
        frags.append(("", c))
        i += 1
    lines.append(frags)
    return lines
