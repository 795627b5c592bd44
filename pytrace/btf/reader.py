"""BTF reader for /sys/kernel/btf/* (lazy, cached), standard library only.

Format: include/uapi/linux/btf.h and Documentation/bpf/btf.rst. A blob is a
24-byte header, a type section and a string section. Type ids count from 1
(0 is ``void``) in section order; each record is ``name_off, info, size|type``
(three u32) followed by kind-specific words, so every record is a whole
number of u32 and the section reads well as one ``memoryview.cast("I")``.

Kernel modules' BTF (/sys/kernel/btf/<module>) is *split* BTF: its type ids
continue after the base's last id and its string offsets continue after the
base's string section (``Btf.load(path, base=vmlinux)``).

Decoding every type of vmlinux (~130k types) in Python takes a second, so
nothing is decoded up front. Opening builds (or loads from the cache) one
index (index.py): the word offset of every type record, the named ids sorted by name
(binary search) and the function names (for listing probe targets). Types are decoded on demand
from the mmap'd (Linux 6.16+ lets sysfs BTF be mapped) or read file. The
index cache is keyed by content (size + CRC-32 of the whole file: under a
millisecond for 5 MB, unlike sysfs mtimes which are boot times), so a
rebuilt kernel never meets a stale index.
"""
from __future__ import annotations

import os
import sys
from array import array
from bisect import bisect_left

from . import index, spelling
from .records import (VOID, BtfEnumValue, BtfError, BtfKind, BtfMember, BtfParam, BtfType,
                      BtfVarSecinfo, FuncLinkage, FuncSignature, IntEncoding, VarLinkage)

VMLINUX = "/sys/kernel/btf/vmlinux"
_MAGIC_LE = b"\x9f\xeb"
_MAGIC_BE = b"\xeb\x9f"

#: kinds resolve() looks through
_MODIFIERS = frozenset((BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST,
                        BtfKind.RESTRICT, BtfKind.TYPE_TAG))


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


