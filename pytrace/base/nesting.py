"""How deeply a script may nest, and the Python stack the compiler gets for it.

The parser, checker, lowerer and dumpers walk the syntax tree recursively.
``MAX_NESTING`` bounds the tree's depth: the LALR driver counts each node's
depth as it reduces (a list, never recursion) and a deeper script is a
located error "nested too deeply". Long left-associative chains such as a
500-term ``1+1+…`` are one level per operator, so they fit as well.

Every stage that recurses over the tree runs inside ``deep_stack()``, which
raises Python's recursion limit for the duration to what ``MAX_NESTING``
levels need (Python-to-Python calls in CPython 3.11+ do not grow the C
stack, so this is safe on the main thread's default 8 MiB stack).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

#: the deepest syntax tree accepted: nested blocks, ifs, loops, ternaries,
#: unary operators and operator chains each count one level per nesting
MAX_NESTING = 1000

#: Python frames a walk may need per tree level (the checker and lowerer
#: take a few per level), plus room for the code around the walk
FRAMES_PER_LEVEL = 8
_NEEDED = MAX_NESTING * FRAMES_PER_LEVEL + 2000


@contextmanager
def deep_stack():
    """Run a tree walk with room for ``MAX_NESTING`` levels."""
    old = sys.getrecursionlimit()
    if old < _NEEDED:
        sys.setrecursionlimit(_NEEDED)
    try:
        yield
    finally:
        if old < _NEEDED:
            sys.setrecursionlimit(old)
