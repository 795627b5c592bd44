"""The ELF reader, USDT notes and operands, and library lookup, on ELF files
built by tests/elfgen.py (both classes, both byte orders) and a
synthesized ld.so.cache: no compiler, no root, any machine."""
from __future__ import annotations

import struct

import pytest

from pytrace.elf import ldpath
from pytrace.elf.reader import ElfError, ElfFile, ElfType, SymType, is_elf
from pytrace.elf.stapsdt import ArgSpec, ArgSpecError, OperandKind, parse_args, read_probes

from tests import elfgen
from tests.elfgen import DATA_OFFSET, DATA_SHIFT, TEXT_OFFSET, ElfSpec, Func, Probe


def make(tmp_path, name="bin", **kw) -> str:
    return elfgen.write(tmp_path / name, ElfSpec(**kw))


FUNCS = [Func("main", 0x10, 0x20), Func("helper", 0x40, 0x10, dynamic=True),
         Func("ifunc", 0x60, 8, type=elfgen.STT_GNU_IFUNC),
         Func("local_fn", 0x80, 4, bind=elfgen.STB_LOCAL)]


@pytest.mark.parametrize("is64,little", [(True, True), (False, True), (True, False),
                                         (False, False)],
                         ids=["64le", "32le", "64be", "32be"])
def test_symbols_segments_and_offsets(tmp_path, is64, little):
    path = make(tmp_path, is64=is64, little=little, etype=elfgen.ET_EXEC, funcs=FUNCS,
                objects=[Func("counter", 8, 8, type=elfgen.STT_OBJECT)])
    with ElfFile(path) as elf:
        assert elf.is64 is is64 and elf.little is little
        assert elf.type == ElfType.EXEC and not elf.is_pic
        assert elf.arch_name == "x86_64"
        names = {s.name: s for s in elf.symbols()}
        assert set(names) == {"main", "helper", "ifunc", "local_fn", "counter"}
        main = names["main"]
        assert (main.value, main.size, main.type) == (0x401010, 0x20, SymType.FUNC)
        assert main.is_function and names["ifunc"].is_function
        assert not names["counter"].is_function
        assert {f.name for f in elf.functions()} == {"main", "helper", "ifunc", "local_fn"}
        # text: offset == vaddr - base; data: offset 0x2000 at vaddr base + 0x3000
        assert elf.vaddr_to_offset(0x401010) == TEXT_OFFSET + 0x10
        assert elf.vaddr_to_offset(0x400000 + DATA_SHIFT + 8) == DATA_OFFSET + 8
        assert elf.offset_to_vaddr(DATA_OFFSET + 8) == 0x400000 + DATA_SHIFT + 8
        assert elf.vaddr_to_offset(0x900000) is None
        assert elf.build_id() == "12345678" * 5
        assert elf.symbol("nope") is None


def test_symtab_wins_over_dynsym_and_position_independent(tmp_path):
    funcs = [Func("dup", 0x10, 4), Func("dup", 0x20, 4, dynamic=True)]
    with ElfFile(make(tmp_path, funcs=funcs)) as elf:
        assert elf.is_pic and elf.type == ElfType.DYN
        assert elf.symbol("dup").value == 0x1010


def test_not_elf_and_missing(tmp_path):
    bad = tmp_path / "text"
    bad.write_bytes(b"#!/bin/sh\n" + b"x" * 100)
    with pytest.raises(ElfError, match="is not an ELF file"):
        ElfFile(str(bad))
    with pytest.raises(ElfError, match="cannot open .*missing: No such file"):
        ElfFile(str(tmp_path / "missing"))
    assert not is_elf(str(bad)) and is_elf(make(tmp_path))


def test_image_in_memory(tmp_path):
    data = elfgen.build(ElfSpec(funcs=FUNCS))
    with ElfFile("[vdso]", data) as elf:
        assert elf.symbol("helper").value == 0x1040


# -- USDT ---------------------------------------------------------------------

