"""Hardening on the real kernel: the -c child dies with pytrace."""
from __future__ import annotations

import os
import signal
import time

import pytest

from conftest import needs_root, pytrace, start, wait_attached

pytestmark = needs_root


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _find_sleeper(pid: int, timeout: float = 5.0) -> tuple[int, int]:
    """``_sleeper``, once the released child has exec'd."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _sleeper(pid)
        except LookupError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sleeper(pid: int) -> tuple[int, int]:
    """(pytrace's pid, its -c child's pid) under ``pid`` (which may be an
    interpreter shim that runs pytrace as its child)."""
    for child in _children(pid):
        with open(f"/proc/{child}/cmdline", "rb") as f:
            if f.read() == b"/bin/sleep\x0060\x00":
                return pid, child
        try:
            return _sleeper(child)
        except LookupError:
            pass
    raise LookupError(f"no -c child under {pid}")


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for init counts) or reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_sigkill_of_pytrace_kills_its_command_within_a_second():
    p = start("-c", "/bin/sleep 60", "-e", "interval:s:10 { @n = count(); }")
    try:
        wait_attached(p)
        tracer, child = _find_sleeper(p.pid)
        os.kill(tracer, signal.SIGKILL)
        p.wait(timeout=10)
        deadline = time.monotonic() + 1.0
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(child), f"the -c child {child} outlived pytrace"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_command_is_not_started_by_a_shell():
    """Still never a shell: the child pytrace forks execs the command itself."""
    p = start("-c", "/bin/sleep 60", "-e", "interval:s:10 { @n = count(); }")
    try:
        wait_attached(p)
        tracer, child = _find_sleeper(p.pid)
        assert os.readlink(f"/proc/{child}/exe") in ("/usr/bin/sleep", "/bin/sleep")
        assert _children(child) == []
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except Exception:
            p.kill()
            p.wait()


# -- files root writes ----------------------------------------------------------

NOBODY = 65534


def _user_tree(tmp_path):
    """A directory tree owned by an ordinary user (nobody), and a root-only
    file outside it that the user would like root to overwrite."""
    victim = tmp_path / "victim"
    victim.write_text("root's secret\n")
    victim.chmod(0o600)
    home = tmp_path / "home"
    cache = home / ".cache" / "pytrace"
    cache.mkdir(parents=True)
    for d in (home, home / ".cache", cache):
        os.chown(d, NOBODY, NOBODY)
    return home, cache, victim


def _plant(cache, victim):
    """Symlinks for the temporary names of the next few hundred pids."""
    first = os.getpid()
    for pid in range(first, first + 400):
        for name in ("features", "grammar"):
            link = cache / f"{name}.{pid}.tmp"
            os.symlink(victim, link)
            os.lchown(link, NOBODY, NOBODY)


def _snapshot(root):
    return sorted((str(p), p.is_symlink()) for p in root.rglob("*"))


def test_a_users_cache_dir_is_not_used_by_root(tmp_path):
    home, cache, victim = _user_tree(tmp_path)
    _plant(cache, victim)
    before = _snapshot(home)
    r = pytrace("-e", 'BEGIN { printf("ok\\n"); exit(); }',
                extra_env={"PYTRACE_CACHE_DIR": str(cache)})
    assert r.rc == 0 and r.out == "ok\n", r
    assert r.err == (f"warning: not using the cache directory {cache}: it belongs to uid "
                     f"{NOBODY}, not to uid 0; running without it\n"), r
    assert victim.read_text() == "root's secret\n"
    assert _snapshot(home) == before


def test_root_does_not_create_its_cache_in_a_users_home(tmp_path):
    home, cache, victim = _user_tree(tmp_path)
    os.rmdir(cache)
    r = pytrace("-e", 'BEGIN { printf("ok\\n"); exit(); }',
                extra_env={"HOME": str(home), "XDG_CACHE_HOME": ""})
    assert r.rc == 0 and r.out == "ok\n", r
    assert r.err == (f"warning: not using the cache directory {cache}: {home / '.cache'}: "
                     f"it belongs to uid {NOBODY}, not to uid 0; running without it\n"), r
    assert not cache.exists()


def test_under_sudo_the_cache_is_roots_own(tmp_path):
    home, cache, victim = _user_tree(tmp_path)
    _plant(cache, victim)
    before = _snapshot(home)
    r = pytrace("-e", 'BEGIN { printf("ok\\n"); exit(); }',
                extra_env={"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                           "SUDO_USER": "nobody"})
    assert r == r and r.rc == 0 and r.out == "ok\n" and r.err == "", r
    assert victim.read_text() == "root's secret\n"
    assert _snapshot(home) == before
