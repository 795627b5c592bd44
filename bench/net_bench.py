"""Packets per second through a veth pair with pytrace's xdp programs, and
the per-packet cost of a counting program.

    sudo python3 bench/net_bench.py [--frames 2000000] [--runs 5] [--json]

Two private network namespaces joined by a veth pair (va <-> vb). The
traffic generator is the kernel's own: an XDP program returning XDP_TX run
with BPF_PROG_TEST_RUN in live-frames mode (Linux 5.18) on va, so every
frame (60-byte IPv4/UDP to port 9999) really leaves va and arrives on vb,
millions per second with no userspace in the loop. vb's NAPI handles the
frames on the same CPU, so a run's rate is 1 / (generator + receiver cost)
per packet, and the difference between two configurations is the
difference of their receive cost. Configurations:

* ``stack``: no program on vb (GRO on, so veth delivers XDP frames to its
  NAPI); every frame goes up the network stack (no socket on the port).
* ``drop``: ``xdp:vb { drop; }`` — two instructions, the floor.
* ``count``: ``xdp:vb { @ = count(); drop; }`` — one per-CPU map update.
* ``port``: ``xdp:vb /udp.dport == 9999/ { @[udp.dport] = count(); drop; }`` —
  header parsing, a predicate and a keyed count (the issue's example).

pytrace runs as users run it (``ip netns exec B python3 -m pytrace -e …``),
driver-mode XDP on vb. Besides the rates, each program's own run time per
packet is measured with BPF_PROG_TEST_RUN (``repeat``), and its size.
Rates vary with the machine's load: the median of ``--runs`` is shown.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS_A, NS_B = f"pt-bench-a-{os.getpid()}", f"pt-bench-b-{os.getpid()}"
MAC_A, MAC_B = "02:00:00:00:01:0a", "02:00:00:00:01:0b"
SCRIPTS = {
    "drop": "xdp:vb { drop; }",
    "count": "xdp:vb { @ = count(); drop; }",
    "port": "xdp:vb /udp.dport == 9999/ { @[udp.dport] = count(); drop; }",
}
XDP_TX = 3


def frame() -> bytes:
    import socket
    import struct
    udp = struct.pack("!HHHH", 40000, 9999, 9, 0) + b"x"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton("10.209.0.1"), socket.inet_aton("10.209.0.2"))
    eth = bytes.fromhex(MAC_B.replace(":", "")) + bytes.fromhex(MAC_A.replace(":", ""))
    return (eth + b"\x08\x00" + ip + udp).ljust(60, b"\0")


# -- the generator (runs inside namespace A) ---------------------------------------------

def generate(frames: int) -> float:
    """Send ``frames`` copies of frame() out of va; returns seconds taken."""
    import ctypes
    import socket
    import struct
    sys.path.insert(0, REPO)
    from pytrace.kernel import bpf
    from pytrace.bpf.insn import Reg, encode, exit_, mov_imm
    fd = bpf.prog_load(bpf.ProgType.XDP, encode([mov_imm(Reg.R0, XDP_TX), exit_()]),
                       name="bench_gen")
    data = frame()
    # struct xdp_md: data, data_end (= the frame's size), data_meta, ingress_ifindex, ...
    ctx = struct.pack("<6I", 0, len(data), 0, socket.if_nametoindex("va"), 0, 0)
    dbuf = ctypes.create_string_buffer(data, len(data))
    cbuf = ctypes.create_string_buffer(ctx, len(ctx))
    attr = bpf.TestRunAttr(prog_fd=fd, repeat=frames, data_in=ctypes.addressof(dbuf),
                           data_size_in=len(data), ctx_in=ctypes.addressof(cbuf),
                           ctx_size_in=len(ctx), flags=bpf.TestRunFlag.XDP_LIVE_FRAMES,
                           batch_size=64)
    t = time.perf_counter()
    bpf._bpf(bpf.BpfCmd.PROG_TEST_RUN, attr)
    return time.perf_counter() - t


# -- set-up ------------------------------------------------------------------------------

def sh(*argv, check: bool = True) -> str:
    p = subprocess.run(list(map(str, argv)), capture_output=True, text=True, timeout=120)
    if check and p.returncode:
        raise SystemExit(f"{' '.join(map(str, argv))}: {p.stderr.strip()}")
    return p.stdout


def in_ns(ns: str, *argv) -> list:
    return ["ip", "netns", "exec", ns, *map(str, argv)]


def setup() -> None:
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "add", ns)
        sh(*in_ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    sh("ip", "link", "add", "va", "netns", NS_A, "address", MAC_A, "type", "veth",
       "peer", "name", "vb", "netns", NS_B, "address", MAC_B)
    sh(*in_ns(NS_A, "ip", "addr", "add", "10.209.0.1/24", "dev", "va"))
    sh(*in_ns(NS_B, "ip", "addr", "add", "10.209.0.2/24", "dev", "vb"))
    for ns, dev in ((NS_A, "va"), (NS_B, "vb")):
        sh(*in_ns(ns, "ip", "link", "set", dev, "up"))


def teardown() -> None:
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)


def set_gro(on: bool) -> None:
    """ETHTOOL_SGRO on vb (no ethtool binary needed)."""
    code = ("import ctypes, fcntl, socket, struct\n"
            "v = ctypes.create_string_buffer(struct.pack('II', 0x2C, %d), 8)\n"
            "r = struct.pack('16sP', b'vb', ctypes.addressof(v)).ljust(40, b'\\0')\n"
            "fcntl.ioctl(socket.socket(), 0x8946, r)\n") % int(on)
    sh(*in_ns(NS_B, sys.executable, "-c", code))


def rx_packets() -> int:
    return int(sh(*in_ns(NS_B, "cat", "/sys/class/net/vb/statistics/rx_packets")))


def run_generator(frames: int) -> tuple[float, int]:
    """(seconds, frames vb received)."""
    before = rx_packets()
    out = sh(*in_ns(NS_A, sys.executable, os.path.abspath(__file__), "--generate", frames))
    return float(out), rx_packets() - before


def rates(frames: int, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        seconds, received = run_generator(frames)
        if received != frames:
            raise SystemExit(f"vb received {received} of {frames} frames")
        out.append(frames / seconds)
    return out


def start_pytrace(script: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=REPO)
    p = subprocess.Popen(in_ns(NS_B, sys.executable, "-m", "pytrace", "-e", script),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stderr.readline()
    if not line.startswith("Attached"):
        raise SystemExit(f"pytrace did not attach: {line}{p.stderr.read()}")
    return p


def program_cost(script: str, repeat: int = 1_000_000) -> tuple[float, int]:
    """(ns per packet from BPF_PROG_TEST_RUN, instructions) of a script's program."""
    sys.path.insert(0, REPO)
    from pytrace.kernel import bpf
    from pytrace.runtime.session import Options, Session
    script = script.replace("xdp:vb", "xdp:lo")       # compiled here, outside the namespaces
    s = Session(Options(script, "-e", quiet=True), printer=None)
    try:
        s.prepare()
        s.compile()
        s.load()
        (probe,) = s.script.probes
        runs = [bpf.prog_test_run(s.prog_fds[probe.index], data_in=frame(), repeat=repeat)
                for _ in range(5)]
        return statistics.median(r.duration_ns for r in runs), probe.nslots
    finally:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.generate:
        print(generate(a.generate))
        return 0
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces, XDP)")
    results: dict = {}
    setup()
    try:
        set_gro(True)
        results["stack"] = {"mpps": statistics.median(rates(a.frames, a.runs)) / 1e6}
        set_gro(False)
        for name, script in SCRIPTS.items():
            p = start_pytrace(script)
            try:
                r = rates(a.frames, a.runs)
            finally:
                p.terminate()
                p.communicate(timeout=30)
            ns, insns = program_cost(script)
            results[name] = {"mpps": statistics.median(r) / 1e6, "program_ns": ns,
                             "instructions": insns, "script": script}
    finally:
        teardown()
    floor = 1e3 / results["drop"]["mpps"]
    for name, r in results.items():
        r["ns_per_packet"] = 1e3 / r["mpps"]
        r["over_drop_ns"] = r["ns_per_packet"] - floor
    if a.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{a.frames} 60-byte UDP frames va -> vb, median of {a.runs} runs "
          f"(generator + receiver on one CPU)")
    print(f"{'':8} {'Mpps':>6} {'ns/pkt':>7} {'+ns vs drop':>12} {'prog ns':>8} {'insns':>6}")
    for name, r in results.items():
        print(f"{name:8} {r['mpps']:6.2f} {r['ns_per_packet']:7.1f} {r['over_drop_ns']:12.1f} "
              f"{r.get('program_ns', float('nan')):8.1f} {r.get('instructions', ''):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
