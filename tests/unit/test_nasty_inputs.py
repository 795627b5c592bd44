"""Every hostile input of issue 14 (items 3, 6 and 7) gives one located
error (or compiles, where the script is legitimate), never a traceback,
under a 1 GiB address-space limit."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30


def nested(open_, inner, close, n):
    return open_ * n + inner + close * n


CASES = {
    "200 nested ifs": "BEGIN { " + nested("if (1) { ", "@x = 1;", " }", 200) + " exit(); }",
    "500-term chain": "BEGIN { @x = " + "+".join(["1"] * 500) + "; exit(); }",
    "200 nested whiles": "BEGIN { $i = 0; " + nested("while ($i < 1) { ", "$i++;", " }", 200)
                         + " exit(); }",
    "10,000 statements": "BEGIN { " + "$a = 1; " * 10000 + "exit(); }",
    "1,000 nested ternaries": "BEGIN { @x = " + nested("1 ? ", "1", " : 0", 1000) + "; }",
    "! x 10,000": "BEGIN { @x = " + "!" * 10000 + "1; }",
    "5,000 nested braces": "BEGIN { " + nested("{ ", "@x = 1;", " }", 5000) + " }",
    "5,000-digit literal": "BEGIN { @x = " + "9" * 5000 + "; }",
    "huge exponent": "BEGIN { @x = 1e999999999; }",
    "exit(256)": "BEGIN { exit(256); }",
    "exit(-1)": "BEGIN { exit(-1); }",
    "1 << 64": "BEGIN { @x = 1 << 64; }",
    "1 << -1": "BEGIN { @x = 1 << -1; }",
    "max_strlen": "config = { max_strlen = 99999999999 } BEGIN { exit(); }",
    "10,000 maps": "BEGIN { " + " ".join(f"@m{i} = 1;" for i in range(10000)) + " }",
    "70 maps in a probe": "BEGIN { " + " ".join(f"@m{i} = 1;" for i in range(70)) + " }",
    "profile hz": "profile:hz:999999999999 { @ = count(); }",
    "xdp drop all": "xdp:eth0 { drop; }",
    "tc drop all": "tc:eth0:ingress { @n = count(); drop; }",
    "xdp drop some": "xdp:eth0 /tcp/ { drop; }",
    "xdp tx": "xdp:eth0 { tx; }",
    "xdp drop on lo": "xdp:lo { drop; }",
}
SPECIAL = {
    "-d all on 200 nested ifs": {"text": CASES["200 nested ifs"], "dump": ["ast", "ir", "asm"]},
    "xdp drop all --unsafe": {"text": "xdp:eth0 { drop; }", "unsafe": True},
}

HINT_NESTING = "hint: split the expression or the blocks, e.g. into variables assigned one " \
               "after another"
HINT_DROP = "hint: add a predicate or a condition, or run with --unsafe to cut the interface " \
            "off on purpose"
WARN_DROP = "warning: drop on eth0: this script changes the real traffic of that interface " \
            "while it runs\n"


def _rate() -> int:
    from pytrace.providers.sampling import max_sample_rate
    return max_sample_rate()


def _expected(name: str, text: str):
    line = text.split("\n")[0]

    def at(col, width, message, hint=None):
        out = [f"-e:1:{col}: error: {message}", line, " " * (col - 1) + "~" * width]
        return "\n".join(out + ([hint] if hint else []))
    return {
        "200 nested ifs": "ok",
        "500-term chain": "ok",
        "200 nested whiles": "ok",
        "10,000 statements": "ok",
        "-d all on 200 nested ifs": "ok",
        "1,000 nested ternaries": at(14, 1, "nested too deeply: more than 1000 levels",
                                     HINT_NESTING),
        "! x 10,000": at(9014, 1, "nested too deeply: more than 1000 levels", HINT_NESTING),
        "5,000 nested braces": at(8013, 1, "nested too deeply: more than 1000 levels",
                                  HINT_NESTING),
        "5,000-digit literal": at(14, 5000, "integer literal does not fit in 64 bits"),
        "huge exponent": at(14, 11, "integer literal does not fit in 64 bits"),
        "exit(256)": at(14, 3, "exit code 256 is out of range: an exit status is 0 to 255"),
        "exit(-1)": at(14, 2, "exit code -1 is out of range: an exit status is 0 to 255"),
        "1 << 64": at(19, 2, "shift by 64: a shift amount is 0 to 63",
                      "hint: shift by a smaller amount, or write the result as a constant"),
        "1 << -1": at(19, 2, "shift by -1: a shift amount is 0 to 63",
                      "hint: shift by a smaller amount, or write the result as a constant"),
        "max_strlen": at(12, 24, "max_strlen = 99999999999 is out of range: it is 1 to 32768"),
        "10,000 maps": lambda: at(text.index("@m1024 ") + 1, 6,
                          "the script uses 10000 maps; pytrace allows at most 1024",
                          "hint: keep related values in one map with keys, e.g. @m[1], @m[2]"),
        "70 maps in a probe": at(1, len(text), "this probe uses 72 maps (counting pytrace's own); the kernel allows 64 "
                                 "in one program", "hint: keep related values in one map with "
                                 "keys, e.g. @m[1], @m[2], or split the probe into several"),
        "profile hz": lambda: at(1, 23, f"profile:hz:999999999999 samples faster than the kernel "
                         f"allows: at most {_rate()} a second", "hint: sample less often, or "
                         "raise the limit with sysctl kernel.perf_event_max_sample_rate=N"),
        "xdp drop all": at(12, 4, "this probe drops every packet on eth0", HINT_DROP),
        "tc drop all": at(33, 4, "this probe drops every packet on eth0", HINT_DROP),
        "xdp drop some": "ok: " + WARN_DROP,
        "xdp drop all --unsafe": "ok: " + WARN_DROP,
        "xdp tx": "ok: " + WARN_DROP.replace("drop", "tx"),
        "xdp drop on lo": "ok",
    }[name]


def expected(name: str, text: str) -> str:
    got = _expected(name, text)
    return got() if callable(got) else got


@pytest.fixture(scope="module")
def results():
    cases = {name: {"text": text} for name, text in CASES.items()}
    cases.update(SPECIAL)
    p = subprocess.run([sys.executable, "-m", "tests.unit.nasty_runner"], cwd=REPO,
                       input=json.dumps(cases), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


@pytest.mark.parametrize("name", list(CASES) + list(SPECIAL))
def test_nasty_script(results, name):
    text = CASES.get(name) or SPECIAL[name]["text"]
    got = results[name]
    assert not got.startswith("TRACEBACK"), got
    assert got == expected(name, text)


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


def _pytrace(*args, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTRACE_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "pytrace", *args], capture_output=True,
                          text=True, timeout=60, env=env, preexec_fn=_limited,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args, env, message", [
    (["-p", "0"], None, "error: -p: 0 is not a process id (they are 1 to 4194304)\n"),
    (["-p", "99999999999999999999999"], None,
     "error: -p: 99999999999999999999999 is not a process id (they are 1 to 4194304)\n"),
    (["-c", ""], None, "error: -c needs a command, e.g. -c 'sleep 1'\n"),
    ([], {"PYTRACE_MAX_MAP_KEYS": "99999999999"},
     "error: PYTRACE_MAX_MAP_KEYS: max_map_keys = 99999999999 is out of range: it is 1 to "
     "16777216\n"),
], ids=["-p 0", "-p huge", "-c ''", "PYTRACE_MAX_MAP_KEYS"])
def test_nasty_command_line(args, env, message):
    r = _pytrace(*args, "--dry-run", "-e", "BEGIN { exit(); }", extra_env=env)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", message)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_output_to_a_full_disk_is_one_line():
    r = _pytrace("-o", "/dev/full", "--version")
    assert (r.returncode, r.stderr) == (1, "error: cannot write /dev/full: No space left on "
                                           "device\n")
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "pytrace", "--version"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=_limited)
    assert (r.returncode, r.stderr) == (1, "error: cannot write standard output: No space "
                                           "left on device\n")


def test_load_refuses_devices_fifos_and_huge_files(tmp_path):
    from pytrace.base.diagnostics import RuntimeFailure
    from pytrace.runtime.mapedit import MAX_LOAD_BYTES, read_map_file
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(MAX_LOAD_BYTES + 1)
    for path, message in [
            ("/dev/zero", "load(): /dev/zero is not a regular file"),
            (str(fifo), f"load(): {fifo} is not a regular file"),
            (str(big), f"load(): {big} is larger than 64 MiB ({MAX_LOAD_BYTES + 1} bytes)")]:
        with pytest.raises(RuntimeFailure) as info:
            read_map_file(path)
        assert str(info.value) == message
    (tmp_path / "ok").write_text("1 2\n3 4\n")
    assert read_map_file(str(tmp_path / "ok")) == ["1 2", "3 4"]
