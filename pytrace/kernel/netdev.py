"""Putting packet programs on network interfaces and taking them off.

Two ways, best first:

* BPF links: XDP (Linux 5.9) and tcx (6.6). The link belongs to pytrace's
  fd; the kernel detaches the program when the fd closes, also when
  pytrace is killed with SIGKILL, so a dropping program can never outlive
  the run that owns it.
* netlink (pyroute2, imported here and only here): XDP through IFLA_XDP,
  tc through a ``clsact`` qdisc and a direct-action ``bpf`` filter. Such
  attachments outlive a killed process, so they carry our mark and the next
  run's ``sweep()`` removes what a dead pytrace left: XDP programs named
  like ours (``pt<N>_...``) that no process holds, tc filters named
  ``pytrace:<pid>`` whose pid is gone, and the clsact qdisc such a run had
  created (a filter named ``pytrace:<pid>:q``) once it is empty (see
  ``netsweep``).
"""
from __future__ import annotations

import errno
import os
import re
from enum import Enum, IntFlag

from ..base.diagnostics import RuntimeFailure
from ..base.record import record
from . import bpf
from .attach import Attachment, attach_link
from .bpf import BpfError
from .bpf_consts import AttachType


class XdpFlag(IntFlag):
    """``XDP_FLAGS_*`` (include/uapi/linux/if_link.h)."""
    UPDATE_IF_NOEXIST = 1 << 0
    SKB_MODE = 1 << 1           # generic XDP, any device
    DRV_MODE = 1 << 2           # the driver's native XDP
    HW_MODE = 1 << 3
    REPLACE = 1 << 4


class XdpMode(Enum):
    """How ``xdp:IFACE[:MODE]`` attaches: the kernel's choice (driver mode
    when the driver has it, generic otherwise), or forced."""
    AUTO = ""
    GENERIC = "generic"
    DRIVER = "driver"

    @property
    def flags(self) -> int:
        return {XdpMode.AUTO: 0, XdpMode.GENERIC: XdpFlag.SKB_MODE,
                XdpMode.DRIVER: XdpFlag.DRV_MODE}[self]


class TcDirection(Enum):
    INGRESS = "ingress"
    EGRESS = "egress"

    @property
    def parent(self) -> int:
        """TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS)."""
        return 0xFFFFFFF2 if self is TcDirection.INGRESS else 0xFFFFFFF3

    @property
    def attach_type(self) -> AttachType:
        return AttachType.TCX_INGRESS if self is TcDirection.INGRESS else AttachType.TCX_EGRESS


#: IFLA_XDP_ATTACHED values -> the flags that address that program
_XDP_ATTACHED_FLAGS = {"xdp": XdpFlag.DRV_MODE, "xdpgeneric": XdpFlag.SKB_MODE,
                       "xdpoffload": XdpFlag.HW_MODE}
_XDP_MODE_IDS = (("IFLA_XDP_DRV_PROG_ID", XdpFlag.DRV_MODE),
                 ("IFLA_XDP_SKB_PROG_ID", XdpFlag.SKB_MODE),
                 ("IFLA_XDP_HW_PROG_ID", XdpFlag.HW_MODE))
CLSACT_HANDLE = 0xFFFF0000
FILTER_PREFIX = "pytrace:"
#: the names the compiler gives programs (pt<N>_<what>)
OUR_PROGRAM = re.compile(r"^pt\d+_")


# -- netlink ---------------------------------------------------------------------

def netlink():
    """An rtnetlink socket in pytrace's network namespace (pyroute2.IPRoute)."""
    try:
        from pyroute2 import IPRoute
    except ImportError as err:
        why = "is not installed" if err.name == "pyroute2" else f"cannot be imported: {err}"
        raise RuntimeFailure(
            f"attaching xdp/tc probes without BPF links needs pyroute2, which {why}",
            hint="install it (pip install 'pytrace[net]'), or use a kernel with XDP links "
                 "(5.9) and tcx (6.6)") from None
    return IPRoute()


def _netlink_error(err: Exception) -> int:
    return getattr(err, "code", None) or getattr(err, "errno", None) or 0


def netlink_failure(what: str, err: Exception, hint: str | None = None) -> RuntimeFailure:
    """A netlink request that failed, as a user sees it."""
    code = _netlink_error(err)
    return RuntimeFailure(f"{what}: {os.strerror(code) if code else err}", hint=hint)


