"""Per-architecture kernel facts, in one table, and the host's byte order.

Syscall numbers for the calls pytrace makes itself, the ``struct pt_regs``
layouts kprobes/uprobes read arguments from, the word (``unsigned long``,
pointer) size and the byte order. Pure data: importing this module does
nothing but read ``sys.byteorder``; ``current()`` looks at the running
machine. An architecture missing here is a one-line error
(``UnsupportedArch``, exit status 1), never a guessed syscall number.

Every number below is from the kernel's own headers, named in a comment
next to it: syscall numbers from ``asm/unistd*.h`` (Debian's
linux-libc-dev and linux-libc-dev-<arch>-cross, 6.1), register layouts
from ``asm/ptrace.h`` (the layout a BPF kprobe program sees as its
context: the kernel's ``struct pt_regs``, whose start is
``bpf_user_pt_regs_t``), register names and aliases as bpftrace spells
them (``src/arch/*.cpp``).

Byte order: ``BYTE_ORDER`` (for ``int.from_bytes``/``to_bytes``) and
``STRUCT_ORDER`` (the ``struct`` module's prefix) are the one place that
says how the kernel lays out the integers it shares with us (map keys and
values, ring and perf records, BTF, the instructions we load): the
running machine's. Network byte order (packets) is ``NETWORK_ORDER``,
the same on every machine.
"""
from __future__ import annotations

import os
import struct
import sys
from enum import Enum

from .diagnostics import PytraceError
from .record import field, record


class ByteOrder(Enum):
    LITTLE = "little"
    BIG = "big"

    @property
    def struct(self) -> str:
        """The ``struct`` module's prefix for this order."""
        return "<" if self is ByteOrder.LITTLE else ">"


#: the running machine's byte order: every integer the kernel shares with us
HOST_ORDER = ByteOrder(sys.byteorder)
#: ``int.from_bytes(raw, BYTE_ORDER)`` for kernel data
BYTE_ORDER: str = HOST_ORDER.value
#: ``struct.Struct(STRUCT_ORDER + "IHH")`` for kernel data
STRUCT_ORDER: str = HOST_ORDER.struct
#: packets (xdp, tc) and ntop()/pton(): big-endian everywhere
NETWORK_ORDER = "big"


class UnsupportedArch(PytraceError):
    """The running machine is not in the table (exit status 1, one line)."""
    exit_code = 1

    def __init__(self, machine: str, why: str = ""):
        why = why or ("its syscall numbers and register layout would be guesses; "
                      "add it to pytrace/base/arch.py (from the kernel's asm/unistd.h "
                      "and asm/ptrace.h)")
        super().__init__(
            f"pytrace does not know the '{machine}' architecture "
            f"(known: {', '.join(sorted(ARCHES))}): {why}")
        self.machine = machine


@record(frozen=True)
class IoctlLayout:
    """How ``_IOC(dir, type, nr, size)`` packs a request: asm-generic/ioctl.h
    (dir:2 at bit 30, size:14, _IOC_NONE 0, _IOC_WRITE 1, _IOC_READ 2) or
    arch/powerpc and arch/mips uapi/asm/ioctl.h (dir:3 at bit 29, size:13,
    _IOC_NONE 1, _IOC_READ 2, _IOC_WRITE 4)."""
    dir_shift: int = 30
    none: int = 0
    write: int = 1
    read: int = 2

    def convert(self, generic: int) -> int:
        """An asm-generic request number in this layout."""
        d = generic >> 30
        size = (generic >> 16) & 0x3FFF
        bits = (self.write if d & 1 else 0) | (self.read if d & 2 else 0) or self.none
        return bits << self.dir_shift | size << 16 | (generic & 0xFFFF)


GENERIC_IOCTL = IoctlLayout()
PPC_MIPS_IOCTL = IoctlLayout(dir_shift=29, none=1, write=4, read=2)


@record(frozen=True)
class Arch:
    name: str                       # the kernel's name (uname -m)
    bits: int                       # unsigned long and pointers, in bits
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
    order: ByteOrder = ByteOrder.LITTLE
    ioctl: IoctlLayout = GENERIC_IOCTL

    @property
    def reg_size(self) -> int:
        return self.bits // 8

    @property
    def long_size(self) -> int:
        """sizeof(unsigned long) and of a pointer, in bytes."""
        return self.bits // 8

    @property
    def long_format(self) -> str:
        """The ``struct``/``memoryview`` code of an ``unsigned long``."""
        return "Q" if self.bits == 64 else "I"

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


def _array(prefix: str, alias: str, n: int, start: int = 0, step: int = 8) -> tuple[dict, dict]:
    """``prefixI`` at ``start + I * step`` and bpftrace's ``alias[I]`` for it."""
    regs = {f"{prefix}{i}": start + i * step for i in range(n)}
    return regs, {f"{alias}[{i}]": f"{prefix}{i}" for i in range(n)}


