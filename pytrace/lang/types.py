"""The language's types and their memory layouts.

Every value a script computes has one of these types. Integers and pointers
live in registers; strings, tuples and records live in memory (stack, per-CPU
scratch or a ring buffer record) and are handled by address. The layout
(``size``/``align``) is what map keys, map values and event records use, and
what userspace decodes.
"""
from __future__ import annotations

from ..base.record import field, record
from enum import Enum


class AddrSpace(Enum):
    """Where a pointer points; decides probe_read_user vs probe_read_kernel."""
    KERNEL = "kernel"
    USER = "user"
    UNKNOWN = "unknown"   # try kernel, fall back to user (BTF lacks __user)


class Type:
    size: int = 0
    align: int = 1

    @property
    def is_integer(self) -> bool:
        return False

    @property
    def in_register(self) -> bool:
        """Values that fit a register; everything else is handled by address."""
        return False

    def describe(self) -> str:
        return str(self)


@record(frozen=True)
class Void(Type):
    def __str__(self) -> str:
        return "void"


@record(frozen=True)
class Int(Type):
    bits: int = 64
    signed: bool = True

    @property
    def size(self) -> int:  # type: ignore[override]
        return max(self.bits // 8, 1)

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.size

    @property
    def is_integer(self) -> bool:
        return True

    @property
    def in_register(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"


INT64 = Int(64, True)
UINT64 = Int(64, False)
INT32 = Int(32, True)
UINT32 = Int(32, False)
UINT8 = Int(8, False)
UINT16 = Int(16, False)
BOOL = Int(64, False)  # comparisons and logical operators produce 0 or 1


@record(frozen=True)
class Str(Type):
    """A NUL-terminated string in a buffer of ``cap`` bytes."""
    cap: int = 64

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.cap

    def __str__(self) -> str:
        return f"string[{self.cap}]"


@record(frozen=True)
class Ptr(Type):
    target: Type = field(default_factory=Void)
    space: AddrSpace = AddrSpace.KERNEL

    size = 8
    align = 8

    @property
    def is_integer(self) -> bool:
        return True   # pointers take part in arithmetic and comparisons

    @property
    def in_register(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{self.target} *"


@record(frozen=True)
class Array(Type):
    elem: Type = field(default_factory=lambda: UINT8)
    count: int = 0

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.elem.size * self.count

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.elem.align

    def __str__(self) -> str:
        return f"{self.elem}[{self.count}]"


@record(frozen=True)
class ByteArray(Array):
    """Bytes that print as numbers (``[10,0,0,1]``), never as a string: pton()'s
    ``int8[4]``/``int8[16]``, as bpftrace types them."""


@record(frozen=True)
class Field:
    name: str
    type: Type
    offset: int
    #: for bitfields: (bit offset within the loaded unit, width in bits)
    bits: tuple[int, int] | None = None
    #: tracepoint ``__data_loc``/``__rel_loc`` fields: the u32 holds offset|len<<16
    data_loc: str | None = None
    #: the declaration as the kernel spells it ("const char *"), for -lv
    decl: str = field(default="", compare=False)


@record(frozen=True)
class Struct(Type):
    name: str = ""
    fields: tuple[Field, ...] = ()
    nbytes: int = 0
    union: bool = False
    space: AddrSpace = AddrSpace.KERNEL

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.nbytes

    @property
    def align(self) -> int:  # type: ignore[override]
        return max((f.type.align for f in self.fields), default=1)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def __str__(self) -> str:
        return f"{'union' if self.union else 'struct'} {self.name}"


@record(frozen=True)
class StructRef(Type):
    """A kernel struct or union known by name and size, its fields
    converted on first use (``resolve()``): how types from BTF refer to
    structs, so recursive ones (``list_head``) and huge graphs
    (``task_struct``) cost nothing until a script reaches into them.
    ``loader`` maps ``type_id`` to the full ``Struct`` (memoised by its
    owner, the BTF type converter); without one the struct is opaque."""
    name: str = ""
    union: bool = False
    nbytes: int = 0
    type_id: int = 0
    space: AddrSpace = AddrSpace.KERNEL
    loader: object = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.nbytes

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.resolve().align

    def resolve(self) -> Struct:
        if self.loader is None:
            return Struct(self.name, (), self.nbytes, self.union, self.space)
        return self.loader(self.type_id)

    def field(self, name: str) -> Field | None:
        return self.resolve().field(name)

    def __str__(self) -> str:
        return f"{'union' if self.union else 'struct'} {self.name or '(anon)'}"


@record(frozen=True)
class CEnum(Int):
    """A C enum: an integer of ``bits``/``signed`` that knows its enumerators,
    so values print by name (``label(value)``)."""
    name: str = ""
    #: (enumerator, value) in declaration order
    values: tuple[tuple[str, int], ...] = ()

    def label(self, value: int) -> str | None:
        """The first enumerator whose value is ``value``, else None."""
        for n, v in self.values:
            if v == value:
                return n
        return None

    def __str__(self) -> str:
        return f"enum {self.name or '(anon)'}"


def struct_of(t: Type) -> Struct | None:
    """The ``Struct`` behind ``t`` (a Struct or a StructRef), else None."""
    if isinstance(t, Struct):
        return t
    if isinstance(t, StructRef):
        return t.resolve()
    return None


def _aligned(n: int, a: int) -> int:
    return (n + a - 1) // a * a


@record(frozen=True)
class Tuple(Type):
    elems: tuple[Type, ...] = ()

    @property
    def offsets(self) -> tuple[int, ...]:
        offs, pos = [], 0
        for t in self.elems:
            pos = _aligned(pos, t.align)
            offs.append(pos)
            pos += t.size
        return tuple(offs)

    @property
    def align(self) -> int:  # type: ignore[override]
        return max((t.align for t in self.elems), default=1)

    @property
    def size(self) -> int:  # type: ignore[override]
        if not self.elems:
            return 0
        end = self.offsets[-1] + self.elems[-1].size
        return _aligned(end, self.align)

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.elems) + ")"


class StackKind(Enum):
    KERNEL = "kstack"
    USER = "ustack"


class StackMode(Enum):
    BPFTRACE = "bpftrace"
    PERF = "perf"
    RAW = "raw"


@record(frozen=True)
class Stack(Type):
    """A stack id from a stack-trace map (printed as symbolized frames)."""
    kind: StackKind = StackKind.KERNEL
    frames: int = 127
    mode: StackMode = StackMode.BPFTRACE

    size = 8
    align = 8

    @property
    def in_register(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{self.kind.value}({self.frames})"


class Formatted(Enum):
    """Integers userspace prints specially (``ksym(addr)`` → a symbol name).
    Each kind has its formatter (text and JSON) in ``render.formats``."""
    KSYM = "ksym"
    USYM = "usym"
    PROBE = "probe"     # index into the script's probe names
    INET4 = "inet4"     # an IPv4 address as it sits in memory (network order): ntop()
    MAC = "mac"         # a 48-bit MAC address, first byte lowest: macaddr()
    TIMESTAMP = "timestamp"   # boot-based nanoseconds, shown as wall-clock time: strftime()
    USERNAME = "username"     # a uid, shown as its user name (/etc/passwd): username
    CGROUP_PATH = "cgroup_path"   # a cgroup id, shown as its path in each hierarchy


@record(frozen=True)
class Special(Type):
    """An integer carried to userspace and printed by ``how``."""
    how: Formatted = Formatted.KSYM
    #: what the formatter applies besides the value: strftime()'s format
    #: (a constant, so it travels in the type, not in the event)
    fmt: str = ""

    size = 8
    align = 8

    @property
    def in_register(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.how.value


@record(frozen=True)
class Inet6(Str):
    """An IPv6 address: 16 bytes in network byte order, printed as text
    (``fe80::1``). The compiler handles it as a 16-byte string buffer
    (copied whole, never NUL-terminated); userspace decodes it as an address.
    8-aligned, so it is copied as two u64 (stack accesses must be aligned)."""
    cap: int = 16

    align = 8

    def __str__(self) -> str:
        return "inet6"


@record(frozen=True)
class Buffer(Str):
    """buf(ptr, len): ``cap`` bytes, the first the length, then the data. The
    compiler copies it as a string buffer; userspace decodes the bytes
    (``render.formats.BufferValue``: printed as %r, %rx or %rh show it)."""
    cap: int = 65

    def __str__(self) -> str:
        return f"buffer[{self.cap - 1}]"


@record(frozen=True)
class LpmKey(Type):
    """The key of a longest-prefix-match map (BPF LPM trie), made by
    ``lpm(exact…, address)``: a u32 prefix length in bits, then ``exact``
    integers matched exactly (8 bytes each, big-endian, so prefixes run
    through them), then an address of ``addr`` bytes (4: IPv4, 16: IPv6)
    matched by its first bits."""
    exact: int = 0
    addr: int = 4

    align = 4

    @property
    def size(self) -> int:  # type: ignore[override]
        return 4 + 8 * self.exact + self.addr

    @property
    def max_prefix(self) -> int:
        return 8 * (self.size - 4)

    def __str__(self) -> str:
        return "lpm(" + "int, " * self.exact + ("ipv4" if self.addr == 4 else "ipv6") + ")"


class AggKind(Enum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    STATS = "stats"
    HIST = "hist"
    LHIST = "lhist"


@record(frozen=True)
class Agg(Type):
    """The value type of a map written only through an aggregation function.

    Per-CPU layouts (one slot per CPU, folded when read):
    COUNT/SUM: u64 total. MIN/MAX: i64 value, u64 "set" flag. AVG/STATS: u64
    count, i64 total. HIST/LHIST: u64 count per bucket, the bucket being
    the last member of the map key.
    """
    kind: AggKind = AggKind.COUNT
    #: lhist (min, max, step); hist (bits,) — bucket granularity
    params: tuple[int, ...] = ()

    @property
    def size(self) -> int:  # type: ignore[override]
        return 16 if self.kind in (AggKind.MIN, AggKind.MAX, AggKind.AVG, AggKind.STATS) else 8

    align = 8

    @property
    def is_integer(self) -> bool:
        return self.kind not in (AggKind.HIST, AggKind.LHIST)

    def __str__(self) -> str:
        if self.params:
            return f"{self.kind.value}({', '.join(map(str, self.params))})"
        return f"{self.kind.value}_t"


def common_int(a: Int, b: Int) -> Int:
    """The type of ``a op b``: 64-bit, unsigned if either side is unsigned 64-bit."""
    signed = not ((not a.signed and a.bits == 64) or (not b.signed and b.bits == 64))
    return Int(64, signed)


def compatible(stored: Type, new: Type) -> bool:
    """Whether a map/variable typed ``stored`` can take a value typed ``new``."""
    if isinstance(stored, Int) and isinstance(new, (Int, Ptr, Special)):
        return True
    if isinstance(stored, Str) and isinstance(new, Str):
        return True
    if isinstance(stored, Tuple) and isinstance(new, Tuple):
        return len(stored.elems) == len(new.elems) and all(
            compatible(a, b) for a, b in zip(stored.elems, new.elems))
    return type(stored) is type(new) and (stored == new or isinstance(stored, (Ptr, Stack, Special)))