class Btf:
    """A BTF blob (vmlinux, or a module's split BTF on top of ``base``)."""

    def __init__(self, data, name: str, base: Btf | None = None):
        self.name = name
        self.base = base
        self._data = data            # bytes or mmap; kept alive for _words
        if len(data) < 24:
            raise BtfError(f"{name}: not BTF (only {len(data)} bytes)")
        if data[:2] == _MAGIC_LE:
            order = "little"
        elif data[:2] == _MAGIC_BE:
            order = "big"
        else:
            raise BtfError(f"{name}: not BTF (bad magic {bytes(data[:2]).hex()})")
        fields = [int.from_bytes(data[o:o + 4], order) for o in range(4, 24, 4)]
        hdr_len, type_off, type_len, str_off, str_len = fields
        if data[2] != 1 or hdr_len < 24:
            raise BtfError(f"{name}: unsupported BTF version {data[2]} or header")
        ts, ss = hdr_len + type_off, hdr_len + str_off
        if ts + type_len > len(data) or ss + str_len > len(data) or type_len % 4:
            raise BtfError(f"{name}: truncated or corrupt BTF (sections exceed the file)")
        self.byteorder = order
        if order == sys.byteorder and ts % 4 == 0:
            self._words = memoryview(data)[ts:ts + type_len].cast("I")
        else:
            words = array("I", bytes(data[ts:ts + type_len]))
            if order != sys.byteorder:
                words.byteswap()
            self._words = words
        self._str_start, self._str_len, self._str_end = ss, str_len, ss + str_len
        if base is None:
            self.start_id, self._str_base = 1, 0
        else:
            self.start_id, self._str_base = base.end_id, base._str_base + base._str_len
        self._offsets = self._by_name = None
        self._func_names = b""      # sorted unique FUNC names, NUL-separated
        self._cache: dict[int, BtfType] = {}
        self._key: tuple | None = None

    def __repr__(self) -> str:
        return f"<Btf {self.name} ids {self.start_id}..{self.end_id - 1}>"

    # ---- opening -------------------------------------------------------------

    @classmethod
    def load(cls, path: str = VMLINUX, base: Btf | None = None, cache: bool = True) -> Btf:
        """Open a BTF file; its index comes from the cache when still valid."""
        try:
            data = _map_file(path)
        except OSError as e:
            hint = ("this kernel has no BTF (CONFIG_DEBUG_INFO_BTF); use tracepoints"
                    " instead of fentry/struct casts") if path == VMLINUX else None
            raise BtfError(f"cannot read BTF from {path}: {e.strerror}", hint=hint) from None
        btf = cls(data, path, base)
        btf._open_index(path if cache else None)
        return btf

    @classmethod
    def from_bytes(cls, data: bytes, base: Btf | None = None, name: str = "<bytes>") -> Btf:
        """A blob already in memory (e.g. from an ELF .BTF section); no disk cache."""
        btf = cls(data, name, base)
        btf._open_index(None)
        return btf

    def close(self) -> None:
        """Release the file mapping (the object is unusable afterwards)."""
        if isinstance(self._words, memoryview):
            self._words.release()
        if hasattr(self._data, "close"):
            self._data.close()

    @property
    def end_id(self) -> int:
        """One past the last type id (the first id of BTF split on top of this)."""
        return self.start_id + len(self._offsets)

    def _content_key(self) -> tuple:
        if self._key is None:
            import zlib
            self._key = (len(self._data), zlib.crc32(self._data)) + (
                self.base._content_key() if self.base else ())
        return self._key

    def _open_index(self, path: str | None) -> None:
        if path is None:
            self._build_index()
            return
        from ..base.cache import cache_dir, write_atomic
        import zlib
        key = (sys.byteorder,) + self._content_key()
        tag = f"{os.path.basename(path)}-{zlib.crc32(os.path.abspath(path).encode()):08x}"
        file = os.path.join(cache_dir(), f"btf-{tag}.idx")
        found = index.load(file, key, self._words)
        if found is not None:
            self._offsets, self._by_name, self._func_names = found
            return
        self._build_index()
        write_atomic(file, index.dump((self._offsets, self._by_name, self._func_names), key))

    def _build_index(self) -> None:
        self._offsets, self._by_name, self._func_names = index.build(
            self._words, self._strbytes, self.start_id, self.name)

    # ---- strings and raw records -----------------------------------------------

    def _strbytes(self, off: int) -> bytes:
        if off < self._str_base:
            return self.base._strbytes(off)
        a = self._str_start + off - self._str_base
        e = self._data.find(b"\0", a, self._str_end)
        if e < 0:
            raise BtfError(f"{self.name}: string offset {off} is outside the string section")
        return self._data[a:e]

    def _str(self, off: int) -> str:
        return self._strbytes(off).decode("utf-8", "replace")

    def _record(self, tid: int) -> tuple[Btf, int]:
        """(the Btf holding ``tid``, its word offset)."""
        btf = self
        while tid < btf.start_id:
            btf = btf.base
            if btf is None:
                raise BtfError(f"{self.name}: type id {tid} is not in this BTF")
        rel = tid - btf.start_id
        if rel >= len(btf._offsets):
            raise BtfError(f"{self.name}: type id {tid} is out of range")
        return btf, btf._offsets[rel]

    def kind(self, tid: int) -> BtfKind:
        if tid == 0:
            return BtfKind.UNKN
        btf, off = self._record(tid)
        return BtfKind((btf._words[off + 1] >> 24) & 0x1F)

    def name_of(self, tid: int) -> str:
        if tid == 0:
            return "void"
        btf, off = self._record(tid)
        return btf._str(btf._words[off])

    def _name_key(self, tid: int) -> bytes:
        btf, off = self._record(tid)
        return btf._strbytes(btf._words[off])

    # ---- decoding --------------------------------------------------------------

    def type(self, tid: int) -> BtfType:
        """The decoded type ``tid`` (0 is void)."""
        if tid == 0:
            return VOID
        t = self._cache.get(tid)
        if t is None:
            btf, off = self._record(tid)
            t = self._cache[tid] = btf._decode(tid, off)
        return t

    def _decode(self, tid: int, off: int) -> BtfType:
        w, s = self._words, self._str
        name, info, st = s(w[off]), w[off + 1], w[off + 2]
        kind, vlen, kflag = BtfKind((info >> 24) & 0x1F), info & 0xFFFF, bool(info >> 31)
        x = off + 3
        K = BtfKind
        if kind is K.INT:
            v = w[x]
            return BtfType(tid, kind, name, kflag, size=st, encoding=IntEncoding((v >> 24) & 0xF),
                           bit_offset=(v >> 16) & 0xFF, bits=v & 0xFF)
        if kind is K.ARRAY:
            return BtfType(tid, kind, name, kflag, type=w[x], index_type=w[x + 1], nelems=w[x + 2])
        if kind in (K.STRUCT, K.UNION):
            ms = []
            for j in range(x, x + 3 * vlen, 3):
                o = w[j + 2]
                ms.append(BtfMember(s(w[j]), w[j + 1], o & 0xFFFFFF, o >> 24) if kflag
                          else BtfMember(s(w[j]), w[j + 1], o))
            return BtfType(tid, kind, name, kflag, size=st, members=tuple(ms))
        if kind is K.ENUM:
            vals = tuple(BtfEnumValue(s(w[j]), _signed(w[j + 1], 32) if kflag else w[j + 1])
                         for j in range(x, x + 2 * vlen, 2))
            return BtfType(tid, kind, name, kflag, size=st, values=vals)
        if kind is K.ENUM64:
            vals = []
            for j in range(x, x + 3 * vlen, 3):
                v = w[j + 1] | w[j + 2] << 32
                vals.append(BtfEnumValue(s(w[j]), _signed(v, 64) if kflag else v))
            return BtfType(tid, kind, name, kflag, size=st, values=tuple(vals))
        if kind is K.FUNC_PROTO:
            ps = tuple(BtfParam(s(w[j]), w[j + 1]) for j in range(x, x + 2 * vlen, 2))
            return BtfType(tid, kind, name, kflag, type=st, params=ps)
        if kind is K.FUNC:
            return BtfType(tid, kind, name, kflag, type=st, linkage=FuncLinkage(vlen))
        if kind is K.VAR:
            return BtfType(tid, kind, name, kflag, type=st, linkage=VarLinkage(w[x]))
        if kind is K.DATASEC:
            si = tuple(BtfVarSecinfo(w[j], w[j + 1], w[j + 2]) for j in range(x, x + 3 * vlen, 3))
            return BtfType(tid, kind, name, kflag, size=st, secinfos=si)
        if kind is K.DECL_TAG:
            return BtfType(tid, kind, name, kflag, type=st, component_idx=_signed(w[x], 32))
        if kind is K.FLOAT:
            return BtfType(tid, kind, name, kflag, size=st)
        return BtfType(tid, kind, name, kflag, type=st)   # PTR FWD TYPEDEF quals TYPE_TAG

    # ---- lookups ---------------------------------------------------------------

    def find_all(self, name: str) -> list[int]:
        """Ids of every type called ``name`` (this BTF and its bases), ascending."""
        found = self.base.find_all(name) if self.base else []
        key, idx = name.encode(), self._by_name
        i = bisect_left(idx, key, key=self._name_key)
        while i < len(idx) and self._name_key(idx[i]) == key:
            found.append(idx[i])
            i += 1
        return found

    def names(self, prefix: str, kind: BtfKind | None = None) -> list[str]:
        """Sorted unique names starting with ``prefix`` (of ``kind``), in this
        BTF and its bases: ``names("btf_trace_", BtfKind.TYPEDEF)``."""
        found = set(self.base.names(prefix, kind)) if self.base else set()
        key, idx = prefix.encode(), self._by_name
        i = bisect_left(idx, key, key=self._name_key)
        while i < len(idx):
            name = self._name_key(idx[i])
            if not name.startswith(key):
                break
            if kind is None or self.kind(idx[i]) is kind:
                found.add(name.decode("utf-8", "replace"))
            i += 1
        return sorted(found)

    def find(self, name: str, kind: BtfKind | None = None) -> int | None:
        """The id of the type ``name`` of ``kind`` (any kind when None: the lowest
        id, a full definition preferred to a FWD), or None."""
        ids = self.find_all(name)
        if kind is not None:
            return next((t for t in ids if self.kind(t) is kind), None)
        return next((t for t in ids if self.kind(t) is not BtfKind.FWD), ids[0] if ids else None)

    def resolve(self, tid: int) -> int:
        """``tid`` with typedefs, qualifiers and type tags looked through."""
        while tid:
            btf, off = self._record(tid)
            w = btf._words
            if (w[off + 1] >> 24) & 0x1F not in _MODIFIERS:
                break
            tid = w[off + 2]
        return tid

    def funcs(self, pattern: str | None = None) -> list[str]:
        """Names of this BTF's functions (FUNC records; not the base's), sorted and
        unique; ``pattern`` is a shell glob (``vfs_*``)."""
        names = str(self._func_names, "utf-8", "replace").split("\0") \
            if self._func_names else []
        if pattern is None:
            return names
        if not any(c in pattern for c in "*?["):
            return [n for n in names if n == pattern]
        from fnmatch import fnmatchcase
        return [n for n in names if fnmatchcase(n, pattern)]

    def func_proto(self, name: str) -> FuncSignature | None:
        """Parameters and return type of the function ``name``, or None."""
        fid = self.find(name, BtfKind.FUNC)
        if fid is None:
            return None
        func = self.type(fid)
        proto = self.type(func.type)
        params = proto.params
        variadic = bool(params) and params[-1].type == 0 and not params[-1].name
        if variadic:
            params = params[:-1]
        return FuncSignature(name, proto.type, params, func.linkage, variadic)

    def size_of(self, tid: int) -> int:
        """sizeof the type in bytes (0 for void and functions)."""
        t = self.type(self.resolve(tid))
        if t.kind is BtfKind.PTR:
            return 8
        if t.kind is BtfKind.ARRAY:
            return t.nelems * self.size_of(t.type)
        return t.size

    # ---- C spelling (spelling.py) ---------------------------------------------

    def type_name(self, tid: int) -> str:
        """The C spelling: ``struct task_struct *``, ``const char *``, ``int (*)(void *)``."""
        return spelling.type_name(self, tid)

    def declaration(self, tid: int, name: str) -> str:
        """``name`` declared with type ``tid``: ``char comm[16]``, ``void (*func)(int)``."""
        return spelling.declaration(self, tid, name)

def _map_file(path: str):
    """The file's bytes: a read-only private mapping when the file allows it
    (sysfs BTF does from Linux 6.16), else one read."""
    import mmap
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size:
            try:
                return mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
            except (OSError, ValueError):
                pass
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)
