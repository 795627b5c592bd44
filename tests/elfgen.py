"""Build small ELF files in memory for the user-space probe tests: a text
segment with named functions, a data segment (USDT semaphores), symbol
tables, USDT notes and a build ID, in either class and byte order. The
data segment's file offset and address differ on purpose (0x2000 in the
file, 0x3000 past the base in memory), so address<->offset sums are
actually exercised.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

ET_EXEC, ET_DYN = 2, 3
EM_X86_64, EM_AARCH64, EM_ARM = 62, 183, 40
PT_LOAD, PT_NOTE = 1, 4
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOTE, SHT_NOBITS, SHT_DYNSYM = 1, 2, 3, 7, 8, 11
STT_OBJECT, STT_FUNC, STT_GNU_IFUNC = 1, 2, 10
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2

TEXT_OFFSET = 0x1000
DATA_OFFSET = 0x2000
DATA_SHIFT = 0x3000          # data vaddr = base + DATA_SHIFT, file offset DATA_OFFSET


@dataclass
class Func:
    name: str
    offset: int                # into .text
    size: int
    type: int = STT_FUNC
    bind: int = STB_GLOBAL
    dynamic: bool = False      # in .dynsym instead of .symtab


@dataclass
class Probe:
    provider: str
    name: str
    offset: int                # into .text
    args: str = ""
    semaphore: int | None = None    # offset into .probes (data segment)


@dataclass
class ElfSpec:
    is64: bool = True
    little: bool = True
    etype: int = ET_DYN
    machine: int = EM_X86_64
    text: bytes = b"\x90" * 0x100
    funcs: list = field(default_factory=list)
    objects: list = field(default_factory=list)      # Func records with type OBJECT, in data
    probes: list = field(default_factory=list)
    build_id: bytes | None = b"\x12\x34\x56\x78" * 5
    #: pretend the linker put .stapsdt.base elsewhere (prelink): shift recorded bases
    prelink_shift: int = 0

    @property
    def base(self) -> int:
        return 0x400000 if self.etype == ET_EXEC else 0


def build(spec: ElfSpec) -> bytes:
    bo = "<" if spec.little else ">"
    w = 8 if spec.is64 else 4
    addr = bo + ("Q" if spec.is64 else "I")
    base = spec.base
    text_vaddr = base + TEXT_OFFSET
    data_vaddr = base + DATA_SHIFT

    # -- data segment: .probes (semaphores, 2 bytes each) then .stapsdt.base (1 byte)
    probes_data = bytes(64)
    stapsdt_base_off = len(probes_data)
    data = probes_data + b"\0"
    stapsdt_base_vaddr = data_vaddr + stapsdt_base_off

    # -- strings
    shnames = [b"", b".text", b".probes", b".stapsdt.base", b".note.stapsdt",
               b".note.gnu.build-id", b".symtab", b".strtab", b".dynsym", b".dynstr",
               b".shstrtab"]
    shstrtab, shname_off = _strtab(shnames)

    def symbols(dynamic: bool):
        names = [b""]
        rows = []
        for f in spec.funcs + spec.objects:
            if f.dynamic != dynamic:
                continue
            is_obj = f.type == STT_OBJECT
            value = (data_vaddr if is_obj else text_vaddr) + f.offset
            shndx = 2 if is_obj else 1
            rows.append((f.name.encode(), value, f.size, (f.bind << 4) | f.type, shndx))
            names.append(f.name.encode())
        strtab, offs = _strtab(names)
        out = [_sym(spec, bo, 0, 0, 0, 0, 0)]
        for name, value, size, info, shndx in rows:
            out.append(_sym(spec, bo, offs[name], value, size, info, shndx))
        return b"".join(out), strtab

    symtab, strtab = symbols(False)
    dynsym, dynstr = symbols(True)

    # -- notes
    def note(owner: bytes, ntype: int, desc: bytes) -> bytes:
        owner0 = owner + b"\0"
        return (struct.pack(bo + "III", len(owner0), len(desc), ntype) + _pad4(owner0) +
                _pad4(desc))

    stapsdt = b""
    for p in spec.probes:
        sem = data_vaddr + p.semaphore if p.semaphore is not None else 0
        pc = text_vaddr + p.offset
        recorded_base = stapsdt_base_vaddr - spec.prelink_shift
        if spec.prelink_shift:
            pc -= spec.prelink_shift
            if sem:
                sem -= spec.prelink_shift
        desc = (struct.pack(addr, pc) + struct.pack(addr, recorded_base) +
                struct.pack(addr, sem) + p.provider.encode() + b"\0" + p.name.encode() + b"\0" +
                p.args.encode() + b"\0")
        stapsdt += note(b"stapsdt", 3, desc)
    build_id = note(b"GNU", 3, spec.build_id) if spec.build_id else b""

    # -- file layout: header, phdrs | text @0x1000 | data @0x2000 | the rest
    ehsize = 64 if spec.is64 else 52
    phentsize = 56 if spec.is64 else 32
    shentsize = 64 if spec.is64 else 40
    body = bytearray(DATA_OFFSET + len(data))
    body[TEXT_OFFSET:TEXT_OFFSET + len(spec.text)] = spec.text
    body[DATA_OFFSET:DATA_OFFSET + len(data)] = data
    pos = len(body)
    pieces = {}
    for name, blob in ((".note.stapsdt", stapsdt), (".note.gnu.build-id", build_id),
                       (".symtab", symtab), (".strtab", strtab), (".dynsym", dynsym),
                       (".dynstr", dynstr), (".shstrtab", shstrtab)):
        pos = (pos + 7) & ~7
        body += bytes(pos - len(body))
        pieces[name] = (pos, len(blob))
        body += blob
        pos += len(blob)
    shoff = (len(body) + 7) & ~7
    body += bytes(shoff - len(body))
    symsize = 24 if spec.is64 else 16
    # (name, type, flags, addr, offset, size, link, info, align, entsize)
    sections = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (shname_off[b".text"], SHT_PROGBITS, 6, text_vaddr, TEXT_OFFSET, len(spec.text),
         0, 0, 16, 0),
        (shname_off[b".probes"], SHT_PROGBITS, 3, data_vaddr, DATA_OFFSET, len(probes_data),
         0, 0, 8, 0),
        (shname_off[b".stapsdt.base"], SHT_PROGBITS, 3, stapsdt_base_vaddr,
         DATA_OFFSET + stapsdt_base_off, 1, 0, 0, 1, 0),
        (shname_off[b".note.stapsdt"], SHT_NOTE, 0, 0, *pieces[".note.stapsdt"], 0, 0, 4, 0),
        (shname_off[b".note.gnu.build-id"], SHT_NOTE, 2, 0, *pieces[".note.gnu.build-id"],
         0, 0, 4, 0),
        (shname_off[b".symtab"], SHT_SYMTAB, 0, 0, *pieces[".symtab"], 7, 1, 8, symsize),
        (shname_off[b".strtab"], SHT_STRTAB, 0, 0, *pieces[".strtab"], 0, 0, 1, 0),
        (shname_off[b".dynsym"], SHT_DYNSYM, 2, 0, *pieces[".dynsym"], 9, 1, 8, symsize),
        (shname_off[b".dynstr"], SHT_STRTAB, 2, 0, *pieces[".dynstr"], 0, 0, 1, 0),
        (shname_off[b".shstrtab"], SHT_STRTAB, 0, 0, *pieces[".shstrtab"], 0, 0, 1, 0),
    ]
    fmt = bo + ("IIQQQQIIQQ" if spec.is64 else "IIIIIIIIII")
    shdrs = b"".join(struct.pack(fmt, *sec) for sec in sections)
    body += shdrs

    phdrs = b""
    loads = [(5, 0, base, DATA_OFFSET), (6, DATA_OFFSET, data_vaddr, len(data))]
    for flags, off, vaddr, size in loads:
        if spec.is64:
            phdrs += struct.pack(bo + "IIQQQQQQ", PT_LOAD, flags, off, vaddr, vaddr, size, size,
                                 0x1000)
        else:
            phdrs += struct.pack(bo + "IIIIIIII", PT_LOAD, off, vaddr, vaddr, size, size, flags,
                                 0x1000)
    ident = b"\x7fELF" + bytes([2 if spec.is64 else 1, 1 if spec.little else 2, 1]) + bytes(9)
    if spec.is64:
        ehdr = struct.pack(bo + "16sHHIQQQIHHHHHH", ident, spec.etype, spec.machine, 1,
                           text_vaddr, ehsize, shoff, 0, ehsize, phentsize, len(loads),
                           shentsize, len(sections), len(sections) - 1)
    else:
        ehdr = struct.pack(bo + "16sHHIIIIIHHHHHH", ident, spec.etype, spec.machine, 1,
                           text_vaddr, ehsize, shoff, 0, ehsize, phentsize, len(loads),
                           shentsize, len(sections), len(sections) - 1)
    body[0:len(ehdr)] = ehdr
    body[ehsize:ehsize + len(phdrs)] = phdrs
    return bytes(body)


def _strtab(names: list[bytes]) -> tuple[bytes, dict[bytes, int]]:
    out, offs = b"", {}
    for n in names:
        if n in offs:
            continue
        offs[n] = len(out)
        out += n + b"\0"
    return out, offs


def _pad4(b: bytes) -> bytes:
    return b + bytes(-len(b) % 4)


def _sym(spec: ElfSpec, bo: str, name: int, value: int, size: int, info: int,
         shndx: int) -> bytes:
    if spec.is64:
        return struct.pack(bo + "IBBHQQ", name, info, 0, shndx, value, size)
    return struct.pack(bo + "IIIBBH", name, value, size, info, 0, shndx)


def write(path, spec: ElfSpec) -> str:
    data = build(spec)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)
