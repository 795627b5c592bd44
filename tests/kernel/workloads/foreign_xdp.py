"""Attach an XDP program that is not pytrace's ("foreign_xdp", passes every
packet) to an interface through netlink, in generic mode, and exit: it stays.

    foreign_xdp.py IFACE
"""
from __future__ import annotations

import socket
import sys

from pyroute2 import IPRoute

from pytrace.kernel import bpf
from pytrace.bpf.insn import Reg, encode, exit_, mov_imm

XDP_PASS, XDP_FLAGS_SKB_MODE = 2, 1 << 1

fd = bpf.prog_load(bpf.ProgType.XDP, encode([mov_imm(Reg.R0, XDP_PASS), exit_()]),
                   name="foreign_xdp")
with IPRoute() as ipr:
    ipr.link("set", index=socket.if_nametoindex(sys.argv[1]),
             xdp={"attrs": [("IFLA_XDP_FD", fd), ("IFLA_XDP_FLAGS", XDP_FLAGS_SKB_MODE)]})
print(bpf.prog_info(fd).id)
