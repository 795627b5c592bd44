"""The parts of the runtime backend that need no kernel: the feature cache
file, cache directory rules, cpulist parsing, argument checks."""
import pytest

from pytrace.kernel import buffers as events, features, maps
from pytrace.lang.kernelinfo import Feature

BOOT = "943e280d-c009-4dd0-9547-be2667bffd4a"


def test_cache_round_trip(tmp_path):
    path = str(tmp_path / "sub" / "features")
    features.write_cache(path, BOOT, {"ringbuf": True, "kprobe": False})
    assert (tmp_path / "sub" / "features").read_text() == (
        "pytrace-features 1\n"
        f"boot {BOOT}\n"
        "kprobe 0\n"
        "ringbuf 1\n")
    assert features.read_cache(path, BOOT) == {"ringbuf": True, "kprobe": False}


def test_cache_from_another_boot_or_format_is_ignored(tmp_path):
    path = str(tmp_path / "features")
    features.write_cache(path, BOOT, {"ringbuf": True})
    assert features.read_cache(path, "another-boot") == {}
    assert features.read_cache(path, "") == {}
    (tmp_path / "features").write_text(f"pytrace-features 0\nboot {BOOT}\nringbuf 1\n")
    assert features.read_cache(path, BOOT) == {}
    assert features.read_cache(str(tmp_path / "missing"), BOOT) == {}


def test_cache_ignores_garbage_lines(tmp_path):
    (tmp_path / "features").write_text(
        f"pytrace-features 1\nboot {BOOT}\nringbuf 1\n\nbogus\nlink yes\nbtf 0\n")
    assert features.read_cache(str(tmp_path / "features"), BOOT) == {"ringbuf": True,
                                                                     "btf": False}


def test_cache_dir_rules(monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", "/x/explicit")
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/xdg")
    assert features.cache_dir() == "/x/explicit"
    monkeypatch.delenv("PYTRACE_CACHE_DIR")
    assert features.cache_dir() == "/x/xdg/pytrace"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/x/home")
    assert features.cache_dir() == "/x/home/.cache/pytrace"


def test_cached_answers_are_used_without_probing(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(features, "boot_id", lambda: BOOT)
    answers = {f.value: f in (Feature.RINGBUF, Feature.BTF) for f, _ in features.PROBES}
    features.write_cache(features.cache_path(), BOOT, answers)
    got = features.probe_features(masked=frozenset({Feature.BTF}))
    assert got == frozenset({Feature.RINGBUF})


def test_every_probe_has_a_description():
    assert {f for f, _ in features.PROBES} <= set(features.DESCRIPTIONS)
    assert set(features.DESCRIPTIONS) == set(Feature)


@pytest.mark.parametrize("text, cpus", [
    ("0\n", [0]),
    ("0-3\n", [0, 1, 2, 3]),
    ("0-1,4,6-7\n", [0, 1, 4, 6, 7]),
    ("", []),
])
def test_parse_cpu_list(text, cpus):
    assert maps.parse_cpu_list(text) == cpus


def test_reader_arguments_are_checked():
    with pytest.raises(ValueError, match="power-of-2 multiple of the page size"):
        events.RingBufferReader(-1, 3 * events.PAGE_SIZE, print)
    with pytest.raises(ValueError, match="pages_per_cpu must be a power of 2"):
        events.PerfBufferReader(-1, [0], print, pages_per_cpu=3)
