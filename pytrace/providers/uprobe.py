"""``uprobe:BINARY:FUNC`` / ``uretprobe:`` (aliases ``u:``/``ur:``): user-space
functions, through the kernel's uprobe perf PMU (Linux 4.17).

BINARY is a path (``/bin/bash``), a program on $PATH (``bash``) or a
library by short name (``libc``), found like the dynamic linker finds it
(``pytrace.elf.ldpath``); FUNC is a symbol name with wildcards (``read*``),
``name+OFFSET`` or an address (``0x4004d6``). The kernel wants file
offsets: symbols' link-time addresses are mapped through the PT_LOAD
segment that holds them, the same sum for executables, PIEs and shared
objects. ``-p PID`` opens each probe for that process only.

Programs are BPF_PROG_TYPE_KPROBE on ``struct pt_regs``: ``arg0…argN``
read the architecture's argument registers, ``retval`` its return
register (uretprobe). Each perf event is owned by its attachment: closing
the fd removes the uprobe, so nothing outlives pytrace.

A wildcard matching several functions goes in one uprobe_multi link per
binary where the kernel has them (6.6, ``--no-feature uprobe_multi`` to
not): thousands of uprobes attach and detach in one call each, instead of
a perf event per function that takes ~45 ms to close.
"""
from __future__ import annotations

from ..lang.probes import FuncIp, ProbeContext, Target
from ..base.record import record, replace
from . import Provider

_WILD = "*?["


def split_user_spec(text: str) -> tuple[str, list[str]]:
    """``uprobe:/bin/bash:readline`` -> ("uprobe", ["/bin/bash", "readline"]).
    A path keeps going up to its next ':'; a quoted part loses its quotes
    (``"echo_builtin"+0`` -> ``echo_builtin+0``), as in bpftrace."""
    provider, _, rest = text.partition(":")
    return provider, [_unquote(p) for p in rest.split(":")] if rest else []


def _unquote(part: str) -> str:
    if part.startswith('"'):
        close = part.find('"', 1)
        if close > 0:
            return part[1:close] + part[close + 1:]
    return part


@record(frozen=True)
class UprobeData:
    """Where a uprobe goes: a file and an offset in it."""
    path: str
    offset: int
    #: the probe's link-time address (what ``offset`` is in the ELF's terms)
    vaddr: int = 0
    #: the symbol (None for an address probe)
    symbol: str | None = None
    retprobe: bool = False
    #: a USDT semaphore's file offset (the kernel counts users there)
    ref_ctr_offset: int = 0
    #: a USDT site's argument operands as the note spells them (for -lv)
    usdt_args: str = ""
    #: attached with the wildcard's other functions by one uprobe_multi link
    multi: bool = False

    def resolve_symbol(self, name: str) -> tuple[int, int, bool] | None:
        """(link-time address, size, position-independent) of symbol
        ``name`` in this binary, for ``uaddr()``."""
        from ..elf.reader import ElfError
        try:
            elf = _open_elf(self.path)
        except ElfError:
            return None
        sym = elf.symbol(name)
        if sym is None or not sym.value:
            return None
        return sym.value, sym.size, elf.is_pic


_elf_cache: dict[str, object] = {}


def _open_elf(path: str):
    """One ElfFile per path per run (uprobe specs often repeat a binary)."""
    from ..elf.reader import ElfFile
    elf = _elf_cache.get(path)
    if elf is None:
        elf = _elf_cache[path] = ElfFile(path)
    return elf


def pt_regs_context(kernel, *, retprobe: bool, user: bool = True, share: object = None,
                    arguments: bool = True) -> ProbeContext:
    """The context of a program on ``struct pt_regs`` (uprobes), from the one
    place kprobes build theirs too (ptregs.py): argN from the argument
    registers, retval from the return register in return probes (u64, as in
    bpftrace), reg("name"), and func (the probed address, a user symbol)."""
    from .ptregs import regs_context
    what = "uretprobe" if retprobe else "uprobe"
    ctx = regs_context(kernel, retprobe=retprobe, share=share or (what,), user_pointers=user,
                       func=FuncIp.NONE if retprobe else FuncIp.USER_IP_REG,
                       args_missing=f"{what}s have no 'args' (use arg0…argN"
                                    f"{' or retval' if retprobe else ''})")
    return ctx if arguments else replace(ctx, argn=())