def test_usdt_notes_with_semaphores(tmp_path):
    probes = [Probe("prov", "hit", 0x18, "-4@%edi 8@-16(%rbp)", semaphore=2),
              Probe("prov", "plain", 0x30)]
    with ElfFile(make(tmp_path, probes=probes)) as elf:
        got = read_probes(elf)
    assert [(p.provider, p.name, p.pc, p.semaphore, p.args) for p in got] == [
        ("prov", "hit", 0x1018, DATA_SHIFT + 2, "-4@%edi 8@-16(%rbp)"),
        ("prov", "plain", 0x1030, 0, "")]


@pytest.mark.parametrize("is64", [True, False], ids=["64", "32"])
def test_usdt_prelinked_addresses_are_corrected(tmp_path, is64):
    probes = [Probe("p", "n", 0x18, "", semaphore=4)]
    with ElfFile(make(tmp_path, is64=is64, probes=probes, prelink_shift=0x500)) as elf:
        (p,) = read_probes(elf)
    assert (p.pc, p.semaphore) == (0x1018, DATA_SHIFT + 4)


X86 = [
    ("-4@%edi", ArgSpec(4, True, OperandKind.REGISTER, "di", text="-4@%edi")),
    ("8@%rax", ArgSpec(8, False, OperandKind.REGISTER, "ax", text="8@%rax")),
    ("1@%ah", ArgSpec(1, False, OperandKind.REGISTER, "ax", value=8, text="1@%ah")),
    ("-1@%r8b", ArgSpec(1, True, OperandKind.REGISTER, "r8", text="-1@%r8b")),
    ("2@%r11w", ArgSpec(2, False, OperandKind.REGISTER, "r11", text="2@%r11w")),
    ("8@-16(%rbp)", ArgSpec(8, False, OperandKind.MEMORY, "bp", disp=-16,
                            text="8@-16(%rbp)")),
    ("-4@(%rsi)", ArgSpec(4, True, OperandKind.MEMORY, "si", text="-4@(%rsi)")),
    ("8@0x10(%rax,%rbx,8)", ArgSpec(8, False, OperandKind.MEMORY, "ax", "bx", 8, 16,
                                    text="8@0x10(%rax,%rbx,8)")),
    ("-4@$42", ArgSpec(4, True, OperandKind.CONSTANT, value=42, text="-4@$42")),
    ("-4@$-5", ArgSpec(4, True, OperandKind.CONSTANT, value=-5, text="-4@$-5")),
    ("-8@counter(%rip)", ArgSpec(8, True, OperandKind.MEMORY, "ip", symbol="counter",
                                 text="-8@counter(%rip)")),
    ("4@counter+8(%rip)", ArgSpec(4, False, OperandKind.MEMORY, "ip", disp=8,
                                  symbol="counter", text="4@counter+8(%rip)")),
]
ARM64 = [
    ("-4@x1", ArgSpec(4, True, OperandKind.REGISTER, "x1", text="-4@x1")),
    ("4@w19", ArgSpec(4, False, OperandKind.REGISTER, "x19", text="4@w19")),
    ("8@[sp, 16]", ArgSpec(8, False, OperandKind.MEMORY, "sp", disp=16, text="8@[sp, 16]")),
    ("8@[x0]", ArgSpec(8, False, OperandKind.MEMORY, "x0", text="8@[x0]")),
    ("-8@[x29, -8]", ArgSpec(8, True, OperandKind.MEMORY, "x29", disp=-8,
                             text="-8@[x29, -8]")),
    ("4@[x1, x2]", ArgSpec(4, False, OperandKind.MEMORY, "x1", "x2", text="4@[x1, x2]")),
    ("-4@#7", ArgSpec(4, True, OperandKind.CONSTANT, value=7, text="-4@#7")),
    ("8@100", ArgSpec(8, False, OperandKind.CONSTANT, value=100, text="8@100")),
]


@pytest.mark.parametrize("text,want", X86, ids=[t for t, _ in X86])
def test_x86_operands(text, want):
    assert parse_args(text, "x86_64") == [want]


@pytest.mark.parametrize("text,want", ARM64, ids=[t for t, _ in ARM64])
def test_arm64_operands(text, want):
    assert parse_args(text, "aarch64") == [want]


