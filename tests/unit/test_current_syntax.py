"""Current bpftrace syntax (its main branch's docs/language.md): macros,
block values, ++/-- as values, for over ranges, if/while without
parentheses, statement ternaries, true/false and getopt(). Parsing and
macro expansion are checked on the syntax tree, checking and lowering
through the fake machine, and every error as a whole rendered message."""
import pytest

from pytrace.base.diagnostics import CompileError
from pytrace.lang import ast as A
from pytrace.lang.parser import parse
from pytrace.lang.params import named_options, param_value, positional

from tests.fakes import compile_error, compile_script


def body(text):
    """The first probe's statements, with locations dropped (equality
    ignores them)."""
    return parse(text).probes[0].body.stmts


def parse_error(text):
    with pytest.raises(CompileError) as info:
        parse(text)
    return info.value.render()


V, I = A.Var, A.IntLit


# -- if / while without parentheses, for over a range ------------------------------

def test_if_and_while_without_parentheses_parse_as_with_them():
    assert body("BEGIN { if $x > 1 { exit(); } else { $y = 2; } }") == \
        body("BEGIN { if ($x > 1) { exit(); } else { $y = 2; } }")
    assert body("BEGIN { while $i < 3 { $i++; } }") == body("BEGIN { while ($i < 3) { $i++; } }")


def test_for_over_a_range_both_spellings():
    loop = A.ForRange(V("i"), I(0), V("n"), A.Block((A.ExprStmt(A.Builtin("pid")),)))
    assert body("BEGIN { for $i : 0..$n { pid } }") == (loop,)
    assert body("BEGIN { for ($i : 0..$n) { pid } }") == (loop,)


def test_for_over_a_map_still_parses():
    assert isinstance(body("BEGIN { for ($kv : @m) { } }")[0], A.ForMap)
    assert isinstance(body("BEGIN { for $kv : @m { } }")[0], A.ForMap)


def test_range_bounds_must_be_integers():
    assert compile_error('BEGIN { for $i : 0.."a" { } }') == (
        "-e:1:21: error: a range's bounds must be integers, not a string\n"
        'BEGIN { for $i : 0.."a" { } }\n'
        "                    ~~~")


def test_range_loop_lowers_to_a_counted_loop():
    compile_script("BEGIN { for $i : 0..5 { if $i == 2 { continue; } "
                   "if $i == 4 { break; } printf(\"%d\\n\", $i); } }")


# -- ++ and -- as values -------------------------------------------------------------

def test_incdec_statement_is_a_compound_assignment():
    assert body("BEGIN { $x++; --@m[1]; }") == (
        A.CompoundAssign(V("x"), "+", I(1)),
        A.CompoundAssign(A.MapRef("@m", (I(1),)), "-", I(1)))


def test_incdec_values_keep_pre_and_post():
    (stmt,) = body("BEGIN { $y = $x++ + --@m; }")
    left, right = stmt.value.left, stmt.value.right
    assert isinstance(left, A.IncDec) and left.post and left.op == "+" and left.target == V("x")
    assert isinstance(right, A.IncDec) and not right.post and right.op == "-"


def test_incdec_needs_a_variable_or_a_map():
    assert compile_error("BEGIN { $y = (1 + 2)++; }") == (
        "-e:1:15: error: '++' changes a variable or a map, not this expression\n"
        "BEGIN { $y = (1 + 2)++; }\n"
        "              ~~~~~\n"
        "hint: write it on $name, @name or @name[key]")


def test_incdec_of_an_unassigned_variable():
    assert compile_error('BEGIN { printf("%d", $x++); }') == (
        "-e:1:22: error: $x is used before it is assigned\n"
        'BEGIN { printf("%d", $x++); }\n'
        "                     ~~\n"
        "hint: assign it first: $x = 0;")


# -- statement ternaries, booleans ---------------------------------------------------

def test_a_ternary_statement_runs_one_branch():
    (stmt,) = body('BEGIN { $x ? printf("a") : printf("b"); }')
    assert stmt == A.If(V("x"), A.Block((A.ExprStmt(A.Call("printf", (A.StrLit("a"),))),)),
                        A.Block((A.ExprStmt(A.Call("printf", (A.StrLit("b"),))),)))


def test_true_and_false_are_one_and_zero():
    assert body("BEGIN { $t = true; $f = false; }") == (
        A.AssignVar(V("t"), I(1)), A.AssignVar(V("f"), I(0)))


# -- block values and macros ---------------------------------------------------------

def test_a_block_value():
    (stmt,) = body("BEGIN { let $a = { let $b = 1; $b }; }")
    assert stmt == A.DeclareVar(V("a"), A.BlockExpr((A.DeclareVar(V("b"), I(1)),), V("b")))


def test_a_block_value_must_end_with_an_expression():
    assert parse_error("BEGIN { $a = { $b = 1; }; }") == (
        "-e:1:14: error: this block has no value: it must end with an expression\n"
        "BEGIN { $a = { $b = 1; }; }\n"
        "             ~~~~~~~~~~~\n"
        "hint: end it with the value, without a ';': { $x = 1; $x + 1 }")


MACROS = """
macro one() { 1 }
macro add_one(x) { x + 1 }
macro bump($a, @b) { $a += 1; @b += 1; }
macro twice(x) { x; x; }
macro local() { $t = 5; $t }
"""