class Uprobe(Provider):
    doc = "user-space function entry: uprobe:BINARY:FUNC (also FUNC+OFFSET, 0xADDRESS)"
    retprobe = False

    # -- compile time --------------------------------------------------------
    def expand(self, spec, kernel) -> list[Target]:
        from ..elf.reader import ElfError
        _, parts = split_user_spec(spec.text)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise self.fail(f"'{spec.text}' is not a {self.name}", spec,
                            f"write {self.name}:BINARY:FUNCTION, e.g. {self.name}:/bin/bash:"
                            f"readline or {self.name}:libc:malloc")
        binary, func = parts
        paths = _binaries(binary)
        if not paths:
            raise self.fail(f"{self.name}: cannot find '{binary}'", spec, _binary_hint(binary))
        targets: list[Target] = []
        for path in paths:
            try:
                elf = _open_elf(path)
            except ElfError as err:
                raise self.fail(f"{self.name}: {err}", spec,
                                "uprobes go on ELF executables and shared libraries") from None
            targets += self._targets(spec, kernel, path, elf, func)
        if not targets:
            raise self.missing(f"no function in {', '.join(paths)} matches '{func}'", spec,
                               f"list them with: pytrace -l '{self.name}:{paths[0]}:*'")
        return targets

    def _targets(self, spec, kernel, path: str, elf, func: str) -> list[Target]:
        places = self._locations(spec, path, elf, func)
        multi = _multi(kernel, func, places)
        what = "uretprobe" if self.retprobe else "uprobe"
        ctx = pt_regs_context(kernel, retprobe=self.retprobe,
                              share=(what, "multi") if multi else None)
        out = []
        for label, symbol, vaddr in places:
            offset = elf.vaddr_to_offset(vaddr)
            if offset is None:
                raise self.fail(f"{self.name}: 0x{vaddr:x} is not in a loaded segment of {path}",
                                spec, f"list functions with: pytrace -l '{self.name}:{path}:*'")
            data = UprobeData(path, offset, vaddr, symbol, self.retprobe, multi=multi)
            out.append(Target(self.name, f"{self.name}:{path}:{label}", ctx, data))
        return out

    def _locations(self, spec, path: str, elf, func: str):
        """(name as printed, symbol, link-time address) for each match."""
        if func[:2] in ("0x", "0X") or func.isdigit():
            try:
                return [(func, None, int(func, 0))]
            except ValueError:
                raise self.fail(f"'{func}' is not an address", spec) from None
        name, plus, off_text = func.partition("+")
        offset = 0
        if plus:
            try:
                offset = int(off_text, 0)
            except ValueError:
                raise self.fail(f"'{off_text}' is not an offset into {name}", spec,
                                f"write {self.name}:{path}:{name}+16 or +0x10") from None
            if self.retprobe:
                raise self.fail("a uretprobe goes on a function's entry; it takes no offset",
                                spec, f"write uretprobe:{path}:{name}")
        if any(c in name for c in _WILD):
            import fnmatch
            if plus:
                raise self.fail("an offset needs one function, not a wildcard", spec)
            return [(s.name, s.name, s.value) for s in _functions(elf)
                    if fnmatch.fnmatchcase(s.name, name)]
        sym = elf.symbol(name)
        if sym is None or not sym.value:
            import difflib
            near = difflib.get_close_matches(name, [s.name for s in _functions(elf)], 3, 0.75)
            hint = ("did you mean " + " or ".join(near) + "?") if near else (
                f"list them with: pytrace -l '{self.name}:{path}:*'")
            raise self.missing(f"{path} has no function '{name}'", spec, hint)
        if offset:
            if sym.size and offset >= sym.size:
                raise self.fail(f"{name}+{offset} is past the end of {name} ({sym.size} bytes)",
                                spec)
            why = _misplaced(elf, sym.value, offset)
            if why:
                raise self.fail(f"{name}+{offset} {why}", spec,
                                "a uprobe inside an instruction would corrupt the program; "
                                f"find instruction offsets with: objdump -d --disassemble={name} "
                                f"{path}")
            return [(f"{name}+{offset}", name, sym.value + offset)]
        return [(name, name, sym.value)]

    # -- run time --------------------------------------------------------------
    def load_options(self, target: Target) -> dict:
        if not target.data.multi:
            return {}
        from ..kernel.bpf_consts import AttachType
        return {"expected_attach_type": AttachType.TRACE_UPROBE_MULTI}

    def attach_group(self, targets: list[Target], prog_fd: int, runtime) -> list | None:
        """A wildcard's functions in one uprobe_multi link per binary (6.6);
        cookies say which fired."""
        if not targets[0].data.multi:
            return None
        from ..kernel.uprobes import attach_uprobe_multi
        by_path: dict[str, list[Target]] = {}
        for t in targets:
            by_path.setdefault(t.data.path, []).append(t)
        out = []
        try:
            for path, ts in by_path.items():
                out.append(attach_uprobe_multi(
                    prog_fd, path, [t.data.offset for t in ts], [t.probe_index for t in ts],
                    self.retprobe, runtime.pid or 0,
                    what=ts[0].name + (f" and {len(ts) - 1} more" if len(ts) > 1 else "")))
        except BaseException:
            for a in out:
                a.close()
            raise
        return out

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        if target.data.multi:           # one of a wildcard's, alone (its link failed)
            from ..kernel.uprobes import attach_uprobe_multi
            data: UprobeData = target.data
            return [attach_uprobe_multi(prog_fd, data.path, [data.offset],
                                        [target.probe_index], data.retprobe,
                                        runtime.pid or 0, what=target.name)]
        return attach_uprobe(target, prog_fd, runtime)

    def listing(self, pattern: str, kernel) -> list[str]:
        import fnmatch

        from ..elf.reader import ElfError
        parts = pattern.split(":") if pattern else []
        if not parts or not parts[0]:
            return [f"{self.name}:BINARY:FUNCTION"]
        func = parts[1] if len(parts) > 1 and parts[1] else "*"
        out = []
        for path in _binaries(parts[0]):
            try:
                elf = _open_elf(path)
            except ElfError:
                continue
            names = sorted({s.name for s in _functions(elf) if fnmatch.fnmatchcase(s.name, func)})
            out += [f"{self.name}:{path}:{n}" for n in names]
        return out


