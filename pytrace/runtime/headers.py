"""Where ``#include`` finds headers: ``-I`` directories, the including
file's own directory for ``"…"``, then the system's include directories
(linux-libc-dev's ``/usr/include/linux``, ``asm``, glibc's). A header that
is not installed is skipped: with BTF the types come from BTF (bpftrace's
own tools include kernel-internal headers such as ``<net/sock.h>``)."""
from __future__ import annotations

import os
import platform

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
        return options.text
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
    return pp.script(options.text, options.name, includes)
