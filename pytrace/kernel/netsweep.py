"""Removing what a killed pytrace left attached through netlink.

BPF links die with their process; netlink attachments do not. The next run
that uses xdp or tc probes looks for them, cheaply: only when a program
named like ours (``pt<N>_...``) of that type is loaded and no process holds
it (``orphans``) does it open netlink and remove XDP programs among those,
tc filters named ``pytrace:<pid>`` whose pid is gone, and the clsact qdisc
such a run had created (its filter was named ``pytrace:<pid>:q``) once empty.
"""
from __future__ import annotations

import os

from ..base.diagnostics import RuntimeFailure
from . import bpf
from .netdev import (FILTER_PREFIX, OUR_PROGRAM, TcDirection, _delete_clsact, _delete_filters,
                     _has_filters, _set_xdp, _xdp_of, netlink)
from .bpf import BpfError


def held_prog_ids(skip_pid: int | None = None) -> set[int]:
    """Ids of programs some process holds open (a program or link fd shows
    ``prog_id:`` in /proc/PID/fdinfo)."""
    held: set[int] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if skip_pid is not None and int(pid) == skip_pid:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if not os.readlink(f"{fd_dir}/{fd}").startswith("anon_inode:bpf"):
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    text = f.read()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("prog_id:"):
                    held.add(int(line.split()[1]))
    return held


def _pid_is_pytrace(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"pytrace" in f.read()
    except OSError:
        return False


def orphans(prog_type: int) -> set[int]:
    """Ids of loaded programs of ``prog_type`` named like ours that no process
    holds: what only a netlink attachment can keep alive. Cheap when there
    are none (no netlink, no /proc scan), so every run can look."""
    ours = set()
    prog_id = bpf.prog_get_next_id(0)
    while prog_id is not None:
        try:
            fd = bpf.prog_get_fd_by_id(prog_id)
        except BpfError:
            fd = -1
        if fd >= 0:
            try:
                info = bpf.prog_info(fd)
                if info.type == prog_type and OUR_PROGRAM.match(info.name_str):
                    ours.add(prog_id)
            finally:
                os.close(fd)
        prog_id = bpf.prog_get_next_id(prog_id)
    if not ours:
        return ours
    return ours - held_prog_ids(skip_pid=os.getpid())


def sweep(xdp: bool, tc: bool) -> list[str]:
    """Remove netlink attachments a killed pytrace left in this network
    namespace; returns one line per removal. Links cannot outlive their
    process, so without orphaned programs there is nothing to do."""
    from .bpf_consts import ProgType
    xdp_orphans = orphans(ProgType.XDP) if xdp else set()
    tc_orphans = orphans(ProgType.SCHED_CLS) if tc else set()
    if not xdp_orphans and not tc_orphans:
        return []
    try:
        ipr = netlink()
    except RuntimeFailure:
        return []
    done: list[str] = []
    with ipr:
        try:
            if xdp_orphans:
                done += _sweep_xdp(ipr, xdp_orphans)
            if tc_orphans:
                done += _sweep_tc(ipr)
        except Exception as err:              # a note; the run goes on
            code = getattr(err, "code", None) or getattr(err, "errno", None)
            done.append(f"could not remove what a killed pytrace left: "
                        f"{os.strerror(code) if code else err}")
    return done


def _sweep_xdp(ipr, orphaned: set[int]) -> list[str]:
    out = []
    for link in ipr.get_links():
        ifindex, iface = link["index"], link.get_attr("IFLA_IFNAME")
        for p in _xdp_of(link.get_attr("IFLA_XDP")):
            if p.prog_id not in orphaned:
                continue                    # a live run's (or someone else's) program
            _set_xdp(ipr, ifindex, -1, p.flags)
            out.append(f"removed the XDP program {p.name} (id {p.prog_id}) a killed pytrace "
                       f"left on {iface}")
    return out


def _dead_owner(name: str) -> bool:
    if not name.startswith(FILTER_PREFIX):
        return False
    pid = name[len(FILTER_PREFIX):].split(":", 1)[0]
    return pid.isdigit() and int(pid) != os.getpid() and not _pid_is_pytrace(int(pid))


def _sweep_tc(ipr) -> list[str]:
    out = []
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    with_clsact = sorted({q["index"] for q in ipr.get_qdiscs()
                          if q.get_attr("TCA_KIND") == "clsact"})
    for ifindex in with_clsact:
        created = False
        for direction in TcDirection:
            gone = _delete_filters(ipr, ifindex, direction, _dead_owner)
            created |= any(n.endswith(":q") for n in gone)
            for n in gone:
                out.append(f"removed the tc filter {n} a killed pytrace left on "
                           f"{names.get(ifindex, ifindex)} {direction.value}")
        if created and not _has_filters(ipr, ifindex):
            _delete_clsact(ipr, ifindex)
    return out
