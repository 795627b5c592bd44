"""``getopt(name[, default[, help]])``: the script's own named options,
given after ``--`` on the command line (``-- --depth=10 --errname``), as
current bpftrace reads them. Without a default the option is a flag:
``true`` when given. With one it takes the default's type, an integer or a
string (``true`` and ``false`` are the numbers 1 and 0, so ``--name`` alone
sets a numeric option to 1). The value is a constant of the compiled
program."""
from __future__ import annotations

from .. import ast as A
from ..params import const_value, named_options
from ..types import BOOL, INT64, Str
from . import FnKind, Function


def _option(ck, e: A.Call):
    """(name, default node or None, given text or None, given at all)."""
    name = e.args[0].value
    given = named_options(ck.params)
    return name, (e.args[1] if len(e.args) > 1 else None), given.get(name), name in given


def _check_getopt(ck, e: A.Call):
    if not ck.expect_args(e, 1, 3):
        return INT64
    for i, a in enumerate(e.args):
        if i != 1 and not isinstance(a, A.StrLit):
            what = "name" if i == 0 else "help text"
            ck.error(f"getopt()'s {what} must be a string literal", a.loc)
            return INT64
    name, default, text, given = _option(ck, e)
    if default is None:
        if text is not None and text not in ("true", "false", "1", "0"):
            ck.error(f"--{name}={text}: getopt(\"{name}\") is a flag: give --{name} alone",
                     e.loc, "or give it true, false, 1 or 0")
        return BOOL
    if isinstance(default, A.StrLit):
        value = default.value if text is None else text
        return Str(len(value.encode()) + 1)
    if ck.const_int(default) is None:
        ck.error("getopt()'s default must be a number, a string or true/false", default.loc)
        return INT64
    if text is not None and _int(text) is None:
        ck.error(f"--{name}={text}: getopt(\"{name}\") takes a number", e.loc,
                 f"give it as --{name}=N (--{name} alone is 1: true and false are numbers)")
    return INT64


def _int(text: str) -> int | None:
    if text in ("true", "false"):
        return int(text == "true")
    try:
        return int(text, 0)
    except ValueError:
        return None


def _lower_getopt(lw, e: A.Call):
    name, default, text, given = _option(lw, e)
    t = lw.type_of(e)
    if isinstance(t, Str):
        return lw.str_const(default.value if text is None else text, e)
    if default is None:
        return int(given and (text is None or text in ("true", "1")))
    if text is None:
        return 1 if given else const_value(default, lw.params)
    return _int(text)


FUNCTIONS = (
    Function("getopt", 'getopt("name"[, default[, "help"]])',
             "the script option --name (given after --): a flag without a default, else "
             "the default's type", FnKind.EXPR, _check_getopt, _lower_getopt),
)
