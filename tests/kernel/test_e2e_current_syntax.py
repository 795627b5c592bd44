"""Issue 10, items 5-7 on the real kernel: ++/-- as values, statement
ternaries (checked against bpftrace 0.17, which has both), and what only
current bpftrace has (for over a range, macros, block values, if without
parentheses, getopt() with -- options), checked against the output its
docs/language.md documents. The workload makes exactly N getppid() calls
and the probes filter on its pid."""
from __future__ import annotations

import pytest

from conftest import needs_root, normalise_map_text, pytrace, workload

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]

GETPPID = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/"

INCDEC_TERNARY = (GETPPID + ' { $n = @n++; @seen = ++@m[comm]; '
                  '$n % 2 ? printf("odd %d\\n", $n) : printf("even %d\\n", $n); '
                  '$x = 10; printf("%d %d %d\\n", $x--, --$x, $x); }')


def test_incdec_values_and_statement_ternary_match_bpftrace(oracle):
    theirs = oracle(INCDEC_TERNARY, "-c", workload("getppid", 5))
    ours = pytrace("-q", "-e", INCDEC_TERNARY, "-c", workload("getppid", 5))
    assert ours.rc == 0, ours
    lines = ["even 0", "odd 1", "even 2", "odd 3", "even 4"]
    expected_printf = "".join(f"{line}\n10 8 8\n" for line in lines)
    assert ours.out.startswith(expected_printf), ours
    assert normalise_map_text(ours.out) == normalise_map_text(theirs.out, bpftrace_017=True), (
        f"{ours}\n=== bpftrace ===\n{theirs}")
    assert ours.out.endswith("@m[python3]: 5\n@n: 5\n@seen: 5\n"), ours


CURRENT = """
macro depth() { getopt("depth", 3, "how many rounds") }
macro verbose() { getopt("verbose", false, "say more") }
macro bump($v, @counts) { $v += 1; @counts[$v] = count(); }
macro square(x) { let $t = x; $t * $t }
""" + GETPPID + """ {
  $hits = 0;
  for $i : 0..depth {
    if $i == 1 { continue; }
    bump($hits, @rounds);
  }
  @sq = sum(square(2 + 1));
  if verbose { printf("hits %d\\n", $hits); }
  $t = 100;
  @t = { let $u = square($t); $u + $t };
}
"""


@pytest.mark.parametrize("options, rounds, hits", [
    ([], [1, 2], None),
    (["--", "--depth=5", "--verbose"], [1, 2, 3, 4], 4),
])
def test_current_syntax_runs(tmp_path, options, rounds, hits):
    script = tmp_path / "current.bt"
    script.write_text(CURRENT)
    r = pytrace("-q", str(script), "-c", workload("getppid", 3), *options)
    assert r.rc == 0 and r.err == "", r
    printed = "".join(f"hits {hits}\n" for _ in range(3)) if hits else ""
    maps = "".join(f"@rounds[{k}]: 3\n" for k in rounds)
    assert r.out == printed + "\n\n" + maps + "@sq: 27\n@t: 10100\n", r


def test_a_bad_option_value_is_a_located_error(tmp_path):
    script = tmp_path / "current.bt"
    script.write_text(CURRENT)
    r = pytrace(str(script), "-c", "/bin/true", "--", "--depth=lots")
    assert r.rc == 2 and r.out == "", r
    assert r.err == (
        f'{script}:2:17: error: --depth=lots: getopt("depth") takes a number\n'
        'macro depth() { getopt("depth", 3, "how many rounds") }\n'
        "                " + "~" * len('getopt("depth", 3, "how many rounds")') + "\n"
        "hint: give it as --depth=N (--depth alone is 1: true and false are numbers)\n"), r
