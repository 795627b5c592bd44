"""Per-architecture kernel facts, in one table.

Syscall numbers for the calls pytrace makes itself and the ``struct pt_regs``
layouts kprobes/uprobes read arguments from. Pure data: importing this module
does nothing; ``current()`` looks at the running machine. An architecture
missing here is a clear error, never a guessed syscall number.
"""
from __future__ import annotations

import os
from .record import field, record


class UnsupportedArch(Exception):
    def __init__(self, machine: str):
        super().__init__(
            f"pytrace does not know the '{machine}' architecture "
            f"(known: {', '.join(sorted(ARCHES))}); its syscall numbers and "
            f"register layout would be guesses")
        self.machine = machine


@record(frozen=True)
class Arch:
    name: str                       # the kernel's name (uname -m)
    bits: int
    nr_bpf: int
    nr_perf_event_open: int
    #: register name -> byte offset in struct pt_regs (the BPF program's view)
    regs: dict[str, int] = field(default_factory=dict)
    #: registers holding function arguments 0..N, in order
    arg_regs: tuple[str, ...] = ()
    ret_reg: str = ""
    ip_reg: str = ""
    sp_reg: str = ""
    #: aliases bpftrace accepts for reg("...") (e.g. "ax" for "rax")
    reg_aliases: dict[str, str] = field(default_factory=dict)

    @property
    def reg_size(self) -> int:
        return self.bits // 8

    def reg_offset(self, name: str) -> int | None:
        name = self.reg_aliases.get(name, name)
        return self.regs.get(name)

    def arg_offset(self, n: int) -> int | None:
        """Offset of argument ``n`` when it is passed in a register."""
        if 0 <= n < len(self.arg_regs):
            return self.regs[self.arg_regs[n]]
        return None


def _seq(names: str, start: int = 0, step: int = 8) -> dict[str, int]:
    return {name: start + i * step for i, name in enumerate(names.split())}


_X86_64 = Arch(
    name="x86_64", bits=64, nr_bpf=321, nr_perf_event_open=298,
    # arch/x86/include/asm/ptrace.h, struct pt_regs (64-bit)
    regs=_seq("r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss"),
    arg_regs=("di", "si", "dx", "cx", "r8", "r9"),
    ret_reg="ax", ip_reg="ip", sp_reg="sp",
    reg_aliases={"rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si",
                 "rdi": "di", "rbp": "bp", "rsp": "sp", "rip": "ip",
                 "orig_rax": "orig_ax", "eflags": "flags"},
)

_AARCH64 = Arch(
    name="aarch64", bits=64, nr_bpf=280, nr_perf_event_open=241,
    # arch/arm64/include/uapi/asm/ptrace.h, struct user_pt_regs
    regs={**{f"x{i}": i * 8 for i in range(31)}, "sp": 248, "pc": 256, "pstate": 264},
    arg_regs=tuple(f"x{i}" for i in range(8)),
    ret_reg="x0", ip_reg="pc", sp_reg="sp",
    reg_aliases={"lr": "x30", "fp": "x29"},
)

_RISCV64 = Arch(
    name="riscv64", bits=64, nr_bpf=280, nr_perf_event_open=241,
    # arch/riscv/include/uapi/asm/ptrace.h, struct user_regs_struct
    regs=_seq("pc ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
              "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6"),
    arg_regs=tuple(f"a{i}" for i in range(8)),
    ret_reg="a0", ip_reg="pc", sp_reg="sp",
    reg_aliases={"epc": "pc", "fp": "s0"},
)

_ARM = Arch(
    name="arm", bits=32, nr_bpf=386, nr_perf_event_open=364,
    # arch/arm/include/uapi/asm/ptrace.h, struct pt_regs { long uregs[18]; }
    regs=_seq("r0 r1 r2 r3 r4 r5 r6 r7 r8 r9 r10 fp ip sp lr pc cpsr orig_r0", step=4),
    arg_regs=("r0", "r1", "r2", "r3"),
    ret_reg="r0", ip_reg="pc", sp_reg="sp",
)

ARCHES: dict[str, Arch] = {a.name: a for a in (_X86_64, _AARCH64, _RISCV64, _ARM)}
_MACHINE_ALIASES = {"arm64": "aarch64", "amd64": "x86_64", "armv7l": "arm",
                    "armv6l": "arm", "armv7": "arm"}


def lookup(machine: str) -> Arch:
    machine = _MACHINE_ALIASES.get(machine, machine)
    try:
        return ARCHES[machine]
    except KeyError:
        raise UnsupportedArch(machine) from None


def current() -> Arch:
    return lookup(os.uname().machine)
