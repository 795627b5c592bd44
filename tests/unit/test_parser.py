"""The parser: script text to AST (pytrace.lang.parser.parse).

Every statement and expression form of grammar.lark is parsed and compared
with the AST built by hand (``==`` ignores locations), the angle-bracket
bodies of the design card must give the same AST as their brace forms, and
syntax errors are checked as the whole message a user sees.
"""
import pytest

from pytrace.base.diagnostics import CompileError
from pytrace.lang import ast as A
from pytrace.lang.dump import ast_lines
from pytrace.lang.parser import parse


# -- helpers ------------------------------------------------------------------

def I(v):                                  # noqa: E743 (short on purpose)
    return A.IntLit(v)


def S(v):
    return A.StrLit(v)


def B(name):
    return A.Builtin(name)


def V(name):
    return A.Var(name)


def M(name, *keys):
    return A.MapRef(name, tuple(keys))


def Bin(op, left, right):
    return A.Binary(op, left, right)


def Call(name, *args):
    return A.Call(name, tuple(args))


def Blk(*stmts):
    return A.Block(tuple(stmts))


def Expr(e):
    return A.ExprStmt(e)


def body(text):
    """The statements of ``BEGIN { text }``."""
    program = parse("BEGIN { " + text + " }")
    (probe,) = program.probes
    return probe.body.stmts


def expr(text):
    """The expression of the statement ``text;`` (a ternary, which as a
    statement is an ``if``, as the value of ``$v = text;``)."""
    (stmt,) = body(text + ";")
    if isinstance(stmt, A.If):
        (stmt,) = body(f"$v = {text};")
        return stmt.value
    assert isinstance(stmt, A.ExprStmt), stmt
    return stmt.expr


def probe(specs, *stmts, predicate=None):
    return A.Probe(tuple(A.ProbeSpec(s) for s in specs), predicate, Blk(*stmts))


def syntax_error(text, name="-e"):
    with pytest.raises(CompileError) as info:
        parse(text, name)
    return info.value.render()


# -- programs and probes ----------------------------------------------------------

def test_smallest_program():
    assert parse("BEGIN {}") == A.Program((probe(["BEGIN"]),))


def test_probe_lists_with_wildcards_and_paths():
    text = ("tracepoint:syscalls:sys_enter_*, t:sched:sched_sw?tch,END,\n"
            "uprobe:/bin/bash:readline, kprobe:vfs_*, interval:s:1, i:ms:100 { }")
    (p,) = parse(text).probes
    assert [s.text for s in p.specs] == [
        "tracepoint:syscalls:sys_enter_*", "t:sched:sched_sw?tch", "END",
        "uprobe:/bin/bash:readline", "kprobe:vfs_*", "interval:s:1", "i:ms:100"]
    assert [s.provider for s in p.specs] == [
        "tracepoint", "t", "END", "uprobe", "kprobe", "interval", "i"]


@pytest.mark.parametrize("text, specs, predicate", [
    ("uprobe:./prog:f { }", ["uprobe:./prog:f"], None),
    ("uprobe:bin/prog:f, u:../x/y.so:g { }", ["uprobe:bin/prog:f", "u:../x/y.so:g"], None),
    ("uprobe:./prog:f /pid == 1/ { }", ["uprobe:./prog:f"], "pid == 1"),
    ('uprobe:/bin/bash:"echo_builtin"+0 { }', ['uprobe:/bin/bash:"echo_builtin"+0'], None),
    ('uprobe:bin/prog:"f", usdt:./p:"prov":"probe" { }',
     ['uprobe:bin/prog:"f"', 'usdt:./p:"prov":"probe"'], None),
    # a predicate right after a name is no relative path: no ':' ends it
    ("kprobe:f/pid == 1/ { }", ["kprobe:f"], "pid == 1"),
    ("kprobe:f/pid/{ }", ["kprobe:f"], "pid"),
], ids=["dot-slash", "relative-dirs", "relative-then-predicate", "quoted-offset",
        "quoted-parts", "predicate-without-space", "predicate-then-brace"])
