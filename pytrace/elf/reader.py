"""A small ELF reader: the header, program headers, sections, symbol
tables, notes and the build ID — what uprobes, USDT and symbolization need.

Reads through a read-only ``mmap`` and ``struct`` with the file's own class
(32/64-bit) and byte order, so an arm 32-bit big-endian binary reads as
well as the host's. Nothing is parsed until asked for, and each table is
parsed once. (pyelftools can do all of this too; it takes ~10x longer to
import and to read libc's symbols, see bench/uprobe_bench.py, and a tracer
resolves symbols on its start-up path.)

Addresses: a symbol's ``value`` is its link-time virtual address. The
kernel's uprobe wants a *file offset*; ``vaddr_to_offset`` maps one to the
other through the PT_LOAD segment holding it, which is right for
executables (ET_EXEC), position-independent executables and shared objects
(ET_DYN) alike.
"""
from __future__ import annotations

import mmap
import os
import struct
from enum import IntEnum, IntFlag

from ..base.record import record


class ElfError(Exception):
    """The file is missing, unreadable or not an ELF file we understand."""


class ElfClass(IntEnum):
    ELF32 = 1
    ELF64 = 2


class ElfData(IntEnum):
    LSB = 1
    MSB = 2


class ElfType(IntEnum):
    NONE = 0
    REL = 1
    EXEC = 2
    DYN = 3
    CORE = 4


class Machine(IntEnum):
    """e_machine values pytrace knows an architecture for (arch.py names)."""
    I386 = 3
    ARM = 40
    X86_64 = 62
    AARCH64 = 183
    RISCV = 243

    @property
    def arch_name(self) -> str:
        return {Machine.I386: "i386", Machine.ARM: "arm", Machine.X86_64: "x86_64",
                Machine.AARCH64: "aarch64", Machine.RISCV: "riscv64"}[self]


class SegmentType(IntEnum):
    NULL = 0
    LOAD = 1
    DYNAMIC = 2
    INTERP = 3
    NOTE = 4


class SegmentFlag(IntFlag):
    X = 1
    W = 2
    R = 4


class SectionType(IntEnum):
    NULL = 0
    PROGBITS = 1
    SYMTAB = 2
    STRTAB = 3
    NOTE = 7
    NOBITS = 8
    DYNSYM = 11


class SymType(IntEnum):
    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6
    GNU_IFUNC = 10


class SymBind(IntEnum):
    LOCAL = 0
    GLOBAL = 1
    WEAK = 2
    GNU_UNIQUE = 10


_FUNC_TYPES = (SymType.FUNC, SymType.GNU_IFUNC)
#: section index of an undefined symbol (SHN_UNDEF)
SHN_UNDEF = 0
#: note type of a GNU build ID (NT_GNU_BUILD_ID)
NT_GNU_BUILD_ID = 3
ELF_MAGIC = b"\x7fELF"

# Layouts without the byte-order prefix; (32-bit, 64-bit).
_EHDR = ("16sHHIIIIIHHHHHH", "16sHHIQQQIHHHHHH")     # Elf{32,64}_Ehdr
_PHDR = ("IIIIIIII", "IIQQQQQQ")                     # Elf{32,64}_Phdr (raw order)
_SHDR = ("IIIIIIIIII", "IIQQQQIIQQ")                 # Elf{32,64}_Shdr
_SYM = ("IIIBBH", "IBBHQQ")                          # Elf{32,64}_Sym (raw order)
_NHDR = "III"                                        # Elf_Nhdr (both classes)