_X86_64 = Arch(
    name="x86_64", bits=64, nr_bpf=321, nr_perf_event_open=298,   # asm/unistd_64.h
    # arch/x86/include/asm/ptrace.h, struct pt_regs (64-bit)
    regs=_seq("r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss"),
    arg_regs=("di", "si", "dx", "cx", "r8", "r9"),
    ret_reg="ax", ip_reg="ip", sp_reg="sp",
    reg_aliases={"rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si",
                 "rdi": "di", "rbp": "bp", "rsp": "sp", "rip": "ip",
                 "orig_rax": "orig_ax", "eflags": "flags"},
)

_I386 = Arch(
    name="i386", bits=32, nr_bpf=357, nr_perf_event_open=336,     # asm/unistd_32.h
    # arch/x86/include/asm/ptrace.h, struct pt_regs (32-bit): bx cx dx si di bp ax,
    # then ds es fs gs as 16-bit values each padded to 4 (__dsh, ...), orig_ax ip,
    # cs (+__csh) flags sp ss (+__ssh): 17 words of 4 bytes
    regs=_seq("bx cx dx si di bp ax ds es fs gs orig_ax ip cs flags sp ss", step=4),
    # the kernel is built with -mregparm=3 (arch/x86/Makefile): kernel functions
    # take their first three arguments in ax, dx, cx (regs_get_kernel_argument());
    # user programs (cdecl) pass them on the stack
    arg_regs=("ax", "dx", "cx"),
    ret_reg="ax", ip_reg="ip", sp_reg="sp",
    reg_aliases={"eax": "ax", "ebx": "bx", "ecx": "cx", "edx": "dx", "esi": "si",
                 "edi": "di", "ebp": "bp", "esp": "sp", "eip": "ip",
                 "orig_eax": "orig_ax", "eflags": "flags"},
)

_AARCH64 = Arch(
    name="aarch64", bits=64, nr_bpf=280, nr_perf_event_open=241,  # asm-generic/unistd.h
    # arch/arm64/include/uapi/asm/ptrace.h, struct user_pt_regs
    regs={**{f"x{i}": i * 8 for i in range(31)}, "sp": 248, "pc": 256, "pstate": 264},
    arg_regs=tuple(f"x{i}" for i in range(8)),
    ret_reg="x0", ip_reg="pc", sp_reg="sp",
    reg_aliases={"lr": "x30", "fp": "x29",
                 **{f"r{i}": f"x{i}" for i in range(31)},
                 **{f"regs[{i}]": f"x{i}" for i in range(31)}},
)

_RISCV64 = Arch(
    name="riscv64", bits=64, nr_bpf=280, nr_perf_event_open=241,  # asm-generic/unistd.h
    # arch/riscv/include/uapi/asm/ptrace.h, struct user_regs_struct
    regs=_seq("pc ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
              "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6"),
    arg_regs=tuple(f"a{i}" for i in range(8)),
    ret_reg="a0", ip_reg="pc", sp_reg="sp",
    reg_aliases={"epc": "pc", "fp": "s0"},
)

_ARM = Arch(
    name="arm", bits=32, nr_bpf=386, nr_perf_event_open=364,      # asm/unistd-eabi.h
    # arch/arm/include/uapi/asm/ptrace.h, struct pt_regs { long uregs[18]; }
    # (ARM_r0 = uregs[0] ... ARM_fp 11, ARM_ip 12, ARM_sp 13, ARM_lr 14, ARM_pc 15,
    # ARM_cpsr 16, ARM_ORIG_r0 17)
    regs=_seq("r0 r1 r2 r3 r4 r5 r6 r7 r8 r9 r10 fp ip sp lr pc cpsr orig_r0", step=4),
    arg_regs=("r0", "r1", "r2", "r3"),
    ret_reg="r0", ip_reg="pc", sp_reg="sp",
    # bpftrace src/arch/arm.cpp: regs[N] for r0..r10, uregs[N] for each slot
    reg_aliases={**{f"regs[{i}]": f"r{i}" for i in range(11)}, "r11": "fp", "r12": "ip",
                 "r13": "sp", "r14": "lr", "r15": "pc",
                 **{f"uregs[{i}]": n for i, n in enumerate(
                     "r0 r1 r2 r3 r4 r5 r6 r7 r8 r9 r10 fp ip sp lr pc cpsr orig_r0".split())}},
)

_PPC_GPR, _PPC_GPR_ALIAS = _array("r", "gpr", 32)
_PPC64LE = Arch(
    name="ppc64le", bits=64, nr_bpf=361, nr_perf_event_open=319,  # asm/unistd_64.h
    # arch/powerpc/include/uapi/asm/ptrace.h, struct user_pt_regs (the start of the
    # kernel's pt_regs): gpr[32] nip msr orig_gpr3 ctr link xer ccr softe trap dar
    # dsisr result (PT_NIP 32 ... PT_RESULT 43, in longs)
    regs={**_PPC_GPR, **_seq("nip msr orig_gpr3 ctr link xer ccr softe trap dar dsisr result",
                             start=32 * 8)},
    # ELFv2 ABI: arguments in r3..r10, result in r3, stack pointer r1
    arg_regs=tuple(f"r{i}" for i in range(3, 11)),
    ret_reg="r3", ip_reg="nip", sp_reg="r1",
    reg_aliases={**_PPC_GPR_ALIAS, "sp": "r1", "pc": "nip", "ip": "nip", "lr": "link"},
    ioctl=PPC_MIPS_IOCTL,
)

