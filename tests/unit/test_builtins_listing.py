"""``pytrace -l builtins``: every builtin variable and function and every
probe type with its one-line doc (``-lv``: a function's calls, a probe
type's other spellings), from the records the REPL completes from."""
import io
import subprocess
import sys

from pytrace.lang.builtins import registry
from pytrace.providers import providers
from pytrace.repl.words import SessionWords
from pytrace.tools.builtins_listing import builtin_words, print_builtins, probe_types


def run(*args):
    p = subprocess.run([sys.executable, "-m", "pytrace", *args], capture_output=True,
                       text=True, timeout=60)
    assert (p.returncode, p.stderr) == (0, "")
    return p.stdout


def rows(text):
    """kind, name and doc of each listed line."""
    out = []
    for line in text.splitlines():
        if not line.startswith(" "):
            kind, name, doc = line.split(None, 2)
            out.append((kind, name, doc))
    return out


def test_every_builtin_and_probe_type_is_listed_with_its_doc():
    listed = rows(run("-l", "builtins"))
    reg = registry()
    want = [("variable", n, v.doc) for n, v in sorted(reg.variables.items())]
    want += [("function", n, f.doc) for n, f in sorted(reg.functions.items())]
    want += [("probe", p.name, p.doc) for p in providers()]
    assert listed == want


def test_the_format():
    out = run("-l", "builtins").splitlines()
    assert out[0].startswith("variable  argN ")
    width = out[0].index("argument N")
    assert all(len(line) > width and line[width - 1] == " " for line in out)
    assert "probe     kprobe" in "\n".join(out)


def test_verbose_adds_calls_and_spellings():
    assert run("-lv", "builtins:print*") == (
        "function  print   print a map (optionally its top N entries, values divided by div)"
        " or a value\n"
        "    print(@map[, top[, div]])\n"
        "    print(value)\n"
        "function  printf  print formatted text (C printf conversions)\n"
        "    printf(fmt, ...)\n")
    out = io.StringIO()
    print_builtins(out, "kfunc", True)                # a probe type by another spelling
    assert out.getvalue() == (
        "probe     fentry  kernel function entry with typed args (BTF): fentry:FUNCTION\n"
        "    also: kfunc, f\n")
    assert run("-l", "builtins:nothing_is_called_this") == ""


def test_completion_offers_what_is_listed():
    words = SessionWords(None)
    listed = builtin_words()
    assert [name for name, _, _ in words.builtins()] == [
        w.completion or w.name for w in listed]
    assert "arg0" in words.builtin_names() and "argN" in {w.name for w in listed}
    assert [(kind, meta) for _, kind, meta in words.builtins()] == [
        (w.kind, f"{w.signature}: {w.doc}" if w.signature else w.doc) for w in listed]
    assert words.providers() == [(w.name, w.aliases, w.doc) for w in probe_types()]