@record(frozen=True)
class XdpProgram:
    """An XDP program attached to an interface."""
    prog_id: int
    #: the flags that address it (its mode) for detaching
    flags: int
    name: str = ""


def xdp_programs(ipr, ifindex: int) -> list[XdpProgram]:
    """The XDP programs on an interface (native and generic may coexist)."""
    links = ipr.get_links(ifindex)
    if not links:
        return []
    xdp = links[0].get_attr("IFLA_XDP")
    return _xdp_of(xdp)


def _xdp_of(xdp) -> list[XdpProgram]:
    if xdp is None:
        return []
    out = []
    for attr, flags in _XDP_MODE_IDS:
        pid = xdp.get_attr(attr)
        if pid:
            out.append(XdpProgram(pid, flags, prog_name(pid)))
    if not out:
        pid = xdp.get_attr("IFLA_XDP_PROG_ID")
        mode = xdp.get_attr("IFLA_XDP_ATTACHED")
        if pid and mode in _XDP_ATTACHED_FLAGS:
            out.append(XdpProgram(pid, _XDP_ATTACHED_FLAGS[mode], prog_name(pid)))
    return out


def _set_xdp(ipr, ifindex: int, fd: int, flags: int) -> None:
    ipr.link("set", index=ifindex,
             xdp={"attrs": [("IFLA_XDP_FD", fd), ("IFLA_XDP_FLAGS", int(flags))]})


def prog_name(prog_id: int) -> str:
    """A loaded program's name ("" when it is gone)."""
    try:
        fd = bpf.prog_get_fd_by_id(prog_id)
    except BpfError:
        return ""
    try:
        return bpf.prog_info(fd).name_str
    finally:
        os.close(fd)


# -- attachments -------------------------------------------------------------------

class _NetlinkAttachment(Attachment):
    """An attachment held by netlink state, not by an fd of ours (so no
    ``link_fd``/``perf_fd``): disabling it removes it."""

    def __init__(self, what: str):
        super().__init__(what)
        self._removed = False

    @property
    def closed(self) -> bool:
        return self._removed

    def disable(self) -> None:
        self.close()

    def close(self) -> None:
        if not self._removed:
            self._removed = True
            try:
                self._remove()
            except RuntimeFailure:
                raise
            except Exception as err:          # pyroute2's NetlinkError and the like
                raise netlink_failure(f"cannot remove {self.what}", err) from None

    def _remove(self) -> None:
        raise NotImplementedError


class NetlinkXdp(_NetlinkAttachment):
    """Our program in an interface's XDP slot; closing takes it out (only if
    it is still ours)."""

    def __init__(self, what: str, ifindex: int, prog_id: int, flags: int):
        super().__init__(what)
        self.ifindex = ifindex
        self.prog_id = prog_id
        self.flags = flags

    def _remove(self) -> None:
        with netlink() as ipr:
            for p in xdp_programs(ipr, self.ifindex):
                if p.prog_id == self.prog_id:
                    _set_xdp(ipr, self.ifindex, -1, p.flags)


@record
class Clsact:
    """One run's use of an interface's clsact qdisc."""
    ifindex: int
    created: bool
    users: int = 0


class NetlinkTc(_NetlinkAttachment):
    """Our direct-action bpf filter on a clsact qdisc; closing removes it,
    and the qdisc too when this run created it and the last of our filters
    on it goes."""

    def __init__(self, what: str, ifindex: int, direction: TcDirection, name: str,
                 clsact: Clsact, release):
        super().__init__(what)
        self.ifindex = ifindex
        self.direction = direction
        self.name = name
        self.clsact = clsact
        self.release = release

    def _remove(self) -> None:
        with netlink() as ipr:
            _delete_filters(ipr, self.ifindex, self.direction, lambda name: name == self.name)
            self.clsact.users -= 1
            if self.clsact.users == 0:
                self.release(self.clsact)
                if self.clsact.created and not _has_filters(ipr, self.ifindex):
                    _delete_clsact(ipr, self.ifindex)


def _filters(ipr, ifindex: int, direction: TcDirection) -> list:
    """(name, prio, handle) of the bpf filters on one side of a clsact."""
    out = []
    for f in ipr.get_filters(ifindex, parent=direction.parent):
        opts = f.get_attr("TCA_OPTIONS")
        if not f["handle"] or opts is None:
            continue
        name = ""
        for key, value in opts.get("attrs", []):
            if key == "TCA_BPF_NAME":
                name = value
        out.append((name, f["info"] >> 16, f["handle"]))
    return out


