"""Files pytrace writes (caches, REPL history) never follow a symlink and
never go into a directory someone else controls."""
from __future__ import annotations

import os

import pytest

from pytrace.base import cache


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim"
    v.write_text("secret\n")
    return v


def test_write_atomic_replaces_a_symlink_instead_of_following_it(tmp_path, victim):
    d = tmp_path / "cache"
    d.mkdir(mode=0o700)
    os.symlink(victim, d / "features")
    assert cache.write_atomic(str(d / "features"), b"new\n")
    assert victim.read_text() == "secret\n"
    assert not (d / "features").is_symlink() and (d / "features").read_bytes() == b"new\n"
    assert sorted(os.listdir(d)) == ["features"]


def test_a_directory_others_can_write_is_refused_once(tmp_path, capsys):
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o777)
    assert not cache.write_atomic(str(d / "features"), b"x")
    assert not cache.write_atomic(str(d / "other"), b"x")
    assert os.listdir(d) == []
    assert capsys.readouterr().err == (f"warning: not using the directory {d}: others can "
                                       "write to it; running without it\n")


def test_a_symlinked_cache_directory_is_refused(tmp_path, monkeypatch, capsys):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    os.symlink(real, tmp_path / "link")
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path / "link"))
    assert cache.cache_dir() == cache.NO_CACHE
    assert capsys.readouterr().err == (f"warning: not using the cache directory "
                                       f"{tmp_path / 'link'}: it is a symbolic link; "
                                       "running without it\n")
    assert not cache.write_atomic(os.path.join(cache.NO_CACHE, "features"), b"x")


def test_the_cache_directory_is_created_private(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path / "a" / "pytrace"))
    assert cache.cache_dir() == str(tmp_path / "a" / "pytrace")
    assert (tmp_path / "a" / "pytrace").stat().st_mode & 0o777 == 0o700


def test_under_sudo_the_cache_goes_to_roots_home(monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("root's cache is only chosen for root")
    import pwd
    monkeypatch.setenv("SUDO_USER", "nobody")
    monkeypatch.setenv("HOME", "/nonexistent-user-home")
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent-user-home/.cache")
    monkeypatch.delenv("PYTRACE_CACHE_DIR", raising=False)
    assert cache.cache_dir() == os.path.join(pwd.getpwuid(0).pw_dir, ".cache", "pytrace")


def test_history_never_follows_a_symlink(tmp_path, victim):
    pytest.importorskip("prompt_toolkit")
    from pytrace.repl.app import _history
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    os.symlink(victim, d / "history")
    h = _history(str(d / "history"))
    h.store_string("BEGIN { exit(); }")
    assert victim.read_text() == "secret\n"
    assert type(h).__name__ == "InMemoryHistory"


def test_history_in_a_private_directory_is_kept(tmp_path):
    pytest.importorskip("prompt_toolkit")
    from pytrace.repl.app import _history
    d = tmp_path / "state"
    h = _history(str(d / "pytrace" / "history"))
    h.store_string("BEGIN { exit(); }")
    text = (d / "pytrace" / "history").read_text()
    assert text.endswith("\n+BEGIN { exit(); }\n") and text.startswith("\n# ")
    assert list(_history(str(d / "pytrace" / "history")).load_history_strings()) == [
        "BEGIN { exit(); }"]


def test_history_in_someone_elses_directory_is_not_kept(tmp_path, capsys):
    pytest.importorskip("prompt_toolkit")
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory away")
    from pytrace.repl.app import _history
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    h = _history(str(d / "history"))
    assert type(h).__name__ == "InMemoryHistory" and os.listdir(d) == []
    assert capsys.readouterr().err == (f"warning: not using the history directory {d}: it "
                                       "belongs to uid 65534, not to uid 0; running without "
                                       "it\n")
