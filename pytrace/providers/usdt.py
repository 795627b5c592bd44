"""``usdt:BINARY:PROVIDER:NAME`` (alias ``U:``; ``usdt:BINARY:NAME`` for any
provider, wildcards in both): statically defined probes in user programs
(``sys/sdt.h``), from the binary's ``.note.stapsdt``.

Each probe site becomes a uprobe at its file offset. A site with a
semaphore (``PROBE_ENABLED()`` guards) is opened with the semaphore as the
uprobe's reference counter (Linux 4.20): the kernel increments it in every
process mapping the binary, now and later, while the probe is attached, so
the program takes the probe's code path. ``arg0…argN`` decode the site's
operands (``-4@%edi``, ``8@-16(%rbp)``, ``8@[sp, 16]``); sites whose
operands are laid out alike share a program.
"""
from __future__ import annotations

from ..lang.kernelinfo import Feature
from ..lang.probes import ProbeContext, ProgKind, Target
from . import Provider
from .uprobe import (UprobeData, _binaries, _binary_hint, _open_elf, attach_uprobe,
                     split_user_spec)

_WILD = "*?["


class Usdt(Provider):
    doc = "user statically defined probes (sys/sdt.h): usdt:BINARY:PROVIDER:NAME"

    def expand(self, spec, kernel) -> list[Target]:
        import fnmatch

        from ..elf.reader import ElfError
        from ..elf.stapsdt import ArgSpecError, read_probes
        _, parts = split_user_spec(spec.text)
        if len(parts) not in (2, 3) or not all(parts):
            raise self.fail(f"'{spec.text}' is not a usdt probe", spec,
                            "write usdt:BINARY:PROVIDER:NAME or usdt:BINARY:NAME")
        binary = parts[0]
        provider, name = (parts[1], parts[2]) if len(parts) == 3 else ("*", parts[1])
        paths = _binaries(binary)
        if not paths:
            raise self.fail(f"usdt: cannot find '{binary}'", spec, _binary_hint(binary))
        targets: list[Target] = []
        for path in paths:
            try:
                elf = _open_elf(path)
                probes = read_probes(elf)
            except ElfError as err:
                raise self.fail(f"usdt: {err}", spec) from None
            for p in probes:
                if not (fnmatch.fnmatchcase(p.provider, provider) and
                        fnmatch.fnmatchcase(p.name, name)):
                    continue
                try:
                    ctx = self._context(kernel, elf, p)
                except ArgSpecError as err:
                    raise self.fail(f"usdt {p.full_name} in {path}: {err}", spec,
                                    "its arguments cannot be read; the probe itself can "
                                    "still be used without argN") from None
                offset = elf.vaddr_to_offset(p.pc)
                if offset is None:
                    continue
                sem = elf.vaddr_to_offset(p.semaphore) if p.semaphore else 0
                data = UprobeData(path, offset, p.pc, p.full_name, ref_ctr_offset=sem or 0,
                                  usdt_args=p.args)
                targets.append(Target(self.name, f"usdt:{path}:{p.provider}:{p.name}", ctx,
                                      data))
        if not targets:
            raise self.fail(f"no usdt probe in {', '.join(paths)} matches "
                            f"{provider}:{name}", spec,
                            f"list them with: pytrace -l 'usdt:{paths[0]}'")
        return targets

    def _context(self, kernel, elf, probe) -> ProbeContext:
        from ..elf.stapsdt import parse_args
        arch = kernel.arch
        operands = tuple(_operand(a, arch, elf, probe.pc) for a in parse_args(probe.args,
                                                                               arch.name))
        return ProbeContext(ProgKind.KPROBE, args_missing="usdt probes have no 'args' (use "
                            "arg0…argN)", argn=operands,
                            probe_by_cookie=kernel.has(Feature.LINK),
                            share_key=("usdt", operands), user_pointers=True)

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        return attach_uprobe(target, prog_fd, runtime)

    def describe(self, target: Target) -> list[str]:
        """-lv: each argument's C type and where the site keeps it."""
        from ..elf.stapsdt import split_operands
        out = []
        for i, token in enumerate(split_operands(target.data.usdt_args)):
            size, _, operand = token.partition("@")
            n = int(size) if size.lstrip("-").isdigit() else 0
            ctype = f"{'' if n < 0 else 'u'}int{abs(n) * 8}_t" if n else "?"
            out.append(f"    {ctype} arg{i}  /* {operand} */")
        if target.data.ref_ctr_offset:
            out.append("    /* guarded by a semaphore */")
        return out

    def listing(self, pattern: str, kernel) -> list[str]:
        import fnmatch

        from ..elf.reader import ElfError
        from ..elf.stapsdt import read_probes
        parts = pattern.split(":") if pattern else []
        if not parts or not parts[0]:
            return ["usdt:BINARY:PROVIDER:NAME"]
        provider, name = "*", "*"
        if len(parts) == 2:
            name = parts[1] or "*"
        elif len(parts) >= 3:
            provider, name = parts[1] or "*", parts[2] or "*"
        out = []
        for path in _binaries(parts[0]):
            try:
                probes = read_probes(_open_elf(path))
            except ElfError:
                continue
            names = {f"usdt:{path}:{p.provider}:{p.name}" for p in probes
                     if fnmatch.fnmatchcase(p.provider, provider) and
                     fnmatch.fnmatchcase(p.name, name)}
            out += sorted(names)
        return out


def _operand(spec, arch, elf, pc: int):
    """An ``elf.stapsdt.ArgSpec`` as a ``lang.operands.Operand`` of this arch."""
    from ..elf.stapsdt import ArgSpecError, OperandKind
    from ..lang.operands import Operand
    from ..lang.types import Int

    def reg(name: str | None) -> int | None:
        if name is None:
            return None
        off = arch.reg_offset(name)
        if off is None:
            raise ArgSpecError(f"'{spec.text}': {arch.name} has no register {name} in pt_regs")
        return off

    # a value as wide as a register, signed as the probe site declared it
    t = Int(64, spec.signed)
    if spec.kind is OperandKind.CONSTANT:
        return Operand(spec.size, spec.signed, value=spec.value, type=t)
    if spec.kind is OperandKind.REGISTER:
        return Operand(spec.size, spec.signed, reg(spec.base), value=spec.value, type=t)
    disp = spec.disp
    base = spec.base
    if spec.symbol is not None:
        # sym(%rip): the symbol's run-time address = ip - (probe's link-time
        # address) + (symbol's link-time address); ip is the probe's address
        sym = elf.symbol(spec.symbol)
        if sym is None:
            raise ArgSpecError(f"'{spec.text}': no symbol {spec.symbol} in {elf.path}")
        base = arch.ip_reg
        disp = sym.value + spec.disp - pc
    elif base == "ip":
        raise ArgSpecError(f"'{spec.text}': a pc-relative operand without a symbol")
    return Operand(spec.size, spec.signed, reg(base), memory=True, index=reg(spec.index),
                   scale=spec.scale, disp=disp, type=t)