def _delete_filters(ipr, ifindex: int, direction: TcDirection, wanted) -> list[str]:
    gone = []
    for name, prio, handle in _filters(ipr, ifindex, direction):
        if wanted(name):
            try:
                ipr.tc("del-filter", "bpf", ifindex, handle=handle, parent=direction.parent,
                       prio=prio)
                gone.append(name)
            except Exception as err:        # pyroute2's NetlinkError: gone meanwhile
                if _netlink_error(err) != errno.ENOENT:
                    raise
    return gone


def _has_filters(ipr, ifindex: int) -> bool:
    return any(_filters(ipr, ifindex, d) for d in TcDirection)


def _has_clsact(ipr, ifindex: int) -> bool:
    return any(q.get_attr("TCA_KIND") == "clsact" for q in ipr.get_qdiscs(ifindex))


def _delete_clsact(ipr, ifindex: int) -> None:
    try:
        ipr.tc("del", "clsact", ifindex)
    except Exception as err:
        if _netlink_error(err) not in (errno.ENOENT, errno.EINVAL):
            raise


# -- attaching ----------------------------------------------------------------------

def attach_xdp(prog_fd: int, ifindex: int, iface: str, mode: XdpMode, *, use_link: bool,
               force: bool, what: str):
    """Put an XDP program on an interface; returns an attachment to close.
    An interface that has a program already is refused unless ``force``,
    which removes that program first (only possible for one attached
    through netlink: a BPF link belongs to its process)."""
    if use_link:
        try:
            return attach_link(prog_fd, ifindex, AttachType.XDP, what, flags=mode.flags)
        except BpfError as err:
            if err.errno not in (errno.EBUSY, errno.EEXIST):
                raise _xdp_failure(err, iface, mode) from None
            if _ours(ifindex, []):
                raise _twice(iface) from None
            if not force:
                raise _occupied(iface, _foreign_description(ifindex)) from None
        _remove_foreign(ifindex, iface)
        try:
            return attach_link(prog_fd, ifindex, AttachType.XDP, what, flags=mode.flags)
        except BpfError as err:
            raise _xdp_failure(err, iface, mode) from None
    with netlink() as ipr:
        present = xdp_programs(ipr, ifindex)
        if present and _ours(ifindex, present):
            raise _twice(iface)
        if present and not force:
            raise _occupied(iface, _describe(present))
        if present:
            _remove_foreign(ifindex, iface)
        try:
            _set_xdp(ipr, ifindex, prog_fd, mode.flags | XdpFlag.UPDATE_IF_NOEXIST)
        except Exception as err:
            code = _netlink_error(err)
            if code in (errno.EBUSY, errno.EEXIST):
                raise _occupied(iface, _describe(xdp_programs(ipr, ifindex))) from None
            raise _xdp_failure(OSError(code, os.strerror(code) if code else str(err)),
                               iface, mode) from None
    prog_id = bpf.prog_info(prog_fd).id
    return NetlinkXdp(what, ifindex, prog_id, mode.flags or _mode_of(ifindex, prog_id))


def _mode_of(ifindex: int, prog_id: int) -> int:
    with netlink() as ipr:
        for p in xdp_programs(ipr, ifindex):
            if p.prog_id == prog_id:
                return p.flags
    return 0


def _foreign_description(ifindex: int) -> str:
    try:
        with netlink() as ipr:
            return _describe(xdp_programs(ipr, ifindex))
    except RuntimeFailure:
        return ""


def _describe(programs: list[XdpProgram]) -> str:
    return ", ".join(f"{p.name or 'unnamed'} (id {p.prog_id})" for p in programs)


