"""Programs the verifier used to refuse, now loaded on the real kernel:
statements after exit() (unreachable instructions) and a string copied to
an odd offset inside a tuple key. Found during issue 6's work."""
import pytest

from conftest import needs_root, pytrace

pytestmark = [pytest.mark.kernel, needs_root]


def test_statements_after_exit_load():
    # the emitter used to keep them: "unreachable insn" from the verifier
    r = pytrace("-e", 'BEGIN { exit(); printf("never\\n"); }')
    assert (r.rc, r.out, r.err) == (0, "", ""), r
    r = pytrace("-e", 'BEGIN { if (1) { exit(); } else { printf("no\\n"); } printf("x\\n"); }')
    assert (r.rc, r.out) == (0, ""), r


def test_string_copied_to_an_odd_tuple_offset():
    r = pytrace("--dry-run", "-e", 'BEGIN { $s = "abcdefghij"; @m["abcd", $s] = 1; }')
    assert r.rc == 0, r
