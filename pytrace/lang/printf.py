"""printf format strings and string-literal escapes (pure: no I/O).

``parse_format`` splits a format into literal text and ``Conversion``
records; the checker uses ``Conversion.arg_kind`` to type the arguments and
the session calls ``format_printf`` with the decoded argument values.

Which specifications exist follows bpftrace (src/format_string.cpp): a ``%``
that does not start a valid specification is literal text (``"100%\\n"``
prints ``100%``), ``%%`` prints ``%``. Conversions: ``d i u o x X c s p``;
flags ``- + space # 0`` (any order); width and precision as digits; length
modifiers ``hh h l ll j z t``.

How values print follows C's printf, which bpftrace up to 0.23 called with
each argument sign- or zero-extended from its declared size to 64 bits (the
bpftrace 0.17 on the test machine is the oracle): the length modifier then
says how many of those bits the conversion reads, so ``%u`` of ``(int32)-1``
and of ``-1`` both print 4294967295 while ``%lu`` prints
18446744073709551615 and 4294967295 for ``(uint32)-1``. bpftrace 0.24+
formats through C++ iostreams instead, which reads the same bits but loses
some C rules (zero padding lands before the sign, precision is ignored for
``%s`` and integers, the space flag does nothing, ``%p`` of 0 prints ``0``);
we keep C's rules there.

Strings are Python ``str`` holding UTF-8 text; bytes that are not valid
UTF-8 are carried as surrogate escapes (``errors="surrogateescape"``), so
``s.encode("utf-8", "surrogateescape")`` is always the exact bytes. Widths
and precisions count bytes, as C does.
"""
from __future__ import annotations

from ..base.record import record
from enum import Enum

from pytrace.base.diagnostics import PytraceError

_MASK64 = (1 << 64) - 1
_FLAGS = "-+ #0"
_INT_CONVERSIONS = "diouxX"
_CONVERSIONS = _INT_CONVERSIONS + "csp"
#: length modifier -> how many bits of the (64-bit) argument the conversion reads
_LENGTH_BITS = {"": 32, "hh": 8, "h": 16, "l": 64, "ll": 64, "j": 64, "z": 64, "t": 64}
_LENGTH_CHARS = "hlLjzt"
_FLOAT_CONVERSIONS = "eEfFgGaA"


class ArgKind(Enum):
    """What a conversion expects of its argument."""
    INTEGER = "integer"   # d i u o x X c p: integers, pointers, booleans
    STRING = "string"     # s: strings and symbolized values (ksym, probe...)
    BUFFER = "buffer"     # r, rx, rh: buf() values


class TextError(PytraceError):
    """A bad format string or string literal.

    ``offset`` is the index of the first bad character in the text that was
    parsed and ``length`` how many characters are bad, so the compiler can
    underline them (map them to source columns with ``unescape_map``).
    """

    def __init__(self, message: str, offset: int, length: int = 1):
        super().__init__(message)
        self.offset = offset
        self.length = max(length, 1)


class FormatError(TextError):
    """A printf format string we cannot format."""


class EscapeError(TextError):
    """A bad escape sequence in a string literal."""


@record(frozen=True)
class Conversion:
    """One ``%...`` specification of a format string."""
    conv: str                      # d i u o x X c s p
    flags: str = ""                # as written, e.g. "-0"
    width: int | None = None
    precision: int | None = None
    length: str = ""               # "", "hh", "h", "l", "ll", "j", "z", "t"
    offset: int = 0                # index of the '%' in the format string
    text: str = ""                 # the specification as written, e.g. "%-5ld"

    @property
    def left(self) -> bool:
        return "-" in self.flags

    @property
    def zero(self) -> bool:
        return "0" in self.flags

    @property
    def plus(self) -> bool:
        return "+" in self.flags

    @property
    def space(self) -> bool:
        return " " in self.flags

    @property
    def alt(self) -> bool:
        return "#" in self.flags

    @property
    def arg_kind(self) -> ArgKind:
        if self.conv in ("r", "rx", "rh"):
            return ArgKind.BUFFER
        return ArgKind.STRING if self.conv == "s" else ArgKind.INTEGER

    @property
    def bits(self) -> int:
        """How many low bits of the 64-bit argument an integer conversion reads."""
        if self.conv == "p":
            return 64
        if self.conv == "c":
            return 8
        return _LENGTH_BITS[self.length]



def parse_format(fmt: str) -> list[str | Conversion]:
    """Split ``fmt`` into literal strings and ``Conversion``s.

    Adjacent literal text (including ``%%`` and stray ``%``) is merged into
    one string. Raises ``FormatError`` for specifications bpftrace accepts
    as such but pytrace cannot print (floating point, ``%n``, ``%r`` buffers,
    ``*`` widths, unknown length modifiers).
    """
    out: list[str | Conversion] = []
    literal: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        pct = fmt.find("%", i)
        if pct < 0:
            literal.append(fmt[i:])
            break
        literal.append(fmt[i:pct])
        spec = _parse_spec(fmt, pct)
        if spec is None:                 # not a specification: literal '%'
            literal.append("%")
            i = pct + 1
        elif isinstance(spec, int):      # '%%' (or '%5%'): one literal '%'
            literal.append("%")
            i = spec
        else:
            if literal:
                text = "".join(literal)
                if text:
                    out.append(text)
                literal = []
            out.append(spec)
            i = pct + len(spec.text)
    text = "".join(literal)
    if text:
        out.append(text)
    return out