def _ours(ifindex: int, present: list[XdpProgram]) -> bool:
    """Whether this process put the XDP program there: an XDP link of ours on
    ``ifindex`` (its fdinfo names the interface), or one of ``present`` is a
    program we hold."""
    ids = {p.prog_id for p in present}
    fd_dir = "/proc/self/fd"
    for fd in os.listdir(fd_dir):
        try:
            if not os.readlink(f"{fd_dir}/{fd}").startswith("anon_inode:bpf"):
                continue
            with open(f"/proc/self/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue
        info = {k.strip(): v.strip() for k, v in info.items()}
        if info.get("link_type") == "xdp" and info.get("ifindex") == str(ifindex):
            return True
        if info.get("prog_id", "").isdigit() and int(info["prog_id"]) in ids:
            return True
    return False


def _twice(iface: str) -> RuntimeFailure:
    return RuntimeFailure(f"{iface} already runs another xdp probe of this script, and an "
                          "interface runs one XDP program",
                          hint=f"do what both probes do in one xdp:{iface} probe")


def _occupied(iface: str, who: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"{iface} already has an XDP program{': ' + who if who else ''}; pytrace leaves it "
        "alone", hint="stop whatever attached it, or run with --force to replace it")


def _remove_foreign(ifindex: int, iface: str) -> None:
    with netlink() as ipr:
        for p in xdp_programs(ipr, ifindex):
            try:
                _set_xdp(ipr, ifindex, -1, p.flags)
            except Exception as err:
                raise RuntimeFailure(
                    f"--force: cannot remove the XDP program {p.name or ''} (id {p.prog_id}) "
                    f"from {iface}: {os.strerror(_netlink_error(err) or errno.EPERM)}",
                    hint="it is held by a BPF link of another process; stop that process"
                ) from None


def _xdp_failure(err: Exception, iface: str, mode: XdpMode) -> RuntimeFailure:
    code = getattr(err, "errno", None)
    if mode is XdpMode.DRIVER and code in (errno.EOPNOTSUPP, errno.EINVAL):
        return RuntimeFailure(f"{iface}'s driver has no native XDP",
                              hint=f"use xdp:{iface} (the best mode there is) or "
                                   f"xdp:{iface}:generic")
    why = getattr(err, "strerror", None) or str(err)
    return RuntimeFailure(f"cannot attach an XDP program to {iface}: {why}")


class ClsactUses:
    """The clsact qdiscs one run's tc filters sit on (netlink path): which it
    created, and how many of its filters each holds."""

    def __init__(self):
        self.by_ifindex: dict[int, Clsact] = {}

    def acquire(self, ipr, ifindex: int, iface: str) -> Clsact:
        c = self.by_ifindex.get(ifindex)
        if c is None:
            c = self.by_ifindex[ifindex] = Clsact(ifindex, ensure_clsact(ipr, ifindex, iface))
        return c

    def release(self, c: Clsact) -> None:
        if self.by_ifindex.get(c.ifindex) is c:
            del self.by_ifindex[c.ifindex]


def attach_tc(prog_fd: int, ifindex: int, iface: str, direction: TcDirection, *,
              use_link: bool, what: str, clsacts: ClsactUses):
    """Put a tc program on one side of an interface: a tcx link, or a
    direct-action filter named ``pytrace:<pid>`` on a clsact qdisc."""
    if use_link:
        return attach_link(prog_fd, ifindex, direction.attach_type, what)
    with netlink() as ipr:
        clsact = clsacts.acquire(ipr, ifindex, iface)
        name = f"{FILTER_PREFIX}{os.getpid()}" + (":q" if clsact.created else "")
        try:
            ipr.tc("add-filter", "bpf", ifindex, fd=prog_fd, name=name,
                   parent=direction.parent, classid=1, direct_action=True)
        except Exception as err:
            code = _netlink_error(err)
            if clsact.users == 0:               # leave the interface as it was
                clsacts.release(clsact)
                if clsact.created:
                    _delete_clsact(ipr, ifindex)
            raise RuntimeFailure(f"cannot add a tc filter to {what}: "
                                 f"{os.strerror(code) if code else err}") from None
        clsact.users += 1
        return NetlinkTc(what, ifindex, direction, name, clsact, clsacts.release)


def ensure_clsact(ipr, ifindex: int, iface: str) -> bool:
    """Add a clsact qdisc unless there is one; True when we added it."""
    if _has_clsact(ipr, ifindex):
        return False
    try:
        ipr.tc("add", "clsact", ifindex)
    except Exception as err:
        hint = None
        if _netlink_error(err) in (errno.ENOENT, errno.EOPNOTSUPP):
            hint = ("this kernel has no clsact qdisc (CONFIG_NET_SCH_INGRESS, module "
                    "sch_ingress); with tcx (Linux 6.6) none is needed")
        raise netlink_failure(f"cannot add a clsact qdisc to {iface}", err, hint) from None
    return True