def test_relative_paths_and_quoted_names_in_specs(text, specs, predicate):
    (p,) = parse(text).probes
    assert [s.text for s in p.specs] == specs
    assert (p.predicate is None) == (predicate is None)
    if predicate is not None:
        assert text[p.predicate.loc.col - 1:p.predicate.loc.end_col - 1] == predicate


def test_trailing_comma_in_probe_list():
    assert parse("BEGIN, { }") == parse("BEGIN { }")


def test_several_probes_in_order():
    program = parse("BEGIN { @a = 1; }\nt:syscalls:sys_enter_read { @b = 2; }\nEND { @c = 3; }")
    assert program == A.Program((
        probe(["BEGIN"], A.AssignMap(M("@a"), I(1))),
        probe(["t:syscalls:sys_enter_read"], A.AssignMap(M("@b"), I(2))),
        probe(["END"], A.AssignMap(M("@c"), I(3))),
    ))


def test_predicate_with_division_inside():
    (p,) = parse("t:syscalls:sys_enter_read /args->count / 2 > 5/ { @ = count(); }").probes
    count = A.FieldAccess(B("args"), "count", True)
    assert p.predicate == Bin(">", Bin("/", count, I(2)), I(5))
    assert p.body == Blk(A.AssignMap(M("@"), Call("count")))


def test_predicate_with_comments_before_the_body():
    (p,) = parse("t:syscalls:sys_enter_read /pid == 1/ /* why */ // and\n { }").probes
    assert p.predicate == Bin("==", B("pid"), I(1))


def test_predicate_division_and_modulo_and_parentheses():
    (p,) = parse("BEGIN / (pid / 2) % 3 == 0 && $1 / $2 / { }").probes
    assert p.predicate == Bin(
        "&&", Bin("==", Bin("%", Bin("/", B("pid"), I(2)), I(3)), I(0)),
        Bin("/", A.Positional(1), A.Positional(2)))


def test_config_block():
    program = parse('config = { max_strlen = 64; stack_mode = perf; x = "s" }\nBEGIN { }')
    assert program.config == (A.ConfigItem("max_strlen", 64), A.ConfigItem("stack_mode", "perf"),
                              A.ConfigItem("x", "s"))
    assert program.probes == (probe(["BEGIN"]),)


def test_shebang_line_is_ignored_and_keeps_lines():
    program = parse("#!/usr/bin/env pytrace\nBEGIN { exit(); }\n", "script.pt")
    assert program == A.Program((probe(["BEGIN"], Expr(Call("exit"))),))
    loc = program.probes[0].loc
    assert (loc.file, loc.line, loc.col) == ("script.pt", 2, 1)


def test_comments():
    text = """// leading
    BEGIN /* inline */ { // after the brace
        @x = 1; /* a
        multi-line comment */ @y = 2; // @z = 3;
    }
    // trailing"""
    assert parse(text) == parse("BEGIN { @x = 1; @y = 2; }")


# -- statements ---------------------------------------------------------------------

def test_assignments():
    assert body('@x = 1; @m[1, "a"] = 2; $v = 3; @ = 4') == (
        A.AssignMap(M("@x"), I(1)),
        A.AssignMap(M("@m", I(1), S("a")), I(2)),
        A.AssignVar(V("v"), I(3)),
        A.AssignMap(M("@"), I(4)),
    )


def test_map_names():
    assert body("@123 = 1; @_a1 = 2") == (A.AssignMap(M("@123"), I(1)),
                                           A.AssignMap(M("@_a1"), I(2)))


def test_last_statement_needs_no_semicolon_and_empty_statements_vanish():
    assert body("; ; @x = 1;; @y = 2") == (A.AssignMap(M("@x"), I(1)),
                                            A.AssignMap(M("@y"), I(2)))


def test_let():
    assert body("let $x; let $y = 1") == (A.DeclareVar(V("x")), A.DeclareVar(V("y"), I(1)))