def test_several_operands_split_outside_brackets():
    got = parse_args("-4@x0 8@[sp, 16] 8@[x1, -8]", "aarch64")
    assert [a.text for a in got] == ["-4@x0", "8@[sp, 16]", "8@[x1, -8]"]
    assert [a.kind for a in parse_args("-4@a0 8@16(sp)", "riscv64")] == [
        OperandKind.REGISTER, OperandKind.MEMORY]


@pytest.mark.parametrize("text,message", [
    ("4%edi", "'4%edi' has no size@operand"),
    ("3@%edi", "'3@%edi': size 3 is not 1, 2, 4 or 8"),
    ("x@%edi", "'x@%edi': bad size 'x'"),
    ("4@%xmm0", "'4@%xmm0': unknown register %xmm0"),
    ("4@%fs:8", "'4@%fs:8': unknown register %fs:8"),
])
def test_bad_operands(text, message):
    with pytest.raises(ArgSpecError) as err:
        parse_args(text, "x86_64")
    assert str(err.value) == message


# -- library lookup ------------------------------------------------------------

def _ld_cache(entries: list[tuple[str, str]], old_format: bool = False) -> bytes:
    """An ld.so.cache in glibc's "new" format (optionally after an old one)."""
    strings = b""
    offsets = []
    head = len(ldpath.CACHE_MAGIC_NEW) + 28 + 24 * len(entries)
    for key, value in entries:
        k = head + len(strings)
        strings += key.encode() + b"\0"
        v = head + len(strings)
        strings += value.encode() + b"\0"
        offsets.append((k, v))
    new = ldpath.CACHE_MAGIC_NEW + struct.pack("=II4xI12x", len(entries), len(strings), 0)
    for k, v in offsets:
        new += struct.pack("=iIIIQ", 0x303, k, v, 0, 0)
    new += strings
    if not old_format:
        return new
    old = ldpath.CACHE_MAGIC_OLD + b"\0" + struct.pack("=I", 0)
    return old + new


@pytest.mark.parametrize("old", [False, True], ids=["new", "old+new"])
def test_ld_cache(tmp_path, old):
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(_ld_cache([("libcap.so.2", "/l/libcap.so.2"),
                                 ("libc.so.6", "/l/libc.so.6"),
                                 ("libm.so.6", "/l/libm.so.6")], old))
    entries = ldpath.read_ld_cache(str(cache))
    assert entries == [("libcap.so.2", "/l/libcap.so.2"), ("libc.so.6", "/l/libc.so.6"),
                       ("libm.so.6", "/l/libm.so.6")]
    for name in ("libc", "c", "libc.so.6"):
        assert ldpath.find_library(name, cache=entries) == "/l/libc.so.6", name
    assert ldpath.find_library("cap", cache=entries) == "/l/libcap.so.2"
    assert ldpath.read_ld_cache(str(tmp_path / "none")) == []


def test_library_in_a_process(tmp_path, monkeypatch):
    maps = tmp_path / "maps"
    maps.write_text(
        "55d0-55e0 r-xp 00000000 fe:01 11 /usr/bin/prog\n"
        "7f00-7f10 r-xp 00028000 fe:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7f20-7f30 r-xp 00000000 fe:01 13 /opt/lib/libfoo-2.1.so\n"
        "7ff0-7ff1 r-xp 00000000 00:00 0  [vdso]\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real_open(
        maps if p == "/proc/4242/maps" else p, *a, **k))
    assert ldpath.library_in_process("libc", 4242) == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert ldpath.library_in_process("libfoo", 4242) == "/opt/lib/libfoo-2.1.so"
    assert ldpath.library_in_process("libbar", 4242) is None


def test_program_on_path(tmp_path):
    prog = tmp_path / "tool"
    prog.write_bytes(b"\x7fELF")
    prog.chmod(0o755)
    (tmp_path / "data").write_text("x")
    assert ldpath.find_program("tool", str(tmp_path)) == str(prog)
    assert ldpath.find_program("data", str(tmp_path)) is None
    assert ldpath.resolve_binary(str(prog)) == str(prog)
    assert ldpath.resolve_binary(str(tmp_path / "missing")) is None
