"""Positional parameters ($1, $2 …): a number when the text is one (0x1f,
010 and 12 alike, as int() with base 0 reads them), else the text; 0 when
not given, as in bpftrace."""
from __future__ import annotations

from . import ast as A


def param_value(params: list[str], n: int) -> int | str:
    if not 1 <= n <= len(params):
        return 0
    raw = params[n - 1]
    try:
        return int(raw, 0)
    except ValueError:
        return raw


def param_text(params: list[str], n: int) -> str:
    """The parameter as written (what str($N) gives), "" when not given."""
    return params[n - 1] if 1 <= n <= len(params) else ""


def const_value(e: A.Expr, params: list[str]) -> int | None:
    """An integer literal or a numeric parameter's value, else None."""
    if isinstance(e, A.IntLit):
        return e.value
    if isinstance(e, A.Positional):
        p = param_value(params, e.index)
        return p if isinstance(p, int) else None
    return None
