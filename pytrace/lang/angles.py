"""Angle-bracket probe bodies: ``kprobe:f < @[comm] = count() >``.

The design card writes bodies in angle brackets. This pass rewrites such a
body's ``<``/``>`` to ``{``/``}`` in place (same length, so every location
stays right) before the grammar sees the text:

- ``<`` opens a body only where a body may start: after a probe list or a
  predicate;
- the body's ``>`` is the first one followed (after whitespace and comments)
  by the end of input, another probe, or ``BEGIN``/``END``. Any other ``>``
  is greater-than, so ``BEGIN < $x = 2 > 1; exit() >`` works.
"""
from __future__ import annotations

import re

_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(:(/[^\s,{}]*|[^\s,{}/<>:]*))+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROBE_START = re.compile(r"([A-Za-z_][A-Za-z0-9_]*:|(BEGIN|END|begin|end)(?![A-Za-z0-9_]))")
_CONFIG = re.compile(r"config\s*=\s*\{")


def _skip_blank(text: str, i: int) -> int:
    """Past whitespace and comments."""
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            break
    return i


def _skip_string(text: str, i: int) -> int:
    """``i`` is at an opening quote; returns the index after the closing one."""
    i += 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _scan(text: str, i: int, stop) -> int:
    """Index of the first character (outside strings and comments) for which
    ``stop(i)`` holds, or ``len(text)``."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
        elif text.startswith("//", i) or text.startswith("/*", i):
            i = _skip_blank(text, i)
        elif stop(i):
            return i
        else:
            i += 1
    return n


def _matching_brace(text: str, i: int) -> int:
    depth = 0

    def stop(j: int) -> bool:
        nonlocal depth
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            return depth == 0
        return False

    return _scan(text, i, stop)


def _is_body_close(text: str, j: int) -> bool:
    if text[j] != ">":
        return False
    if j > 0 and text[j - 1] in "->":       # '->' and '>>'
        return False
    if j + 1 < len(text) and text[j + 1] in "=>":
        return False
    k = _skip_blank(text, j + 1)
    return k == len(text) or _PROBE_START.match(text, k) is not None


def rewrite_angle_bodies(text: str) -> str:
    if "<" not in text:
        return text
    out = list(text)
    n, i = len(text), 0
    while True:
        i = _skip_blank(text, i)
        if i >= n:
            break
        if _CONFIG.match(text, i):
            i = _matching_brace(text, text.index("{", i)) + 1
            continue
        # the probe list
        while True:
            m = _SPEC.match(text, i) or _NAME.match(text, i)
            if not m:
                return "".join(out)       # not a probe: the parser will say so
            i = _skip_blank(text, m.end())
            if i < n and text[i] == ",":
                i = _skip_blank(text, i + 1)
                continue
            break
        # an optional predicate: its closing '/' is followed by the body
        if i < n and text[i] == "/":
            def pred_end(j: int) -> bool:
                if text[j] != "/":
                    return False
                k = _skip_blank(text, j + 1)
                return k < n and text[k] in "{<"
            i = _skip_blank(text, _scan(text, i + 1, pred_end) + 1)
        if i >= n:
            break
        if text[i] == "{":
            i = _matching_brace(text, i) + 1
        elif text[i] == "<":
            close = _scan(text, i + 1, lambda j: _is_body_close(text, j))
            if close >= n:
                break                      # unterminated: the parser reports it
            out[i], out[close] = "{", "}"
            i = close + 1
        else:
            break
    return "".join(out)