def test_if_else_if_else():
    assert body("if (a) { @x = 1; } else if (b) { @x = 2; } else { @x = 3; }") == (
        A.If(B("a"), Blk(A.AssignMap(M("@x"), I(1))),
             A.If(B("b"), Blk(A.AssignMap(M("@x"), I(2))),
                  Blk(A.AssignMap(M("@x"), I(3))))),)


def test_if_without_else_and_nested_blocks():
    assert body("if ($x > 1) { { @y = 1; } }") == (
        A.If(Bin(">", V("x"), I(1)), Blk(Blk(A.AssignMap(M("@y"), I(1))))),)


def test_unroll():
    assert body("unroll(3) { $i++; }") == (
        A.Unroll(I(3), Blk(A.CompoundAssign(V("i"), "+", I(1)))),)


def test_while_break_continue():
    assert body("while ($i < 10) { if ($i == 5) { break; } continue; }") == (
        A.While(Bin("<", V("i"), I(10)),
                Blk(A.If(Bin("==", V("i"), I(5)), Blk(A.Break())), A.Continue())),)


def test_for_over_a_map_and_return():
    assert body("for ($kv : @m) { return; }") == (
        A.ForMap(V("kv"), M("@m"), Blk(A.Return())),)


@pytest.mark.parametrize("text,target,op", [
    ("@x++", M("@x"), "+"), ("++@x", M("@x"), "+"),
    ("@x--", M("@x"), "-"), ("--@x", M("@x"), "-"),
    ("$x++", V("x"), "+"), ("--$x", V("x"), "-"),
    ("@m[pid, comm]++", M("@m", B("pid"), B("comm")), "+"),
])
def test_increment_and_decrement(text, target, op):
    assert body(text) == (A.CompoundAssign(target, op, I(1)),)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"])
def test_compound_assignment_on_maps_and_variables(op):
    assert body(f"@m[1] {op}= 2; $v {op}= $w") == (
        A.CompoundAssign(M("@m", I(1)), op, I(2)),
        A.CompoundAssign(V("v"), op, V("w")),
    )


# -- expressions ------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("0", 0), ("42", 42), ("0x1F", 31), ("0X1f", 31), ("0xdead_beef", 0xDEADBEEF),
    ("0b101", 5), ("1_000_000", 1000000), ("1e6", 1000000), ("2E3", 2000),
    ("18446744073709551615", (1 << 64) - 1),
])
def test_integer_literals(text, value):
    assert expr(text) == I(value)


def test_octal_literal_like_bpftrace():
    assert expr("010") == I(8)


@pytest.mark.parametrize("text,value", [
    (r'"plain"', "plain"),
    (r'"\n\t\r\\\""', '\n\t\r\\"'),
    (r'"\x41\x4a\x4A"', "AJJ"),
    (r'"\101\60\0"', "A0\0"),
    (r'"\e[1m"', "\x1b[1m"),
    (r'"a" "b"  "c"', "abc"),
    (r'""', ""),
    (r'"%d\n"', "%d\n"),
])
def test_string_literals_and_escapes(text, value):
    assert expr(text) == S(value)


def test_variables_positional_parameters_and_builtins():
    assert body("$x; $_a1; $1; $12; $#; pid; arg0") == tuple(map(Expr, (
        V("x"), V("_a1"), A.Positional(1), A.Positional(12), A.ParamCount(), B("pid"),
        B("arg0"))))


def test_calls():
    assert body('exit(); exit(1); printf("%d %s\\n", pid, comm); print(@x, 10, 2)') == tuple(
        map(Expr, (Call("exit"), Call("exit", I(1)),
                   Call("printf", S("%d %s\n"), B("pid"), B("comm")),
                   Call("print", M("@x"), I(10), I(2)))))


def test_arithmetic_precedence_is_cs():
    assert expr("1 + 2 * 3 - 4 / 5 % 6") == Bin(
        "-", Bin("+", I(1), Bin("*", I(2), I(3))), Bin("%", Bin("/", I(4), I(5)), I(6)))


def test_shifts_bind_looser_than_addition():
    assert expr("1 << 2 + 3 >> 4") == Bin(">>", Bin("<<", I(1), Bin("+", I(2), I(3))), I(4))