class Uretprobe(Uprobe):
    doc = "user-space function return: uretprobe:BINARY:FUNC (retval)"
    retprobe = True


#: instruction alignment of fixed-size instruction sets (e_machine -> bytes)
_ALIGN = {183: 4, 40: 2, 243: 2}       # aarch64; arm (thumb: 2); riscv (compressed: 2)


def _misplaced(elf, start: int, offset: int) -> str | None:
    """Why ``start+offset`` is no place for a uprobe, or None when it is an
    instruction boundary (decoded on x86-64, alignment elsewhere)."""
    if elf.machine == 62:                         # x86-64: decode from the entry
        from ..elf.x86len import UnknownInstruction, is_boundary
        code = elf.read_vaddr(start, offset + 16)
        try:
            if not is_boundary(code, offset):
                return "is inside an instruction"
        except UnknownInstruction as err:
            return f"cannot be checked: an instruction before it is not understood ({err})"
        return None
    align = _ALIGN.get(elf.machine)
    if align and offset % align:
        return f"is not a multiple of the instruction size ({align} bytes)"
    return None


def attach_uprobe(target: Target, prog_fd: int, runtime) -> list:
    """Open the uprobe ``target.data`` describes (for -p PID: in that process
    only) and attach the program, with the probe's id as the link cookie."""
    from ..kernel import attach
    data: UprobeData = target.data
    pid = runtime.pid if runtime.pid else -1
    fd = attach.open_uprobe(data.path, data.offset, data.retprobe, pid, data.ref_ctr_offset)
    return [attach.attach_perf_event(fd, prog_fd, runtime.use_link, what=target.name,
                                     cookie=target.probe_index)]


def _multi(kernel, func: str, places: list) -> bool:
    """Whether a wildcard's functions go in one uprobe_multi link: the kernel
    has them (6.6) and BPF links (for the cookies that tell them apart)."""
    from ..lang.kernelinfo import Feature
    return (len(places) > 1 and any(c in func for c in _WILD)
            and kernel.has(Feature.UPROBE_MULTI) and kernel.has(Feature.LINK))


def _functions(elf) -> list:
    return elf.functions()


def _binaries(binary: str) -> list[str]:
    """The files a spec's BINARY names (several when it has wildcards)."""
    from ..elf.ldpath import resolve_binary
    if any(c in binary for c in _WILD):
        import glob
        from ..elf.reader import is_elf
        return sorted(p for p in glob.glob(binary) if is_elf(p))
    found = resolve_binary(binary)
    return [found] if found else []


def _binary_hint(binary: str) -> str:
    if "/" in binary:
        return "check the path; give the file of an executable or a shared library"
    return (f"'{binary}' is neither a program on $PATH nor a library the dynamic linker "
            f"knows (ldconfig -p); give its path")
