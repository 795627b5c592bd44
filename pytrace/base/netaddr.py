"""Network addresses as text and back: IPv4/IPv6 (``ntop()``), MAC
(``macaddr()``) and longest-prefix-match keys (``lpm()``).

Pure functions shared by the compiler (address literals in ``lpm("10.0.0.0/8")``),
``decode``/``output`` (printing) and ``mapedit`` (map entries written from
text). Addresses stay in network byte order everywhere: an IPv4 address is
the u32 a program loads from a packet, whose little-endian bytes are the
address's bytes in order (as bpftrace's ``ntop(int)`` reads it).
"""
from __future__ import annotations

from .arch import BYTE_ORDER
AF_INET, AF_INET6 = 2, 10


class AddressError(ValueError):
    """Text that is not an address (the message says what was expected)."""


def inet4_text(value: int) -> str:
    """The IPv4 address whose bytes are ``value``'s low 4 bytes as memory
    holds them (``value`` was read from memory in the host's byte order)."""
    return ".".join(str(b) for b in (value & 0xFFFFFFFF).to_bytes(4, BYTE_ORDER))


def inet6_text(raw: bytes) -> str:
    """16 bytes as an IPv6 address, as inet_ntop(3) writes it."""
    import socket
    return socket.inet_ntop(socket.AF_INET6, bytes(raw[:16]).ljust(16, b"\0"))


def mac_text(value: int) -> str:
    """A MAC address held in the low 6 bytes of ``value`` (first byte lowest),
    as bpftrace's macaddr() prints it: upper-case hex pairs."""
    return ":".join(f"{(value >> (8 * i)) & 0xFF:02X}" for i in range(6))


def parse_address(text: str) -> tuple[bytes, int]:
    """``"10.1.0.0/16"`` -> (the address's bytes, prefix length); without a
    ``/N`` the prefix is the whole address. Raises AddressError."""
    import ipaddress
    addr, slash, prefix = text.strip().partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise AddressError(f"'{text}' is not an IPv4 or IPv6 address "
                           "(write 10.0.0.0/8 or fe80::/10)") from None
    width = 32 if ip.version == 4 else 128
    if not slash:
        return ip.packed, width
    if not prefix.isdigit() or int(prefix) > width:
        raise AddressError(f"'{text}': the prefix length must be 0 to {width}")
    return ip.packed, int(prefix)


def lpm_key_bytes(exact: list[int], addr: bytes, prefix: int) -> bytes:
    """The kernel's LPM trie key: u32 prefix length (host order), the exact
    parts as big-endian u64, then the address. The prefix counts the exact
    parts' bits too; address bits past the prefix are cleared."""
    n = prefix
    masked = bytearray(addr)
    for i in range(len(masked)):
        keep = max(0, min(8, n - 8 * i))
        masked[i] &= (0xFF << (8 - keep)) & 0xFF
    data = b"".join((v & (1 << 64) - 1).to_bytes(8, "big") for v in exact) + bytes(masked)
    return (64 * len(exact) + prefix).to_bytes(4, BYTE_ORDER) + data


def lpm_key_value(raw: bytes, exact: int, addr: int) -> tuple:
    """Key bytes of ``LpmKey(exact, addr)`` -> (exact ints…, "address/prefix")."""
    prefix = int.from_bytes(raw[:4], BYTE_ORDER)
    parts = tuple(int.from_bytes(raw[4 + 8 * i:12 + 8 * i], "big") for i in range(exact))
    a = bytes(raw[4 + 8 * exact:4 + 8 * exact + addr])
    text = inet4_text(int.from_bytes(a, BYTE_ORDER)) if addr == 4 else inet6_text(a)
    return parts + (f"{text}/{max(0, prefix - 64 * exact)}",)
