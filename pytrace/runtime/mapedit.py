"""Writing a running script's maps from Python: entries as text, as they print.

    set_entry(session, "@rules", "9999, 127.0.0.0/8", "1")
    delete_entry(session, "@rules", "9999, 127.0.0.0/8")
    load_file(session, "@rules", "rules.txt")

A key is written the way the map prints it: its parts separated by commas
or spaces (integers in any Python base, strings without spaces, addresses
with an optional ``/prefix`` for ``lpm()`` keys); values are integers. The
REPL and ``load(@map, file)`` both come here. Changes reach the kernel at
once: the next packet sees them.
"""
from __future__ import annotations

from ..base.arch import BYTE_ORDER
from ..base.diagnostics import RuntimeFailure
from ..lang.types import Inet6, Int, LpmKey, Ptr, Special, Str, Tuple, Type


class EntryError(ValueError):
    """Text that does not fit the map's key or value."""


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise EntryError(f"{what} must be an integer, not '{text}'") from None


def _parts(text: str) -> list[str]:
    return text.replace(",", " ").split()


def _count(t: Type | None) -> int:
    if t is None:
        return 0
    if isinstance(t, Tuple):
        return sum(_count(e) for e in t.elems)
    if isinstance(t, LpmKey):
        return t.exact + 1
    return 1


def _encode(t: Type, parts: list[str]) -> bytes:
    """The bytes of a key (or value) of type ``t`` from its text parts."""
    from ..base.netaddr import AddressError, lpm_key_bytes, parse_address
    if isinstance(t, LpmKey):
        exact = [_int(p, "an lpm() key's exact part") for p in parts[:-1]]
        try:
            addr, prefix = parse_address(parts[-1])
        except AddressError as err:
            raise EntryError(str(err)) from None
        if len(addr) != t.addr:
            raise EntryError(f"'{parts[-1]}' is an IPv{4 if len(addr) == 4 else 6} address; "
                             f"this map holds IPv{4 if t.addr == 4 else 6} addresses")
        return lpm_key_bytes(exact, addr, prefix)
    if isinstance(t, Inet6):
        try:
            addr, _ = parse_address(parts[0])
        except AddressError as err:
            raise EntryError(str(err)) from None
        return addr
    if isinstance(t, Str):
        raw = parts[0].encode("utf-8", "surrogateescape")
        if len(raw) >= t.cap:
            raise EntryError(f"'{parts[0]}' is longer than the map's strings ({t.cap - 1} bytes)")
        return raw.ljust(t.cap, b"\0")
    if isinstance(t, (Int, Ptr, Special)):
        v = _int(parts[0], "this part")
        signed = isinstance(t, Int) and t.signed
        return (v & ((1 << 8 * t.size) - 1)).to_bytes(t.size, BYTE_ORDER, signed=False) \
            if not signed else v.to_bytes(t.size, BYTE_ORDER, signed=True)
    if isinstance(t, Tuple):
        out = bytearray(t.size)
        pos = 0
        for off, e in zip(t.offsets, t.elems):
            n = _count(e)
            raw = _encode(e, parts[pos:pos + n])
            out[off:off + len(raw)] = raw
            pos += n
        return bytes(out)
    raise EntryError(f"entries of type {t} cannot be written from text")


def _spec(session, name: str):
    try:
        spec = session.script.map(name)
    except KeyError:
        known = ", ".join(m.name for m in session.script.user_maps) or "none"
        raise EntryError(f"the script has no map {name} (its maps: {known})") from None
    if not isinstance(spec.value, (Int, Ptr, Special)):
        raise EntryError(f"{name} holds {spec.value}; only maps of integers can be written")
    return spec


def encode_entry(spec, key_text: str, value_text: str | None) -> tuple[bytes, bytes | None]:
    """(key bytes, value bytes) for a map spec from text."""
    parts = _parts(key_text)
    want = _count(spec.key)
    if spec.key is None:
        if parts:
            raise EntryError(f"{spec.name} has no keys")
        key = bytes(spec.key_size)
    else:
        if len(parts) != want:
            raise EntryError(f"{spec.name}'s keys have {want} part{'s' if want != 1 else ''}, "
                             f"not {len(parts)}: '{key_text}'")
        key = _encode(spec.key, parts)
    value = None
    if value_text is not None:
        value = _encode(spec.value, [value_text.strip()])
    return key, value


def set_entry(session, name: str, key_text: str, value_text: str) -> None:
    """``name[key] = value`` in the running script (raises EntryError)."""
    spec = _spec(session, name)
    key, value = encode_entry(spec, key_text, value_text)
    session.maps[name].update(key, value)


def delete_entry(session, name: str, key_text: str) -> bool:
    """Remove ``name[key]``; False when it was not there."""
    spec = _spec(session, name)
    key, _ = encode_entry(spec, key_text, None)
    return session.maps[name].delete(key)


def parse_line(line: str) -> tuple[str, str] | None:
    """One line of a map file -> (key text, value text); None for blank and
    comment lines. The value is the last part ("=" before it is allowed)."""
    line = line.split("#", 1)[0].replace("=", " ").strip()
    if not line:
        return None
    parts = _parts(line)
    return " ".join(parts[:-1]), parts[-1]


#: the largest map file ``load()`` reads (far more than any map holds)
MAX_LOAD_BYTES = 64 << 20


def read_map_file(path: str) -> list[str]:
    """The lines of a regular file of at most ``MAX_LOAD_BYTES``; devices,
    FIFOs and sockets are refused (opened without blocking, never read)."""
    import os
    import stat
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise RuntimeFailure(f"load(): cannot read {path}: {err.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RuntimeFailure(f"load(): {path} is not a regular file",
                                 hint="load() reads map files; copy the data into one first")
        if st.st_size > MAX_LOAD_BYTES:
            raise RuntimeFailure(f"load(): {path} is larger than {MAX_LOAD_BYTES >> 20} MiB "
                                 f"({st.st_size} bytes)",
                                 hint="split it into smaller files, one load() each")
        chunks, total = [], 0
        while total <= MAX_LOAD_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_LOAD_BYTES:
            raise RuntimeFailure(f"load(): {path} grew past {MAX_LOAD_BYTES >> 20} MiB "
                                 "while being read")
    except OSError as err:
        raise RuntimeFailure(f"load(): cannot read {path}: {err.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape").splitlines()


def load_file(session, name: str, path: str) -> int:
    """Add every entry of a map file to ``name``; returns how many.
    Raises RuntimeFailure naming the file and line of a bad entry."""
    lines = read_map_file(path)
    try:
        spec = _spec(session, name)
    except EntryError as err:
        raise RuntimeFailure(f"load(): {err}") from None
    entries = []
    for n, line in enumerate(lines, 1):
        try:
            got = parse_line(line)
            if got is not None:
                entries.append(encode_entry(spec, *got))
        except EntryError as err:
            raise RuntimeFailure(f"{path}:{n}: {err}",
                                 hint=f"a line of {path} is {_example(spec)}") from None
    m = session.maps[name]
    for key, value in entries:
        m.update(key, value)
    return len(entries)


def _example(spec) -> str:
    t = spec.key
    if isinstance(t, LpmKey):
        return "'" + "N " * t.exact + "ADDRESS[/PREFIX] VALUE'"
    return f"'{' '.join(['KEY'] * max(_count(t), 1))} VALUE'"