def test_bitwise_and_comparison_precedence_is_cs():
    assert expr("a & b == c") == Bin("&", B("a"), Bin("==", B("b"), B("c")))
    assert expr("a | b ^ c & d") == Bin("|", B("a"), Bin("^", B("b"), Bin("&", B("c"), B("d"))))
    assert expr("a < b == c >= d") == Bin("==", Bin("<", B("a"), B("b")),
                                          Bin(">=", B("c"), B("d")))
    assert expr("a != b <= c") == Bin("!=", B("a"), Bin("<=", B("b"), B("c")))


def test_logical_operators():
    assert expr("a || b && c") == Bin("||", B("a"), Bin("&&", B("b"), B("c")))
    assert expr("(a || b) && !c") == Bin("&&", Bin("||", B("a"), B("b")),
                                         A.Unary("!", B("c")))


def test_unary_operators():
    assert body("-a * !b; ~c; +d; - -e; *f; &g") == tuple(map(Expr, (
        Bin("*", A.Unary("-", B("a")), A.Unary("!", B("b"))), A.Unary("~", B("c")),
        A.Unary("+", B("d")), A.Unary("-", A.Unary("-", B("e"))), A.Deref(B("f")),
        A.AddrOf(B("g")))))


def test_ternaries_nest_to_the_right():
    assert expr("a ? b : c ? d : e") == A.Ternary(B("a"), B("b"), A.Ternary(B("c"), B("d"),
                                                                          B("e")))
    assert expr("$x > 1 ? \"big\" : \"small\"") == A.Ternary(
        Bin(">", V("x"), I(1)), S("big"), S("small"))


def test_casts():
    assert body("(uint32)-1; (int8 **)0; (bool)$x; (struct task_struct *)curtask") == tuple(
        map(Expr, (
            A.Cast(A.TypeName("uint32"), A.Unary("-", I(1))),
            A.Cast(A.TypeName("int8", 2), I(0)),
            A.Cast(A.TypeName("bool"), V("x")),
            A.Cast(A.TypeName("struct task_struct", 1), B("curtask")),
        )))


def test_cast_binds_tighter_than_binary_operators():
    assert expr("(uint8)$x + 1") == Bin("+", A.Cast(A.TypeName("uint8"), V("x")), I(1))


def test_field_access_tuple_index_and_indexing():
    args = B("args")
    assert body("args->count; args.count; args->buf[2]; $t.1.0; @x[1][2]; "
                "args->a->b.c") == tuple(map(Expr, (
                    A.FieldAccess(args, "count", True),
                    A.FieldAccess(args, "count", False),
                    A.Index(A.FieldAccess(args, "buf", True), I(2)),
                    A.TupleIndex(A.TupleIndex(V("t"), 1), 0),
                    A.Index(M("@x", I(1)), I(2)),
                    A.FieldAccess(A.FieldAccess(A.FieldAccess(args, "a", True), "b", True),
                                  "c", False),
                )))


def test_tuples_and_parentheses():
    assert body('(1, "a", comm); ((1, 2), 3); (1)') == tuple(map(Expr, (
        A.TupleExpr((I(1), S("a"), B("comm"))),
        A.TupleExpr((A.TupleExpr((I(1), I(2))), I(3))),
        I(1))))


def test_sizeof_and_offsetof():
    assert body("sizeof(uint64); sizeof($x); offsetof(struct foo, bar)") == tuple(map(Expr, (
        A.Sizeof(A.TypeName("uint64")), A.Sizeof(V("x")),
        A.Offsetof(A.TypeName("struct foo"), "bar"))))


def test_map_keys_are_full_expressions():
    assert body("@[comm, pid / 2, args->count > 5] = count()") == (
        A.AssignMap(M("@", B("comm"), Bin("/", B("pid"), I(2)),
                      Bin(">", A.FieldAccess(B("args"), "count", True), I(5))),
                    Call("count")),)


# -- locations --------------------------------------------------------------------------

