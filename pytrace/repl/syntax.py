"""What the REPL knows about the text being typed, without prompt-toolkit:
whether an input is complete (its braces balance), which words to offer
for completion where the cursor is, and how to colour the language.

All three read the compiler's own tokens: ``lang.lexer.tolerant_tokens``,
the parser's lexer in the mode that takes unfinished or wrong input, over
the text the parser would see (``lang.parser.prepare``). The REPL's
prompt-toolkit glue (``app.py``) wraps these.
"""
from __future__ import annotations

from functools import cache

from ..base.record import record
from ..lang import lexer
from ..lang.lalr import Token, tables
from ..lang.parser import prepare

#: completion lists longer than this are cut (tens of thousands of functions)
MAX_CANDIDATES = 1000
#: how the word being completed starts: a name, a probe, a number, @map, $var
_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789@$")


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
    string: bool = False        # inside "..." (on the last line)
    block_comment: bool = False
    predicate: bool = False     # inside /.../ at the top level
    bracket: int = 0            # open ( and [
    opened: bool = False        # a block was opened


def tokens(text: str) -> list[Token]:
    """``text`` as the compiler's lexer reads it (``tolerant_tokens``)."""
    return lexer.tolerant_tokens(prepare(text), tables())


@cache
def keywords() -> frozenset[str]:
    """The words offered as keywords (from the grammar's tables)."""
    return lexer.keywords(tables())


@cache
def _keyword_types() -> frozenset[str]:
    return frozenset(tables().keywords.values()) | {"STRUCTKW"}


@cache
def function_probe_types() -> frozenset[str]:
    """Spellings of the probe types whose second part is a kernel function
    (completed from BTF): the kernel-function providers of the registry."""
    from ..providers import REGISTRY, by_name
    from ..providers.kernel_function import KernelFunctionProvider
    registry = by_name()
    return frozenset(s for _, _, spellings in REGISTRY
                     if isinstance(registry[spellings[0]], KernelFunctionProvider)
                     for s in spellings)


def _end(token: Token) -> int:
    return token.start_pos + len(token)


def scan(text: str) -> ScanState:
    toks = tokens(text)
    nesting = lexer.Nesting()
    for tok in toks:
        nesting.step(tok.type)
    last = toks[-1] if toks else None
    string = last is not None and last.type == lexer.OPEN_STRING and _end(last) == len(text)
    block = last is not None and last.type == lexer.OPEN_COMMENT
    return ScanState(nesting.depth, string, block, nesting.predicate, nesting.bracket,
                     any(tok.type == "LBRACE" for tok in toks))


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
    return state.depth < 0 or state.depth == 0 and state.opened


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
    toks = tokens(before)
    at_cursor = toks[-1] if toks and _end(toks[-1]) == len(before) else None
    if at_cursor is not None and at_cursor.type in (
            lexer.COMMENT, lexer.OPEN_COMMENT, lexer.OPEN_STRING):
        return 0, []
    word = ""
    if at_cursor is not None and before[at_cursor.start_pos] in _WORD_START:
        word = before[at_cursor.start_pos:]
        toks = toks[:-1]
    nesting = lexer.Nesting()
    for tok in toks:
        nesting.step(tok.type)
    if nesting.top:
        return len(word), _probe_specs(word, words)
    return _complete_expr(word, toks[-1].type if toks else "", words)


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
    if provider in function_probe_types() and len(parts) == 2:
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


def _complete_expr(word: str, previous: str, words: Words) -> tuple[int, list[Candidate]]:
    """``word`` is typed in an expression, after a ``previous`` token type."""
    if word.startswith("@"):
        return len(word), [Candidate(m, m, "map") for m in sorted(words.maps())
                           if m.startswith(word)]
    if not word or word[0] in "$0123456789" or previous in ("DOT", "ARROW"):
        return 0, []
    out = []
    for name, kind, doc in words.builtins():
        if name.startswith(word):
            out.append(Candidate(name + ("(" if kind == "function" else ""), name, doc))
    out += [Candidate(k, k, "keyword") for k in sorted(keywords()) if k.startswith(word)]
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
    lines: list[list[tuple[str, str]]] = [[]]

    def put(style: str, chunk: str) -> None:
        first, *rest = chunk.split("\n")
        if first:
            lines[-1].append((style, first))
        for part in rest:
            lines.append([(style, part)] if part else [])

    toks = tokens(text)
    nesting = lexer.Nesting()
    pos = 0
    for i, tok in enumerate(toks):
        put("", text[pos:tok.start_pos])
        pos = _end(tok)
        following = toks[i + 1].type if i + 1 < len(toks) else ""
        put(_style(tok, nesting.top, following, builtin_names), text[tok.start_pos:pos])
        nesting.step(tok.type)
    put("", text[pos:])
    return lines


_STYLE_OF = {
    "PROBE_SPEC": "class:probe", "MAPNAME": "class:map", "VAR": "class:var",
    "POSITIONAL": "class:var", "PARAMCOUNT": "class:var", "INT": "class:number",
    "STRING": "class:string", lexer.OPEN_STRING: "class:string",
    lexer.COMMENT: "class:comment", lexer.OPEN_COMMENT: "class:comment",
}


def _style(tok: Token, top: bool, following: str, builtin_names: frozenset[str]) -> str:
    """A token's style class; ``top``: where a probe may start,
    ``following``: the next token's type."""
    type_ = tok.type
    if type_ in _keyword_types():
        return "class:keyword"
    if type_ not in ("NAME", "INTTYPE"):
        return _STYLE_OF.get(type_, "")
    if top:
        return "class:probe"
    if following == "LPAR" and (tok in builtin_names or not builtin_names):
        return "class:function"
    return "class:builtin" if tok in builtin_names else ""