def test_macro_values_and_bare_names():
    stmts = body(MACROS + "BEGIN { $r = one() + one; $s = add_one($r * 2); }")
    assert stmts == (A.AssignVar(V("r"), A.Binary("+", I(1), I(1))),
                     A.AssignVar(V("s"), A.Binary("+", A.Binary("*", V("r"), I(2)), I(1))))


def test_macro_variable_and_map_parameters_are_the_callers():
    stmts = body(MACROS + "BEGIN { bump($x, @y); }")
    assert stmts == (A.Block((A.CompoundAssign(V("x"), "+", I(1)),
                              A.CompoundAssign(A.MapRef("@y"), "+", I(1)))),)


def test_macro_variables_are_its_own():
    (stmt,) = body(MACROS + "BEGIN { $t = local(); }")
    assert stmt == A.AssignVar(V("t"), A.BlockExpr((A.AssignVar(V("t__local1"), I(5)),),
                                                   V("t__local1")))


def test_macro_expression_parameter_is_inserted_at_each_use():
    (stmt,) = body(MACROS + 'BEGIN { twice({ printf("hi") }); }')
    hi = A.ExprStmt(A.Call("printf", (A.StrLit("hi"),)))
    assert stmt == A.Block((hi, hi))
    assert stmt.stmts[0].expr is not stmt.stmts[1].expr      # nodes of their own


@pytest.mark.parametrize("text, message", [
    (MACROS + "BEGIN { bump(1, @y); }",
     "-e:7:14: error: macro bump() takes a scratch variable for $a\n"
     "BEGIN { bump(1, @y); }\n"
     "             ~\n"
     "hint: pass a variable such as $x, or name the parameter a to take any expression"),
    (MACROS + "BEGIN { bump($x, @y[1]); }",
     "-e:7:18: error: macro bump() takes a map for @b\n"
     "BEGIN { bump($x, @y[1]); }\n"
     "                 ~~~~~\n"
     "hint: pass a map by its name alone, such as @m"),
    ("macro m() { @x++ }\nBEGIN { m(); }",
     "-e:1:13: error: macro m() uses @x, which is not one of its parameters\n"
     "macro m() { @x++ }\n"
     "            ~~\n"
     "hint: pass the map in: macro m(…, @x)"),
    (MACROS + "BEGIN { $v = add_one(); }",
     "-e:7:14: error: macro add_one() takes 1 arguments, not 0\n"
     "BEGIN { $v = add_one(); }\n"
     "             ~~~~~~~"),
    (MACROS + "BEGIN { $v = bump($x, @y); }",
     "-e:7:14: error: macro bump() has no value: its body does not end with an expression\n"
     "BEGIN { $v = bump($x, @y); }\n"
     "             ~~~~~~~~~~~~\n"
     "hint: call it as a statement instead"),
    ("macro r(x) { r(x) }\nBEGIN { $v = r(1); }",
     "-e:1:14: error: macro r() expands into itself without end\n"
     "macro r(x) { r(x) }\n"
     "             ~~~~\n"
     "hint: a macro may not call itself"),
    ("macro m(a, a) { a }\nBEGIN { $v = m(1, 2); }",
     "-e:1:7: error: macro m() has two parameters named a\n"
     "macro m(a, a) { a }\n"
     "      ~"),
])
def test_macro_errors(text, message):
    assert parse_error(text) == message


def test_macros_compile_through_the_checker():
    compile_script(MACROS + 'BEGIN { $x = 1; bump($x, @y); printf("%d %d\\n", add_one($x), '
                   'local()); twice({ printf("hi") }); }')


# -- getopt and the script's options -------------------------------------------------

def test_named_options_are_not_positional():
    params = ["p1", "--", "--depth=7", "--flag", "20"]
    assert positional(params) == ["p1", "20"]
    assert named_options(params) == {"depth": "7", "flag": None}
    assert param_value(params, 2) == 20


def test_getopt_types():
    compile_script('BEGIN { printf("%d %d %s\\n", getopt("depth", 35, "max depth"), '
                   'getopt("flag"), getopt("who", "nobody")); }', params=["--", "--depth=3"])


def test_getopt_wants_a_number():
    text = 'BEGIN { @ = getopt("depth", 35); }'
    assert compile_error(text, params=["--", "--depth=x"]) == (
        '-e:1:13: error: --depth=x: getopt("depth") takes a number\n'
        + text + "\n"
        "            ~~~~~~~~~~~~~~~~~~~\n"
        "hint: give it as --depth=N (--depth alone is 1: true and false are numbers)")


def test_getopt_flag_with_a_value():
    text = 'BEGIN { @ = getopt("v"); }'
    assert compile_error(text, params=["--v=maybe"]) == (
        '-e:1:13: error: --v=maybe: getopt("v") is a flag: give --v alone\n'
        + text + "\n"
        "            ~~~~~~~~~~~\n"
        "hint: or give it true, false, 1 or 0")


def test_getopt_name_is_a_literal():
    assert compile_error("BEGIN { @ = getopt(comm); }") == (
        "-e:1:20: error: getopt()'s name must be a string literal\n"
        "BEGIN { @ = getopt(comm); }\n"
        "                   ~~~~")