def _parse_spec(fmt: str, pct: int) -> Conversion | int | None:
    """The specification at ``fmt[pct] == '%'``: a Conversion, the end index
    of a ``%%``, or None when the text there is no specification at all."""
    n = len(fmt)
    j = pct + 1
    while j < n and fmt[j] in _FLAGS:
        j += 1
    flags = fmt[pct + 1:j]
    width = precision = None
    if j < n and fmt[j] == "*":
        raise FormatError("'*' widths are not supported; write the width into the format",
                          j)
    k = j
    while k < n and fmt[k].isdigit():
        k += 1
    if k > j:
        width = int(fmt[j:k])
    j = k
    if j < n and fmt[j] == ".":
        j += 1
        if j < n and fmt[j] == "*":
            raise FormatError(
                "'*' precisions are not supported; write the precision into the format", j)
        k = j
        while k < n and fmt[k].isdigit():
            k += 1
        precision = int(fmt[j:k]) if k > j else 0
        j = k
    k = j
    while k < n and fmt[k] in _LENGTH_CHARS:
        k += 1
    length = fmt[j:k]
    j = k
    if j >= n:
        return None
    conv = fmt[j]
    end = j + 1
    text = fmt[pct:end]
    if conv == "%":
        return end if not length else None
    if conv in _CONVERSIONS:
        if length not in _LENGTH_BITS:
            raise FormatError(f"invalid length modifier '{length}' in '{text}'; "
                              "use one of hh, h, l, ll, j, z, t", j - len(length), len(length))
        if conv in "sc" and length:
            raise FormatError(f"'{text}': %{conv} takes no length modifier",
                              j - len(length), len(length))
        return Conversion(conv, _unique(flags), width, precision, length, pct, text)
    if conv in _FLOAT_CONVERSIONS:
        raise FormatError(f"'{text}': floating-point conversions are not supported "
                          "(BPF has no floating point)", pct, len(text))
    if conv == "n":
        raise FormatError(f"'{text}': %n is not supported", pct, len(text))
    if conv == "r":
        end += 1 if fmt[end:end + 1] in ("x", "h") else 0
        if length:
            raise FormatError(f"'{fmt[pct:end]}': %r takes no length modifier",
                              j - len(length), len(length))
        return Conversion(fmt[j:end], _unique(flags), width, precision, "", pct, fmt[pct:end])
    return None


def _unique(flags: str) -> str:
    return "".join(dict.fromkeys(flags))


def conversions(segments: list[str | Conversion]) -> list[Conversion]:
    """The conversions of a parsed format, in argument order."""
    return [s for s in segments if isinstance(s, Conversion)]


def arg_kinds(segments: list[str | Conversion]) -> list[ArgKind]:
    """What each argument must be, in order (for the checker)."""
    return [c.arg_kind for c in conversions(segments)]


# ---------------------------------------------------------------- formatting

def format_printf(segments: list[str | Conversion], args: list[int | str]) -> str:
    """Format decoded arguments: ints (already sign-correct for their type,
    so ``(int32)-1`` is -1 and ``(uint32)-1`` is 4294967295) and strings
    (symbolized values already resolved to text)."""
    convs = conversions(segments)
    if len(convs) != len(args):
        raise ValueError(f"format takes {len(convs)} arguments, got {len(args)}")
    out: list[str] = []
    it = iter(args)
    for seg in segments:
        out.append(seg if isinstance(seg, str) else format_conversion(seg, next(it)))
    return "".join(out)


def format_conversion(c: Conversion, value: int | str) -> str:
    """One conversion applied to one value, with C printf's rules."""
    if c.conv == "s":
        return _format_string(c, value)
    if c.arg_kind is ArgKind.BUFFER:
        raw = getattr(value, "raw", None)
        if raw is None:
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else b""
        return _format_string(Conversion("s", c.flags, c.width),
                              hex_format(raw, keep_ascii=c.conv == "r",
                                         escape=c.conv != "rh"))
    if isinstance(value, str):
        raise TypeError(f"{c.text} needs an integer, got a string")
    if c.conv == "c":
        byte = value & 0xFF
        return _pad(c, "", _byte_char(byte), byte_len=1, zero_ok=False)
    if c.conv == "p":
        return _format_pointer(c, value & _MASK64)
    return _format_int(c, value)


def hex_format(raw: bytes, keep_ascii: bool = True, escape: bool = True) -> str:
    """bpftrace's buffer text: %r keeps printable ASCII and writes other bytes
    as \\xNN; %rx writes every byte as \\xNN; %rh as hex pairs apart by spaces."""
    if not escape:
        return " ".join(f"{b:02x}" for b in raw)
    return "".join(chr(b) if keep_ascii and 32 <= b <= 126 else f"\\x{b:02x}" for b in raw)


