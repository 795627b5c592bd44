"""Bugs outside the network code that issue 6's work ran into: one fixed
here (a regression test), one left to its owner (a strict xfail that flips
when it is fixed)."""
import pytest

from conftest import needs_root, pytrace

pytestmark = [pytest.mark.kernel, needs_root]


def test_statements_after_exit_load():
    # the emitter used to keep them: "unreachable insn" from the verifier
    r = pytrace("-e", 'BEGIN { exit(); printf("never\\n"); }')
    assert (r.rc, r.out, r.err) == (0, "", ""), r
    r = pytrace("-e", 'BEGIN { if (1) { exit(); } else { printf("no\\n"); } printf("x\\n"); }')
    assert (r.rc, r.out) == (0, ""), r


@pytest.mark.xfail(strict=True, reason="lower.copy picks chunk sizes from the destination's "
                   "alignment only; a string copied from the stack to a key offset of another "
                   "alignment reads the stack unaligned ('misaligned stack access')")
def test_string_copied_to_an_odd_tuple_offset():
    r = pytrace("--dry-run", "-e", 'BEGIN { $s = "abcdefghij"; @m["abcd", $s] = 1; }')
    assert r.rc == 0, r