_S390_GPR, _S390_GPR_ALIAS = _array("r", "gprs", 16, start=24)
_S390X = Arch(
    name="s390x", bits=64, nr_bpf=351, nr_perf_event_open=331,    # asm/unistd_64.h
    # arch/s390/include/uapi/asm/ptrace.h, user_pt_regs { unsigned long args[1];
    # psw_t psw (mask, addr); unsigned long gprs[16]; } then the kernel's
    # pt_regs (arch/s390/include/asm/ptrace.h) goes on with orig_gpr2
    regs={"arg": 0, "pswmask": 8, "pswaddr": 16, **_S390_GPR, "orig_gpr2": 24 + 16 * 8},
    # s390x ELF ABI: arguments in r2..r6, result in r2, stack pointer r15
    arg_regs=("r2", "r3", "r4", "r5", "r6"),
    ret_reg="r2", ip_reg="pswaddr", sp_reg="r15",
    # bpftrace src/arch/s390.cpp
    reg_aliases={**_S390_GPR_ALIAS, "psw_mask": "pswmask", "psw_addr": "pswaddr",
                 "sp": "r15", "pc": "pswaddr", "ip": "pswaddr"},
    order=ByteOrder.BIG,
)

_MIPS_NAMES = ("zero at v0 v1 a0 a1 a2 a3 a4 a5 a6 a7 t0 t1 t2 t3 s0 s1 s2 s3 s4 s5 s6 s7 "
               "t8 t9 k0 k1 gp sp fp ra").split()
_MIPS64EL = Arch(
    # __NR_Linux is 5000 for the n64 ABI (asm/unistd_n64.h: __NR_bpf __NR_Linux + 315,
    # __NR_perf_event_open __NR_Linux + 292)
    name="mips64el", bits=64, nr_bpf=5315, nr_perf_event_open=5292,
    # arch/mips/include/asm/ptrace.h, struct pt_regs (64-bit, no pad0, no SmartMIPS
    # acx): regs[32] cp0_status hi lo cp0_badvaddr cp0_cause cp0_epc
    regs={**{n: i * 8 for i, n in enumerate(_MIPS_NAMES)},
          **_seq("cp0_status hi lo cp0_badvaddr cp0_cause cp0_epc", start=32 * 8)},
    # n64 ABI: arguments a0..a7 (regs 4..11), result v0, stack pointer sp (29)
    arg_regs=tuple(f"a{i}" for i in range(8)),
    ret_reg="v0", ip_reg="cp0_epc", sp_reg="sp",
    # bpftrace src/arch/mips64.cpp: regs[N] for each register
    reg_aliases={**{f"regs[{i}]": n for i, n in enumerate(_MIPS_NAMES)},
                 "s8": "fp", "pc": "cp0_epc", "epc": "cp0_epc"},
    ioctl=PPC_MIPS_IOCTL,
)

ARCHES: dict[str, Arch] = {a.name: a for a in (_X86_64, _I386, _AARCH64, _RISCV64, _ARM,
                                               _PPC64LE, _S390X, _MIPS64EL)}
#: other spellings of ``uname -m`` (and Debian's architecture names)
_MACHINE_ALIASES = {"arm64": "aarch64", "amd64": "x86_64", "armv7l": "arm",
                    "armv6l": "arm", "armv7": "arm", "armv8l": "arm", "armhf": "arm",
                    "i686": "i386", "i586": "i386", "i486": "i386",
                    "ppc64el": "ppc64le", "mips64": "mips64el"}


def lookup(machine: str) -> Arch:
    name = _MACHINE_ALIASES.get(machine, machine)
    try:
        return ARCHES[name]
    except KeyError:
        raise UnsupportedArch(machine) from None


def check_host(a: Arch, machine: str, order: ByteOrder = HOST_ORDER,
               pointer_bits: int = struct.calcsize("P") * 8) -> Arch:
    """``a`` if this Python can drive it: the same byte order (mips64 is
    also a big-endian machine) and the same word size (a 32-bit userland on
    a 64-bit kernel calls the compat syscalls: other numbers)."""
    if a.order is not order:
        raise UnsupportedArch(machine, f"this is a {order.value}-endian machine and "
                                       f"pytrace knows {a.name} as {a.order.value}-endian only")
    if a.bits != pointer_bits:
        raise UnsupportedArch(machine, f"this Python is {pointer_bits}-bit on a {a.bits}-bit "
                                       f"kernel; run a {a.bits}-bit python3")
    return a


def current() -> Arch:
    machine = os.uname().machine
    return check_host(lookup(machine), machine)