def _byte_char(byte: int) -> str:
    return chr(byte) if byte < 0x80 else chr(0xDC00 + byte)


def _format_string(c: Conversion, value: int | str) -> str:
    # bpftrace 0.24+ accepts any value for %s and prints integers in decimal.
    text = value if isinstance(value, str) else str(value)
    if c.precision is None and text.isascii():
        return _pad(c, "", text, byte_len=len(text), zero_ok=False)
    raw = text.encode("utf-8", "surrogateescape")
    if c.precision is not None:
        raw = raw[:c.precision]
    return _pad(c, "", raw.decode("utf-8", "surrogateescape"), byte_len=len(raw), zero_ok=False)


def _format_pointer(c: Conversion, value: int) -> str:
    if value == 0:               # glibc prints "(nil)", padded with spaces only
        return _pad(c, "", "(nil)", byte_len=5, zero_ok=False)
    digits = format(value, "x")
    if c.precision is not None:
        digits = digits.zfill(c.precision)
    sign = "+" if c.plus else " " if c.space else ""
    return _pad(c, sign + "0x", digits, byte_len=len(digits))


def _format_int(c: Conversion, value: int) -> str:
    bits = c.bits
    u = value & ((1 << bits) - 1)
    sign = ""
    if c.conv in "di":
        n = u - (1 << bits) if u >> (bits - 1) else u
        digits = str(-n if n < 0 else n)
        sign = "-" if n < 0 else "+" if c.plus else " " if c.space else ""
    elif c.conv == "u":
        digits = str(u)
    elif c.conv == "o":
        digits = format(u, "o")
    elif c.conv == "x":
        digits = format(u, "x")
    else:
        digits = format(u, "X")
    if c.precision is not None:
        digits = "" if c.precision == 0 and u == 0 else digits.zfill(c.precision)
    prefix = sign
    if c.alt:
        if c.conv == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif c.conv in "xX" and u != 0:
            prefix += "0" + c.conv
    return _pad(c, prefix, digits, byte_len=len(digits))


def _pad(c: Conversion, prefix: str, body: str, byte_len: int, zero_ok: bool = True) -> str:
    """Pad to the width: spaces on the left (or right with '-'), or zeros
    between sign/prefix and digits for '0' without a precision."""
    width = c.width or 0
    missing = width - len(prefix) - byte_len
    if missing <= 0:
        return prefix + body
    if c.left:
        return prefix + body + " " * missing
    if zero_ok and c.zero and c.precision is None:
        return prefix + "0" * missing + body
    return " " * missing + prefix + body


# ------------------------------------------------------------ string escapes

_SIMPLE_ESCAPES = {"n": 0x0A, "t": 0x09, "r": 0x0D, '"': 0x22, "\\": 0x5C}
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"


def unescape(text: str) -> str:
    """The value of a string literal's body (without the quotes)."""
    return unescape_map(text)[0]


def unescape_map(text: str) -> tuple[str, list[int]]:
    """Like ``unescape``, also returning, for each character of the result
    and one past its end, its offset in ``text`` (so an error offset in the
    value maps back to the source).

    Escapes as bpftrace's lexer: ``\\n \\t \\r \\" \\\\``, ``\\NNN`` (one to
    three octal digits, at most 0377) and ``\\xH``/``\\xHH`` (also ``\\X``).
    Escapes produce bytes; the result decodes them as UTF-8, keeping invalid
    bytes as surrogate escapes.
    """
    if "\\" not in text:
        return text, list(range(len(text) + 1))
    buf = bytearray()
    origin: list[int] = []          # source offset of each byte in buf
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "\\":
            enc = ch.encode("utf-8", "surrogateescape")
            buf += enc
            origin += [i] * len(enc)
            i += 1
            continue
        if i + 1 >= n:
            raise EscapeError("string ends in the middle of an escape sequence", i)
        esc = text[i + 1]
        if esc in _SIMPLE_ESCAPES:
            buf.append(_SIMPLE_ESCAPES[esc])
            origin.append(i)
            i += 2
        elif esc in _OCTAL:
            j = i + 1
            while j < n and j < i + 4 and text[j] in _OCTAL:
                j += 1
            value = int(text[i + 1:j], 8)
            if value > 0xFF:
                raise EscapeError(f"octal escape sequence out of range '{text[i:j]}'",
                                  i, j - i)
            buf.append(value)
            origin.append(i)
            i = j
        elif esc in "xX":
            j = i + 2
            while j < n and j < i + 4 and text[j] in _HEX:
                j += 1
            if j == i + 2:
                raise EscapeError("invalid hex escape sequence: '\\x' needs one or two hex digits",
                                  i, 2)
            buf.append(int(text[i + 2:j], 16))
            origin.append(i)
            i = j
        else:
            raise EscapeError(f"invalid escape character '\\{esc}'", i, 2)
    value = buf.decode("utf-8", "surrogateescape")
    offsets: list[int] = []
    pos = 0
    for ch in value:
        offsets.append(origin[pos])
        pos += len(ch.encode("utf-8", "surrogateescape"))
    offsets.append(n)
    return value, offsets
