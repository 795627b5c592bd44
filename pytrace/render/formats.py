"""How values of ``Special`` type print: one formatter per ``Formatted`` kind.

A builtin whose value prints specially returns ``Special(Formatted.X)``
(lang/builtins); this table says what X looks like in text (a map line,
``print()``, printf's ``%s``) and in JSON. The text and JSON printers look
the kind up here and nowhere else, so a new kind is one ``Formatted``
member plus one entry below (``tests/unit/test_output.py`` checks that
every kind has one).
"""
from __future__ import annotations

from functools import cache

from ..base.record import record
from ..lang.types import Formatted, Special

TYPE_CHECKING = False
if TYPE_CHECKING:           # annotations only: typing costs ~2 ms to import
    from collections.abc import Callable

    from .printer import Resolvers


@record(frozen=True)
class Formatter:
    """The printed form of one kind of value.

    text(type, value, resolvers) -> the text; json(type, value, resolvers) ->
    JSON text, or None to write the text as a JSON string (what bpftrace
    does for every kind so far).
    """
    text: Callable[[Special, int, Resolvers], str]
    json: Callable[[Special, int, Resolvers], str] | None = None


def _resolved(type: Special, value: int, res: Resolvers) -> str:
    """Text the session knows (symbols, probe names); without a session a
    ksym/usym prints in hex, as bpftrace prints an address it cannot
    symbolize, and a probe as its number."""
    if res.special is not None:
        return res.special(type.how, value)
    return f"0x{value:x}" if type.how in (Formatted.KSYM, Formatted.USYM) else str(value)


def _inet4(type: Special, value: int, res: Resolvers) -> str:
    from ..base.netaddr import inet4_text
    return inet4_text(value)


def _mac(type: Special, value: int, res: Resolvers) -> str:
    from ..base.netaddr import mac_text
    return mac_text(value)


def _timestamp(type: Special, value: int, res: Resolvers) -> str:
    return strftime_text(type.fmt, value + wall_clock_offset_ns())


def _username(type: Special, value: int, res: Resolvers) -> str:
    return user_name(value)


def _cgroup_path(type: Special, value: int, res: Resolvers) -> str:
    return cgroup_path_text(value)


FORMATTERS: dict[Formatted, Formatter] = {
    Formatted.KSYM: Formatter(_resolved),
    Formatted.USYM: Formatter(_resolved),
    Formatted.PROBE: Formatter(_resolved),
    Formatted.INET4: Formatter(_inet4),
    Formatted.MAC: Formatter(_mac),
    Formatted.TIMESTAMP: Formatter(_timestamp),
    Formatted.USERNAME: Formatter(_username),
    Formatted.CGROUP_PATH: Formatter(_cgroup_path),
}


def special_text(type: Special, value: int, res: Resolvers) -> str:
    return FORMATTERS[type.how].text(type, value, res)


def special_json(type: Special, value: int, res: Resolvers) -> str | None:
    """The JSON text of a value, or None when it is its text as a string."""
    json = FORMATTERS[type.how].json
    return json(type, value, res) if json is not None else None


# ------------------------------------------------------------ strftime()

@cache
def wall_clock_offset_ns() -> int:
    """CLOCK_REALTIME - CLOCK_BOOTTIME in nanoseconds, read once (at the
    first timestamp printed) and kept, as bpftrace reads it once at start:
    added to a boot-based time (``nsecs``) it gives the wall-clock time."""
    import time
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def strftime_text(fmt: str, wall_ns: int) -> str:
    """``wall_ns`` (nanoseconds since the epoch) in local time, formatted
    with C strftime conversions plus bpftrace's ``%f``: the microseconds,
    six digits (``%%f`` stays a literal ``%f``)."""
    import re
    import time
    secs, ns = divmod(wall_ns, 1_000_000_000)
    micros = f"{ns // 1000:06d}"
    fmt = "".join(micros if part == "%f" else part for part in re.split(r"(%%|%f)", fmt))
    return time.strftime(fmt, time.localtime(secs))


# ------------------------------------------------------------ username

@cache
def user_name(uid: int) -> str:
    """The user name of ``uid`` from the password database (/etc/passwd, as
    bpftrace reads it); a uid without a name prints as its number."""
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# ------------------------------------------------------------ buf()

class BufferValue(str):
    """A decoded buf(): its text is bpftrace's %r form (map lines, print(),
    printf %s, JSON); ``raw`` keeps the bytes for %rx and %rh."""
    raw: bytes

    @classmethod
    def of(cls, raw: bytes) -> "BufferValue":
        from ..lang.printf import hex_format
        value = cls(hex_format(raw))
        value.raw = raw
        return value


# ------------------------------------------------------------ cgroup_path()

#: cgroup v1 super options that are no controller (Documentation/admin-guide/cgroup-v1)
_CGROUP_V1_FLAGS = frozenset({"rw", "ro", "xattr", "noprefix", "clone_children",
                              "cpuset_v2_mode", "favordynmods", "nofavordynmods", "none"})


def cgroup_hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[tuple[str, str]]:
    """(name, mount point) of each mounted cgroup hierarchy, as bpftrace
    names them: cgroup2 is "unified", a v1 hierarchy is named by its
    controllers (or its name=); unified first, then by name."""
    found = {}
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        if tail[0] == "cgroup2":
            name = "unified"
        else:
            opts = [o for o in tail[2].split(",") if o not in _CGROUP_V1_FLAGS]
            name = ",".join(o.removeprefix("name=") for o in opts
                            if o.startswith("name=") or "=" not in o)
        found.setdefault(name, fields[4].replace("\\040", " "))
    return sorted(found.items(), key=lambda kv: (kv[0] != "unified", kv[0]))


@cache
def cgroup_path_text(cgroup_id: int) -> str:
    """The cgroup with inode ``cgroup_id`` in each hierarchy that has it,
    ``name:/path`` joined by commas (bpftrace's cgroup_path())."""
    import os
    parts = []
    for name, mount in cgroup_hierarchies():
        for top, dirs, _ in os.walk(mount):
            try:
                ino = os.stat(top).st_ino
            except OSError:
                continue
            if ino == cgroup_id:
                rel = os.path.relpath(top, mount)
                parts.append(f"{name}:{'/' if rel == '.' else '/' + rel}")
                break
    return ",".join(parts)
