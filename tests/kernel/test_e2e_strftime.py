"""strftime(fmt, nsecs) end to end: a boot-based time printed as the wall
clock (printf %s, a map key and value, print(), JSON), checked against the
clock of this process with a tolerance, and the output format against
Debian's bpftrace 0.17 where it has one."""
from __future__ import annotations

import json
import re
import time

import pytest

from conftest import FEATURE_SETS, needs_root, pytrace

pytestmark = [pytest.mark.kernel, needs_root, pytest.mark.usefixtures("no_leaked_programs")]


def _close_to_now(text: str, fmt: str, slack: float = 30.0) -> bool:
    """Whether ``text`` (``fmt`` of local time) is within ``slack`` s of now."""
    shown = time.mktime(time.strptime(text, fmt))
    return abs(shown - time.time()) < slack


@pytest.mark.parametrize("features", FEATURE_SETS)
def test_printf_of_strftime_is_the_wall_clock(features):
    r = pytrace(*features, "-q", "-e", 'BEGIN { printf("%s|%s|%s\\n", strftime("%Y", nsecs), '
                'strftime("%Y-%m-%d %H:%M:%S.%f", nsecs), strftime("%%f", nsecs)); exit(); }')
    assert r.rc == 0 and r.err == "", r
    year, stamp, literal = r.out.rstrip("\n").split("|")
    assert year == time.strftime("%Y") or abs(int(year) - int(time.strftime("%Y"))) == 1, r
    # bpftrace 0.17 prints the same shape: 2026-12-07 16:49:50.767345
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", stamp), r
    assert _close_to_now(stamp[:19], "%Y-%m-%d %H:%M:%S"), (r, time.time())
    assert literal == "%f", r


def test_strftime_as_map_key_value_and_print():
    r = pytrace("-q", "-e", 'BEGIN { @[strftime("%Y", nsecs)] = strftime("%H:%M:%S", nsecs); '
                'print(strftime("%Y", nsecs)); exit(); }')
    assert r.rc == 0 and r.err == "", r
    m = re.fullmatch(r"(\d{4})\n\n\n@\[(\d{4})\]: (\d\d:\d\d:\d\d)\n", r.out)
    assert m and m.group(1) == m.group(2), r
    h, mi, sec = map(int, m.group(3).split(":"))
    now = time.localtime()
    apart = abs((h * 3600 + mi * 60 + sec) - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec))
    assert min(apart, 86400 - apart) < 30, (r, time.strftime("%H:%M:%S"))


def test_strftime_in_json_is_a_string():
    r = pytrace("-q", "-f", "json", "-e",
                'BEGIN { @t = strftime("%s", nsecs); print(strftime("%s", nsecs)); exit(); }')
    assert r.rc == 0 and r.err == "", r
    records = [json.loads(line) for line in r.out.splitlines() if line.strip()]
    assert [rec["type"] for rec in records] == ["value", "map"], r
    value, mapped = records[0]["data"], records[1]["data"]["@t"]
    assert isinstance(value, str) and isinstance(mapped, str), r
    assert abs(int(value) - time.time()) < 30 and abs(int(mapped) - time.time()) < 30, r
