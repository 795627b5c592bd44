"""Positional parameters ($1, $2 …): a number when the text is one (0x1f,
010 and 12 alike, as int() with base 0 reads them), else the text; 0 when
not given, as in bpftrace. The script's own options (``--name=value`` and
``--flag`` after ``--``, read by ``getopt()``) are among the parameters as
given and are not counted as positional ones."""
from __future__ import annotations

from . import ast as A


def positional(params: list[str]) -> list[str]:
    """The parameters that are ``$1 … $N`` (not ``--name`` options)."""
    return [p for p in params if not p.startswith("--")]


def named_options(params: list[str]) -> dict[str, str | None]:
    """``--name=value`` -> value, ``--name`` -> None (a flag)."""
    out: dict[str, str | None] = {}
    for p in params:
        if p.startswith("--") and len(p) > 2:
            name, eq, value = p[2:].partition("=")
            out[name] = value if eq else None
    return out


def param_value(params: list[str], n: int) -> int | str:
    params = positional(params)
    if not 1 <= n <= len(params):
        return 0
    raw = params[n - 1]
    try:
        return int(raw, 0)
    except ValueError:
        return raw


def param_text(params: list[str], n: int) -> str:
    """The parameter as written (what str($N) gives), "" when not given."""
    params = positional(params)
    return params[n - 1] if 1 <= n <= len(params) else ""


def const_value(e: A.Expr, params: list[str]) -> int | None:
    """An integer literal or a numeric parameter's value, else None."""
    if isinstance(e, A.IntLit):
        return e.value
    if isinstance(e, A.Positional):
        p = param_value(params, e.index)
        return p if isinstance(p, int) else None
    if isinstance(e, A.Unary) and e.op == "-":
        v = const_value(e.operand, params)
        return None if v is None else -v
    return None
