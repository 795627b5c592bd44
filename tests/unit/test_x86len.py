"""x86-64 instruction lengths (uprobe offsets must land on instruction
boundaries): hand-picked encodings, then the whole of a system library
against objdump's disassembly where binutils is installed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pytrace.elf.reader import ElfFile
from pytrace.elf.x86len import UnknownInstruction, instruction_length, is_boundary

from tests import elfgen
from tests.elfgen import ElfSpec, Func
from tests.fakes import compile_error, compile_script

VECTORS = [
    ("55", "push %rbp"),
    ("4889e5", "mov %rsp,%rbp"),
    ("f30f1efa", "endbr64"),
    ("8d047f", "lea (%rdi,%rdi,2),%eax"),
    ("8d4400fb", "lea -0x5(%rax,%rax,1),%eax"),
    ("488b0500000000", "mov 0x0(%rip),%rax"),
    ("48b88877665544332211", "movabs $0x1122334455667788,%rax"),
    ("b801000000", "mov $1,%eax"),
    ("66b80100", "mov $1,%ax"),
    ("c3", "ret"),
    ("c20800", "ret $8"),
    ("e800000000", "call rel32"),
    ("eb05", "jmp rel8"),
    ("0f8400010000", "je rel32"),
    ("0f05", "syscall"),
    ("0f1f440000", "nopl 0x0(%rax,%rax,1)"),
    ("660f1f840000000000", "nopw 0x0(%rax,%rax,1)"),
    ("f6c301", "test $1,%bl"),
    ("f7c300010000", "test $0x100,%ebx"),
    ("f7d8", "neg %eax"),
    ("4881ec88000000", "sub $0x88,%rsp"),
    ("4883ec08", "sub $8,%rsp"),
    ("c744240801000000", "movl $1,0x8(%rsp)"),
    ("660fefc0", "pxor %xmm0,%xmm0"),
    ("660f3a0fc108", "palignr $8,%xmm1,%xmm0"),
    ("660f3800c1", "pshufb %xmm1,%xmm0"),
    ("c5f877", "vzeroupper"),
    ("c5fd6f0e", "vmovdqa (%rsi),%ymm1"),
    ("c4e37d38c101", "vinserti128 $1,%xmm1,%ymm0,%ymm0"),
    ("62f1fe486f06", "vmovdqu64 (%rsi),%zmm0"),
    ("f3a4", "rep movsb"),
    ("64488b042528000000", "mov %fs:0x28,%rax"),
    ("a00000000000000000", "movabs 0x0,%al"),
]


@pytest.mark.parametrize("hexcode,text", VECTORS, ids=[t for _, t in VECTORS])
def test_lengths(hexcode, text):
    code = bytes.fromhex(hexcode)
    assert instruction_length(code + b"\xcc" * 8) == len(code), text


def test_boundaries_and_unknowns():
    code = bytes.fromhex("55" "4889e5" "8d047f" "c3")
    assert [o for o in range(9) if is_boundary(code, o)] == [0, 1, 4, 7, 8]
    with pytest.raises(UnknownInstruction):
        instruction_length(b"\x06")                    # push %es: not in 64-bit mode
    with pytest.raises(UnknownInstruction):
        instruction_length(b"\x48")                    # a REX prefix and nothing else


def test_uprobe_offset_must_be_an_instruction_boundary(tmp_path):
    text = bytes.fromhex("f30f1efa" "55" "4889e5" "8d047f" "5d" "c3") + b"\x90" * 16
    prog = elfgen.write(tmp_path / "p", ElfSpec(text=text, funcs=[Func("f", 0, 14)]))
    for ok in (4, 5, 8, 11, 12):
        compile_script(f"uprobe:{prog}:f+{ok} {{ }}")
    spec = f"uprobe:{prog}:f+6"
    assert compile_error(spec + " { }") == (
        f"-e:1:1: error: f+6 is inside an instruction\n{spec} {{ }}\n{'~' * len(spec)}\n"
        "hint: a uprobe inside an instruction would corrupt the program; find instruction "
        f"offsets with: objdump -d --disassemble=f {prog}")


def test_arm64_offsets_are_aligned(tmp_path):
    prog = elfgen.write(tmp_path / "a", ElfSpec(machine=elfgen.EM_AARCH64,
                                                funcs=[Func("f", 0, 32)]))
    compile_script(f"uprobe:{prog}:f+8 {{ }}")
    assert "f+6 is not a multiple of the instruction size (4 bytes)" in compile_error(
        f"uprobe:{prog}:f+6 {{ }}")


LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


@pytest.mark.skipif(not (shutil.which("objdump") and os.path.exists(LIBC)),
                    reason="needs objdump and an x86-64 libc")
def test_agrees_with_objdump_on_libc():
    out = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn", LIBC],
                         capture_output=True, text=True, check=True).stdout
    addrs = [int(m.group(1), 16) for m in re.finditer(r"^\s+([0-9a-f]+):\t", out, re.M)]
    with open(LIBC, "rb") as f:
        data = f.read()
    with ElfFile(LIBC) as elf:
        checked = wrong = 0
        for a, b in zip(addrs, addrs[1:]):
            if not 0 < b - a <= 15:
                continue                # the end of a section: padding follows
            off = elf.vaddr_to_offset(a)
            n = instruction_length(data[off:off + 16])
            checked += 1
            if n != b - a and data[off] != 0xC3:      # 'ret' then zero padding objdump joins
                wrong += 1
    assert checked > 100_000 and wrong == 0, (checked, wrong)