@record(frozen=True)
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@record(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int


class Symbol(tuple):
    """(name, value, size, type, bind, shndx): a tuple, because a binary
    has thousands and records cost ~1 us each to build."""
    __slots__ = ()

    def __new__(cls, name: str, value: int, size: int, type: int, bind: int, shndx: int):
        return tuple.__new__(cls, (name, value, size, type, bind, shndx))

    name = property(lambda self: self[0])
    value = property(lambda self: self[1])
    size = property(lambda self: self[2])
    type = property(lambda self: self[3])
    bind = property(lambda self: self[4])
    shndx = property(lambda self: self[5])

    @property
    def is_function(self) -> bool:
        return self[3] in _FUNC_TYPES

    def __repr__(self) -> str:
        return f"Symbol({self[0]!r}, 0x{self[1]:x}, size={self[2]}, type={self[3]})"


@record(frozen=True)
class Note:
    owner: str
    type: int
    desc: bytes


class ElfFile:
    """One ELF file, mapped read-only. Use as a context manager or close()."""

    def __init__(self, path: str, data: bytes | None = None):
        """Map the file at ``path``, or read ``data`` (an image already in
        memory, such as the vDSO) under that name."""
        self.path = path
        self._map = data
        if data is None:
            self._map = self._open(path)
        elif len(data) < 52:
            raise ElfError(f"{path} is not an ELF file (too short)")
        data = self._map
        if data[:4] != ELF_MAGIC:
            self.close()
            raise ElfError(f"{path} is not an ELF file")
        cls, order = data[4], data[5]
        if cls not in (1, 2) or order not in (1, 2):
            self.close()
            raise ElfError(f"{path}: unknown ELF class {cls} or byte order {order}")
        self.is64 = cls == ElfClass.ELF64
        self.little = order == ElfData.LSB
        bo = "<" if self.little else ">"
        i = 1 if self.is64 else 0
        self._ehdr = struct.Struct(bo + _EHDR[i])
        self._phdr = struct.Struct(bo + _PHDR[i])
        self._shdr = struct.Struct(bo + _SHDR[i])
        self._sym = struct.Struct(bo + _SYM[i])
        self._nhdr = struct.Struct(bo + _NHDR)
        self._addr = struct.Struct(bo + ("Q" if self.is64 else "I"))
        (_ident, self.type, self.machine, _ver, self.entry, self._phoff, self._shoff, _flags,
         _ehsize, self._phentsize, self._phnum, self._shentsize, self._shnum,
         self._shstrndx) = self._ehdr.unpack_from(data, 0)
        self._segments: list[Segment] | None = None
        self._sections: list[Section] | None = None
        self._symbols: list[Symbol] | None = None
        self._own: list[Symbol] | None = None

    def _open(self, path: str) -> mmap.mmap:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise ElfError(f"cannot open {path}: {err.strerror}") from None
        try:
            st = os.fstat(fd)
            if st.st_size < 52:
                raise ElfError(f"{path} is not an ELF file (too short)")
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except OSError as err:
            raise ElfError(f"cannot read {path}: {err.strerror}") from None
        finally:
            os.close(fd)

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        self._map = None

    def __enter__(self) -> "ElfFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def addr_size(self) -> int:
        return 8 if self.is64 else 4

    @property
    def arch_name(self) -> str | None:
        try:
            return Machine(self.machine).arch_name
        except ValueError:
            return None

    # -- segments and sections ---------------------------------------------
    @property
    def segments(self) -> list[Segment]:
        if self._segments is None:
            out = []
            for k in range(self._phnum):
                raw = self._phdr.unpack_from(self._map, self._phoff + k * self._phentsize)
                if self.is64:
                    ptype, flags, offset, vaddr, _paddr, filesz, memsz, _align = raw
                else:
                    ptype, offset, vaddr, _paddr, filesz, memsz, flags, _align = raw
                out.append(Segment(ptype, flags, offset, vaddr, filesz, memsz))
            self._segments = out
        return self._segments

    @property
    def sections(self) -> list[Section]:
        if self._sections is None:
            raw = []
            for k in range(self._shnum if self._shoff else 0):
                raw.append(self._shdr.unpack_from(self._map, self._shoff + k * self._shentsize))
            names_off = raw[self._shstrndx][4] if self._shstrndx < len(raw) else 0
            self._sections = [Section(self._cstr(names_off + r[0]), r[1], r[2], r[3], r[4], r[5],
                                      r[6], r[9]) for r in raw]
        return self._sections

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def _cstr(self, off: int) -> str:
        data = self._map
        end = data.find(b"\0", off)
        if end < 0:
            end = len(data)
        return data[off:end].decode("utf-8", "replace")

    def _bytes(self, off: int, size: int) -> bytes:
        return self._map[off:off + size]

    @property
    def load_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.type == SegmentType.LOAD]

    @property
    def is_pic(self) -> bool:
        """Loaded at an address chosen at run time (PIE, shared object)."""
        return self.type == ElfType.DYN

    def vaddr_to_offset(self, vaddr: int) -> int | None:
        """The file offset of link-time address ``vaddr`` (None: not in the file)."""
        for seg in self.load_segments:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return vaddr - seg.vaddr + seg.offset
        return None

    def offset_to_vaddr(self, offset: int) -> int | None:
        """The link-time address of the byte at file ``offset``."""
        for seg in self.load_segments:
            if seg.offset <= offset < seg.offset + seg.filesz:
                return offset - seg.offset + seg.vaddr
        return None

    def read_vaddr(self, vaddr: int, size: int) -> bytes:
        """Up to ``size`` bytes of the file at link-time address ``vaddr``."""
        off = self.vaddr_to_offset(vaddr)
        return b"" if off is None else bytes(self._map[off:off + size])

    # -- symbols -------------------------------------------------------------
    def symbols(self) -> list[Symbol]:
        """Every defined, named symbol of .symtab then .dynsym, then of the
        separate debug file's .symtab when this file has none (a stripped
        binary whose -dbgsym package is installed); each name once, the
        first entry winning."""
        if self._symbols is None:
            own = self._own_symbols()
            seen = {s[0] for s in own}
            self._symbols = own + [s for s in self._debug_symbols() if s[0] not in seen]
        return self._symbols

    def _own_symbols(self) -> list[Symbol]:
        if self._own is None:
            seen: set[str] = set()
            out: list[Symbol] = []
            for kind in (SectionType.SYMTAB, SectionType.DYNSYM):
                for sec in self.sections:
                    if sec.type == kind:
                        for sym in self._read_symbols(sec):
                            if sym[0] not in seen:
                                seen.add(sym[0])
                                out.append(sym)
            self._own = out
        return self._own

    def _debug_symbols(self) -> list[Symbol]:
        if self.has_symtab:
            return []
        path = debug_file_for(self)
        if path is None:
            return []
        try:
            with ElfFile(path) as debug:
                return [sym for sec in debug.sections if sec.type == SectionType.SYMTAB
                        for sym in debug._read_symbols(sec)]
        except ElfError:
            return []

    @property
    def has_symtab(self) -> bool:
        return any(s.type == SectionType.SYMTAB for s in self.sections)

    def _read_symbols(self, sec: Section) -> list[Symbol]:
        secs = self.sections
        if sec.link >= len(secs) or not sec.entsize:
            return []
        strtab = secs[sec.link].offset
        data = self._map
        find = data.find
        out = []
        new = tuple.__new__
        count = sec.size // sec.entsize
        if sec.entsize != self._sym.size:
            return []
        table = data[sec.offset + sec.entsize:sec.offset + count * sec.entsize]
        is64 = self.is64
        for raw in self._sym.iter_unpack(table):
            if is64:
                name_off, info, _other, shndx, value, size = raw
            else:
                name_off, value, size, info, _other, shndx = raw
            if shndx == SHN_UNDEF or not name_off:
                continue
            start = strtab + name_off
            name = data[start:find(b"\0", start)].decode("utf-8", "replace")
            out.append(new(Symbol, (name, value, size, info & 0xF, info >> 4, shndx)))
        return out

    def symbol(self, name: str) -> Symbol | None:
        """Symbol ``name``, looked up in the debug file only when this file
        does not have it."""
        for table in (self._own_symbols(), None):
            for sym in table if table is not None else self.symbols():
                if sym[0] == name:
                    return sym
        return None

    def functions(self) -> list[Symbol]:
        """Functions with an address, in file order."""
        return [s for s in self.symbols() if s.is_function and s.value]

    # -- notes ---------------------------------------------------------------
    def notes(self, section: str | None = None):
        """Notes of one section (by name), or of every SHT_NOTE section."""
        for sec in self.sections:
            if sec.type != SectionType.NOTE or (section is not None and sec.name != section):
                continue
            yield from self._notes_in(sec.offset, sec.size, 4)
        if not self.sections:           # a file without section headers
            for seg in self.segments:
                if seg.type == SegmentType.NOTE:
                    yield from self._notes_in(seg.offset, seg.filesz, 4)

    def _notes_in(self, off: int, size: int, align: int):
        end = off + size
        data = self._map
        while off + 12 <= end:
            namesz, descsz, ntype = self._nhdr.unpack_from(data, off)
            off += 12
            owner = data[off:off + namesz].rstrip(b"\0").decode("utf-8", "replace")
            off += (namesz + align - 1) // align * align
            desc = data[off:off + descsz]
            off += (descsz + align - 1) // align * align
            yield Note(owner, ntype, desc)

    def build_id(self) -> str | None:
        """The GNU build ID as hex, or None."""
        for note in self.notes():
            if note.owner == "GNU" and note.type == NT_GNU_BUILD_ID:
                return note.desc.hex()
        return None

    def read_addr(self, buf: bytes, off: int) -> int:
        """One address-sized word of ``buf`` in this file's class and order."""
        return self._addr.unpack_from(buf, off)[0]

    def debuglink(self) -> str | None:
        sec = self.section(".gnu_debuglink")
        if sec is None:
            return None
        raw = self._bytes(sec.offset, sec.size)
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace") or None


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def debug_file_for(elf: ElfFile) -> str | None:
    """The separate debug file holding ``elf``'s full symbol table, where
    Debian's -dbgsym packages put it: /usr/lib/debug/.build-id/xx/rest.debug,
    or next to the file / under /usr/lib/debug by .gnu_debuglink."""
    build_id = elf.build_id()
    if build_id and len(build_id) > 2:
        path = f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug"
        if os.path.exists(path):
            return path
    link = elf.debuglink()
    if link:
        here = os.path.dirname(os.path.realpath(elf.path))
        for cand in (os.path.join(here, link), os.path.join(here, ".debug", link),
                     "/usr/lib/debug" + os.path.join(here, link)):
            if os.path.exists(cand):
                return cand
    return None