def test_locations_point_at_the_source():
    (stmt,) = parse('BEGIN { $x = "a" + 1; }').probes[0].body.stmts
    loc = stmt.value.loc
    assert (loc.line, loc.col, loc.end_line, loc.end_col) == (1, 14, 1, 21)
    assert loc.text() == '"a" + 1'
    name_loc = parse("BEGIN {\n  printf(\"x\");\n}").probes[0].body.stmts[0].expr.name_loc
    assert (name_loc.line, name_loc.col, name_loc.text()) == (2, 3, "printf")


def test_ast_dump():
    program = parse("t:syscalls:sys_enter_read /pid > 1/ { @[comm] = count(); }")
    assert ast_lines(program) == [
        "Program",
        "  Probe",
        "    .specs",
        "      ProbeSpec text='t:syscalls:sys_enter_read'",
        "    .predicate",
        "      Binary op='>'",
        "        .left",
        "          Builtin name='pid'",
        "        .right",
        "          IntLit value=1",
        "    .body",
        "      Block",
        "        AssignMap",
        "          .target",
        "            MapRef name='@'",
        "              Builtin name='comm'",
        "          .value",
        "            Call name='count'",
    ]


# -- angle-bracket bodies -----------------------------------------------------------------

@pytest.mark.parametrize("angles,braces", [
    # the three examples of the design card
    ("t:syscalls:sys_enter_read < @x[args->count > 5] = count() >",
     "t:syscalls:sys_enter_read { @x[args->count > 5] = count() }"),
    ('BEGIN < $x = 2 > 1; printf("%d\\n", $x); exit() >',
     'BEGIN { $x = 2 > 1; printf("%d\\n", $x); exit() }'),
    ("kprobe:do_sys_openat2 < @[comm] = count() >",
     "kprobe:do_sys_openat2 { @[comm] = count() }"),
    # several probes, mixed with braces, with predicates and probe lists
    ("BEGIN < @a = 1 > t:syscalls:sys_enter_read /pid > 1/ < @b[pid] = args->count > "
     "END < print(@a) >",
     "BEGIN { @a = 1 } t:syscalls:sys_enter_read /pid > 1/ { @b[pid] = args->count } "
     "END { print(@a) }"),
    ("BEGIN,END < @a = 1 > interval:s:1 < exit() >",
     "BEGIN,END { @a = 1 } interval:s:1 { exit() }"),
    ("BEGIN < $x = 1 > t:syscalls:sys_enter_read { @ = count() } END < $y = 3 >",
     "BEGIN { $x = 1 } t:syscalls:sys_enter_read { @ = count() } END { $y = 3 }"),
    ("t:syscalls:sys_enter_read,t:syscalls:sys_enter_write < @[probe] = count() >\n"
     "t:sched:sched_switch < @s[args->prev_comm] = count() >",
     "t:syscalls:sys_enter_read,t:syscalls:sys_enter_write { @[probe] = count() }\n"
     "t:sched:sched_switch { @s[args->prev_comm] = count() }"),
    # '>' that is not the end of the body: comparisons, '>=', '->', '>>', strings
    ("BEGIN < if ($x > 1) { @ = 1 } >", "BEGIN { if ($x > 1) { @ = 1 } }"),
    ('BEGIN < @s = "a > b" >', 'BEGIN { @s = "a > b" }'),
    ("BEGIN < @x = 1 >=2 >", "BEGIN { @x = 1 >= 2 }"),
    ("BEGIN < @x = 1 > 2 > END < exit() >", "BEGIN { @x = 1 > 2 } END { exit() }"),
    ("BEGIN < @x = 1 ; > t:syscalls:sys_enter_read < @y = args->count >",
     "BEGIN { @x = 1 ; } t:syscalls:sys_enter_read { @y = args->count }"),
    ("BEGIN < @x = 1 > // done", "BEGIN { @x = 1 } // done"),
    ("t:syscalls:sys_enter_read < @b[pid >> 2] = 2 > END < print(@b) >",
     "t:syscalls:sys_enter_read { @b[pid >> 2] = 2 } END { print(@b) }"),
])
def test_angle_bracket_bodies_parse_like_braces(angles, braces):
    assert parse(angles) == parse(braces)


