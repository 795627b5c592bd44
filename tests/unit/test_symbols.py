"""Symbolization without a kernel: kallsyms and maps files written here, ELF
files from tests/elfgen.py, stack maps faked by dicts, perf mmap records
built byte by byte. Checks the text bpftrace prints for each stack mode."""
from __future__ import annotations

import struct

import pytest

from pytrace.lang.types import Formatted, Stack, StackKind, StackMode
from pytrace.kernel import kallsyms
from pytrace.symbols import usersyms
from pytrace.symbols.mmaptrack import MISC_COMM_EXEC, RECORD_MMAP2, MmapTracker
from pytrace.symbols.procmaps import Mapping, parse_maps
from pytrace.symbols.resolver import Symbolizer

from tests import elfgen
from tests.elfgen import ElfSpec, Func

KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81000000 T startup_64
ffffffff81001000 t helper_fn
ffffffff81002000 T do_syscall_64
ffffffff81003000 D some_data
ffffffffc0000000 t mod_fn\t[mymod]
0000000000000000 A fixed_percpu_data
"""


@pytest.fixture
def kernel_syms(tmp_path):
    path = tmp_path / "kallsyms"
    path.write_text(KALLSYMS)
    return kallsyms.KernelSymbols(str(path)), str(path)


def test_kernel_symbols(kernel_syms):
    ks, path = kernel_syms
    assert ks.resolve(0xffffffff81002010) == ("do_syscall_64", 16)
    assert ks.resolve(0xffffffff81000000) == ("_stext", 0)       # the first name listed
    assert ks.resolve(0xffffffffc0000004) == ("mod_fn", 4)
    assert ks.resolve(0x1000) is None
    assert kallsyms.symbol_address("do_syscall_64", path) == 0xffffffff81002000
    assert kallsyms.symbol_address("mod_fn", path) == 0xffffffffc0000000
    assert kallsyms.symbol_address("syscall_64", path) is None
    assert kallsyms.symbol_address("fixed_percpu_data", path) is None


def test_parse_maps():
    text = ("555555554000-555555556000 r-xp 00001000 fe:01 1234  /usr/bin/prog\n"
            "555555556000-555555557000 rw-p 00002000 fe:01 1234  /usr/bin/prog\n"
            "7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0     [vdso]\n"
            "7ffff7fd0000-7ffff7fd1000 rw-p 00000000 00:00 0\n"
            "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0     [stack]\n")
    maps = parse_maps(text)
    assert maps == [
        Mapping(0x555555554000, 0x555555556000, 0x1000, "/usr/bin/prog", (0xfe, 1), 1234, True),
        Mapping(0x555555556000, 0x555555557000, 0x2000, "/usr/bin/prog", (0xfe, 1), 1234,
                False),
        Mapping(0x7ffff7fc1000, 0x7ffff7fc3000, 0, "[vdso]", (0, 0), 0, True)]
    assert 0x555555554000 in maps[0] and 0x555555556000 not in maps[0]


FUNCS = [Func("main", 0x10, 0x20), Func("__alias_main", 0x10, 0x20),
         Func("inner_label", 0x18, 0), Func("helper", 0x40, 0x10, dynamic=True),
         Func("asm_entry", 0x60, 0)]


@pytest.fixture
def prog(tmp_path):
    return elfgen.write(tmp_path / "prog", ElfSpec(funcs=FUNCS))


def test_file_symbols(prog):
    fs = usersyms.FileSymbols(prog)
    assert fs.lookup(0x1010) == ("main", 0)            # the first of two aliases
    assert fs.lookup(0x1018) == ("inner_label", 0)     # a size-0 label at its address
    assert fs.lookup(0x1019) == ("main", 9)            # then the function around it
    assert fs.lookup(0x104f) == ("helper", 15)
    assert fs.lookup(0x1050) is None                   # past helper's end
    assert fs.lookup(0x1060) == ("asm_entry", 0)
    assert fs.lookup(0x1061) is None
    assert fs.offset_to_vaddr(0x1010) == 0x1010


def _syms_with_maps(monkeypatch, maps: dict[int, list[Mapping] | None]) -> usersyms.UserSymbols:
    reads = []

    def read_maps(pid):
        reads.append(pid)
        return maps.get(pid)
    monkeypatch.setattr(usersyms, "read_maps", read_maps)
    us = usersyms.UserSymbols()
    us.reads = reads
    return us


def test_user_symbols_of_a_live_process(prog, monkeypatch):
    # a PIE mapped at 0x5000_0000: its file offset 0 at that address
    m = Mapping(0x50000000, 0x50002000, 0, prog)
    us = _syms_with_maps(monkeypatch, {100: [m]})
    assert us.resolve(100, 0x50001014) == ("main", 4, prog)
    assert us.resolve(100, 0x50001045) == ("helper", 5, prog)
    assert us.resolve(100, 0x60000000) is None          # not mapped: re-read once, then None
    assert us.resolve(999, 0x50001014) is None           # no such process
    assert us.file(m) is us.file(Mapping(0x7000, 0x9000, 0, prog))   # read once per file


def test_user_symbols_from_mmap_records_after_exit(prog, monkeypatch):
    us = _syms_with_maps(monkeypatch, {})            # /proc knows nothing: the process is gone
    us.exec_(200)
    us.add_mapping(200, Mapping(0x7f0000000000, 0x7f0000002000, 0, prog))
    assert us.resolve(200, 0x7f0000001010) == ("main", 0, prog)
    us.exec_(200)                                    # a new program: old mappings are gone
    assert us.resolve(200, 0x7f0000001010) is None


def test_forked_child_uses_its_parents_mappings(prog, monkeypatch):
    parent = [Mapping(0x40000000, 0x40002000, 0, prog)]
    us = _syms_with_maps(monkeypatch, {300: parent})
    us.fork(301, 300)
    assert us.resolve(301, 0x40001040) == ("helper", 0, prog)
    us.exec_(301)
    assert us.resolve(301, 0x40001040) is None
    us.fork(302, 302)                                # a thread, not a process: nothing to do
    assert us.resolve(302, 0x40001040) is None


def test_overlapping_mapping_replaces_the_old_one(prog, monkeypatch):
    us = _syms_with_maps(monkeypatch, {})
    us.add_mapping(5, Mapping(0x1000, 0x3000, 0, "/old"))
    us.add_mapping(5, Mapping(0x2000, 0x4000, 0, prog))
    assert [m.path for m in us.mappings(5)] == [prog]


def _record(rtype: int, misc: int, payload: bytes) -> bytes:
    return struct.pack("<IHH", rtype, misc, 8 + len(payload)) + payload


def test_mmap_tracker_records(prog, monkeypatch):
    us = _syms_with_maps(monkeypatch, {})
    tracker = MmapTracker.__new__(MmapTracker)
    tracker.symbols, tracker.lost = us, 0
    name = prog.encode() + b"\0" * (8 - len(prog) % 8)
    mmap2 = struct.pack("<IIQQQIIQQII", 400, 400, 0x7f10_0000_0000, 0x2000, 0, 0xfe, 1,
                        77, 0, 0x5, 0x2) + name
    data_map = struct.pack("<IIQQQIIQQII", 400, 400, 0x7f20_0000_0000, 0x1000, 0, 0, 0,
                           0, 0, 0x3, 0x2) + name
    tracker._record(3, MISC_COMM_EXEC, _record(3, MISC_COMM_EXEC,
                                               struct.pack("<II", 400, 400) + b"prog\0\0\0\0"))
    tracker._record(RECORD_MMAP2, 0, _record(RECORD_MMAP2, 0, mmap2))
    tracker._record(RECORD_MMAP2, 0, _record(RECORD_MMAP2, 0, data_map))   # not executable
    tracker._record(7, 0, _record(7, 0, struct.pack("<IIIIQ", 401, 400, 401, 400, 0)))
    tracker._record(2, 0, _record(2, 0, struct.pack("<QQ", 1, 5)))
    assert us.mappings(400) == [Mapping(0x7f10_0000_0000, 0x7f10_0000_2000, 0, prog,
                                        (0xfe, 1), 77)]
    assert us.resolve(401, 0x7f10_0000_1010) == ("main", 0, prog)
    assert tracker.lost == 5


class FakeMap:
    def __init__(self, values: dict[bytes, bytes]):
        self.values = values

    def lookup(self, key: bytes):
        return self.values.get(key)


def _frames(*addrs, depth=127) -> bytes:
    return b"".join(a.to_bytes(8, "little") for a in addrs) + bytes(8 * (depth - len(addrs)))


@pytest.fixture
def symbolizer(kernel_syms, prog, monkeypatch):
    ks, _ = kernel_syms
    maps = {
        "stack_k127": FakeMap({(3).to_bytes(4, "little"):
                               _frames(0xffffffff81002010, 0xffffffff81000004, 0x1234)}),
        "stack_u127": FakeMap({(9).to_bytes(4, "little"): _frames(0x50001014, 0x50001045,
                                                                  0x99999)}),
        "stack_k2": FakeMap({(1).to_bytes(4, "little"): _frames(0xffffffff81001008, depth=2)}),
        "usym_pids": FakeMap({(0x50001014).to_bytes(8, "little"): (77).to_bytes(4, "little")}),
    }
    s = Symbolizer(maps)
    s.kernel = ks
    s.user = _syms_with_maps(monkeypatch, {77: [Mapping(0x50000000, 0x50002000, 0, prog)]})
    return s


KSTACK = Stack(StackKind.KERNEL, 127, StackMode.BPFTRACE)
USTACK = Stack(StackKind.USER, 127, StackMode.BPFTRACE)


def test_stack_modes(symbolizer):
    s = symbolizer
    assert s.stack(KSTACK, 3) == ("\n        do_syscall_64+16\n        _stext+4\n"
                                  "        0x1234\n")
    assert s.stack(Stack(StackKind.KERNEL, 127, StackMode.PERF), 3) == (
        "\n\tffffffff81002010 do_syscall_64+16\n\tffffffff81000004 _stext+4\n"
        "\t1234 0x1234\n")
    assert s.stack(Stack(StackKind.KERNEL, 127, StackMode.RAW), 3) == (
        "\nffffffff81002010\nffffffff81000004\n1234\n")
    assert s.stack(Stack(StackKind.KERNEL, 2, StackMode.BPFTRACE), 1) == (
        "\n        helper_fn+8\n")
    user = 9 | 77 << 32
    assert s.stack(USTACK, user) == "\n        main+4\n        helper+5\n        0x99999\n"
    assert s.stack(Stack(StackKind.USER, 127, StackMode.PERF), user) == (
        f"\n\t50001014 main+4 ({s.user.mappings(77)[0].path})\n"
        f"\t50001045 helper+5 ({s.user.mappings(77)[0].path})\n"
        "\t99999 0x99999 ([unknown])\n")


def test_stacks_that_do_not_resolve_print_nothing_or_hex(symbolizer):
    s = symbolizer
    assert s.stack(KSTACK, 4) == ""                            # no such stack id
    s.maps["stack_k127"].values[(5).to_bytes(4, "little")] = bytes(8 * 127)
    assert s.stack(KSTACK, 5) == ""                            # get_stack() found none
    assert s.stack(USTACK, 9 | 12345 << 32) == ("\n        0x50001014\n        0x50001045\n"
                                                "        0x99999\n")   # unknown process


def test_ksym_and_usym(symbolizer):
    s = symbolizer
    assert s.special(Formatted.KSYM, 0xffffffff81002010) == "do_syscall_64"
    assert s.special(Formatted.KSYM, 0x10) == "0x10"
    assert s.special(Formatted.KSYM, 0) == "0"
    assert s.special(Formatted.USYM, 0x50001014) == "main"      # pid from usym_pids
    assert s.special(Formatted.USYM, 0x50001045) == "0x50001045"  # no pid filed for it
    assert s.special(Formatted.PROBE, 1) is None
