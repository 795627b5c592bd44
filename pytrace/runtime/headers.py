"""Where ``#include`` finds headers: ``-I`` directories, the including
file's own directory for ``"…"``, then the system's include directories
(linux-libc-dev's ``/usr/include/linux``, ``asm``, glibc's). A header that
is not installed is skipped: with BTF the types come from BTF (bpftrace's
own tools include kernel-internal headers such as ``<net/sock.h>``)."""
from __future__ import annotations

import os
import platform
import re

SYSTEM_DIRS = ("/usr/local/include", f"/usr/include/{platform.machine()}-linux-gnu",
               "/usr/include")


def reader(include_dirs: tuple[str, ...] = (), script_dir: str = "."):
    """A ``Preprocessor`` reader over the file system."""
    def read(name: str, angle: bool, here: str):
        dirs = ([] if angle else [here or script_dir]) + list(include_dirs) + list(SYSTEM_DIRS)
        for d in dirs:
            path = os.path.normpath(os.path.join(d, name))
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    return path, f.read()
            except OSError:
                continue
        return None
    return read


def preprocess(options, kernel) -> str:
    """The script's text after the preprocessor (unchanged when it has no
    directive and no --include)."""
    from ..lang.kernelinfo import Feature
    from ..lang.preprocess import Preprocessor, has_directives
    includes = options.includes
    if not includes and not has_directives(options.text):
        return _with_enumerators(options.text, kernel, None)
    defines = {"__x86_64__": "1", "__linux__": "1", "__GNUC__": "4", "__STDC__": "1",
               "__BPFTRACE__": "1"} if platform.machine() == "x86_64" else {
               "__linux__": "1", "__GNUC__": "4", "__STDC__": "1", "__BPFTRACE__": "1"}
    if kernel is not None and kernel.has(Feature.BTF):
        defines["BPFTRACE_HAVE_BTF"] = "1"
    script_dir = os.path.dirname(options.name) if options.name not in ("-e", "<input>") else "."
    pp = Preprocessor(reader(options.include_dirs, script_dir),
                      defines)
    for inc in includes:
        if not os.path.isfile(inc):
            from ..base.diagnostics import UsageError
            raise UsageError(f"--include {inc}: no such file")
    return _with_enumerators(pp.script(options.text, options.name, includes), kernel, pp)


#: an upper-case name used as a value: not a member (. ->), variable, map
#: or attach-point part; C enumerators are spelt so
_CONSTANT = re.compile(r"(?<![\w.$@>:])([A-Z][A-Z0-9_]*[A-Z0-9])\b(?!\s*[:(])")


def _with_enumerators(text: str, kernel, pp) -> str:
    """Upper-case names no #define gave are looked up as the kernel's BTF
    enumerators (bpftrace resolves them so); those found are expanded as
    macros. Nothing changes when no such name is in the code."""
    from ..lang.preprocess import Preprocessor, blank_comments
    code = _STRINGS.sub('""', blank_comments(text))
    names = {m.group(1) for m in _CONSTANT.finditer(code)}
    if pp is not None:
        names -= set(pp.macros)
    if not names or kernel is None:
        return text
    from ..lang.kernel_types import enumerators
    values = enumerators(kernel, names)
    if not values:
        return text
    expander = Preprocessor(lambda *a: None, {k: str(v) for k, v in values.items()})
    return "\n".join(expander.expand(line, None, n + 1)
                     for n, line in enumerate(text.split("\n")))


_STRINGS = re.compile(r'"(?:\\.|[^"\\\n])*"')