def test_angle_bracket_body_keeps_locations():
    (stmt,) = parse("BEGIN < @x = 1 + 2 >").probes[0].body.stmts
    assert (stmt.value.loc.col, stmt.value.loc.text()) == (14, "1 + 2")


# -- syntax errors -------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    # missing expression (the example of the design card)
    ("BEGIN { @x = ; }",
     "-e:1:14: error: unexpected ';': expected an expression\n"
     "BEGIN { @x = ; }\n"
     "             ~"),
    # missing ';' between statements
    ("BEGIN { @x = 1 @y = 2; }",
     "-e:1:16: error: unexpected '@y': expected ';' or '}'\n"
     "BEGIN { @x = 1 @y = 2; }\n"
     "               ~~\n"
     "hint: separate statements with ';'"),
    ('BEGIN { printf("hi\\n") exit(); }',
     "-e:1:24: error: unexpected 'exit': expected ';' or '}'\n"
     'BEGIN { printf("hi\\n") exit(); }\n'
     "                       ~~~~\n"
     "hint: separate statements with ';'"),
    # unclosed brace
    ("BEGIN { @x = 1;",
     "-e:1:16: error: unexpected end of program: expected a statement, ';' or '}'\n"
     "BEGIN { @x = 1;\n"
     "               ~\n"
     "hint: a '{' is not closed"),
    ('BEGIN {\n  if (pid > 0) {\n    printf("x\\n");\n}',
     "-e:4:2: error: unexpected end of program: expected a statement, ';', 'else' or '}'\n"
     "}\n"
     " ~\n"
     "hint: a '{' is not closed"),
    # one '}' too many
    ("BEGIN { @x = 1; } }",
     "-e:1:19: error: unexpected '}': expected 'macro', a name or a probe\n"
     "BEGIN { @x = 1; } }\n"
     "                  ~\n"
     "hint: a program is a list of probes: PROBE [/predicate/] { statements }"),
    # unterminated string
    ('BEGIN { printf("hi); }',
     '-e:1:16: error: unterminated string\n'
     'BEGIN { printf("hi); }\n'
     '               ~\n'
     'hint: close the string with " on the same line'),
    # predicate: a missing operand, a stray token, no closing '/'
    ("t:syscalls:sys_enter_read /args->count > ; / { @ = count(); }",
     "-e:1:42: error: unexpected ';': expected an expression\n"
     "t:syscalls:sys_enter_read /args->count > ; / { @ = count(); }\n"
     "                                         ~"),
    ("t:syscalls:sys_enter_read /args->count > 5 )/ { @ = count(); }",
     "-e:1:44: error: unexpected ')': expected '/' closing the predicate\n"
     "t:syscalls:sys_enter_read /args->count > 5 )/ { @ = count(); }\n"
     "                                           ~"),
    ("t:syscalls:sys_enter_read / args->count > 5 { @ = count(); }",
     "-e:1:45: error: unexpected '{': expected '/' closing the predicate\n"
     "t:syscalls:sys_enter_read / args->count > 5 { @ = count(); }\n"
     "                                            ~"),
    # a character that is no token
    ("BEGIN { $x = 1 # 2; }",
     "-e:1:16: error: unexpected character '#'\n"
     "BEGIN { $x = 1 # 2; }\n"
     "               ~"),
    # statements that need parentheses or a block
    ("BEGIN { if $x $y }",
     "-e:1:15: error: unexpected '$y': expected '{'\n"
     "BEGIN { if $x $y }\n"
     "              ~~"),
    ("BEGIN { while $x < 3 printf(\"a\"); }",
     "-e:1:22: error: unexpected 'printf': expected '{'\n"
     "BEGIN { while $x < 3 printf(\"a\"); }\n"
     "                     ~~~~~~"),
    ("BEGIN { unroll(3) $x++; }",
     "-e:1:19: error: unexpected '$x': expected '{'\n"
     "BEGIN { unroll(3) $x++; }\n"
     "                  ~~"),
    ("BEGIN { if (1) { } else }",
     "-e:1:25: error: unexpected '}': expected 'if' or '{'\n"
     "BEGIN { if (1) { } else }\n"
     "                        ~"),
    # unbalanced brackets and operators
    ("BEGIN { @x[1 = 2; }",
     "-e:1:14: error: unexpected '=': expected ',' or ']'\n"
     "BEGIN { @x[1 = 2; }\n"
     "             ~"),
    ("BEGIN { $x = (int32 $y; }",
     "-e:1:21: error: unexpected '$y': expected ')'\n"
     "BEGIN { $x = (int32 $y; }\n"
     "                    ~~"),
    ("BEGIN { $x = 1 ? 2; }",
     "-e:1:19: error: unexpected ';': expected ':'\n"
     "BEGIN { $x = 1 ? 2; }\n"
     "                  ~"),
    ('BEGIN { printf("%d\\n", 1,); }',
     "-e:1:26: error: unexpected ')': expected an expression\n"
     'BEGIN { printf("%d\\n", 1,); }\n'
     "                         ~"),
    # not a probe
    ("{ @x = 1; }",
     "-e:1:1: error: unexpected '{': expected 'config', 'macro', a name or a probe\n"
     "{ @x = 1; }\n"
     "~\n"
     "hint: a program is a list of probes: PROBE [/predicate/] { statements }"),
    ("BEGIN { @x = 1; } END",
     "-e:1:22: error: unexpected end of program: expected ',', '/' or '{'\n"
     "BEGIN { @x = 1; } END\n"
     "                     ~"),
    # the file name and line of a script file
    ("BEGIN {\n  @x = 1;\n  @y = ;\n}",
     "-e:3:8: error: unexpected ';': expected an expression\n"
     "  @y = ;\n"
     "       ~"),
])
def test_syntax_errors(text, message):
    assert syntax_error(text) == message


