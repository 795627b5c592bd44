"""Where pytrace keeps what it can rebuild: the generated parser, the kernel
feature table (per boot) and BTF name indexes.

``$PYTRACE_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytrace``, else
``~/.cache/pytrace``. Everything here may be deleted at any time.
"""
from __future__ import annotations

import os


def cache_dir() -> str:
    path = os.environ.get("PYTRACE_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "pytrace")
    return path


def write_atomic(path: str, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a
    concurrent reader sees the old file or the new one, never half of one.
    Returns False (and writes nothing) when the directory is not writable."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        return False