def test_syntax_error_names_the_script_file():
    assert syntax_error("BEGIN { @x = ; }", "tools/x.pt") == (
        "tools/x.pt:1:14: error: unexpected ';': expected an expression\n"
        "BEGIN { @x = ; }\n"
        "             ~")


def test_syntax_error_in_an_angle_bracket_body_points_at_the_original_text():
    assert syntax_error("BEGIN < @x = ; >") == (
        "-e:1:14: error: unexpected ';': expected an expression\n"
        "BEGIN < @x = ; >\n"
        "             ~")


def test_empty_program():
    assert syntax_error("") == (
        "-e: error: the program is empty\n"
        'hint: write at least one probe, e.g. BEGIN { printf("hello\\n"); }')


def test_program_of_only_comments_is_empty():
    assert syntax_error("// just a comment\n") == (
        "-e: error: the program is empty\n"
        'hint: write at least one probe, e.g. BEGIN { printf("hello\\n"); }')


def test_assignment_to_a_bare_name():
    assert syntax_error("BEGIN { x = 1; }") == (
        "-e:1:11: error: unexpected '=': expected ';' or '}'\n"
        "BEGIN { x = 1; }\n"
        "          ~\n"
        "hint: a variable is written $x and a map @x; 'x' alone names a builtin")


def test_else_without_if():
    assert syntax_error("BEGIN { else { } }") == (
        "-e:1:9: error: 'else' without 'if'\n"
        "BEGIN { else { } }\n"
        "        ~~~~")


def test_floating_point_literal():
    assert syntax_error("BEGIN { $x = 1.5; }") == (
        "-e:1:14: error: floating-point numbers are not supported\n"
        "BEGIN { $x = 1.5; }\n"
        "             ~~~\n"
        "hint: the language has integers only")


def test_bad_octal_literal():
    assert syntax_error("BEGIN { $x = 08; }") == (
        "-e:1:14: error: '08' is not a number\n"
        "BEGIN { $x = 08; }\n"
        "             ~~\n"
        "hint: a leading 0 means octal (digits 0 to 7)")


def test_bad_hex_literal():
    assert syntax_error("BEGIN { $x = 0xZZ; }") == (
        "-e:1:14: error: '0xZZ' is not a number\n"
        "BEGIN { $x = 0xZZ; }\n"
        "             ~~~~")
