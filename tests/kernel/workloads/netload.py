"""Deterministic traffic for the network probe tests, run inside a test's
network namespace (``ip netns exec NS python3 netload.py ...``).

    udp ADDR PORT:N[,PORT:N...] [--from-port P]   send N one-byte datagrams to each port
    tcp ADDR PORT N                                N connections, each sends 5 bytes
    sink ADDR UDPPORT[,..] [--tcp PORT]            count what arrives; prints one JSON
                                                   line when stdin closes (and "ready"
                                                   on stderr once listening)
    ping ADDR N                                    N ICMP echo requests (raw socket)
    frames IFACE DSTMAC TAGS DPORT N               N Ethernet frames with IPv4/UDP to DPORT
                                                   out of IFACE, VLAN tags TAGS in-band
                                                   ("-", "8100:10", "88a8:20,8100:10")
    snmp                                           Udp OutDatagrams and Tcp OutSegs of
                                                   this namespace, as JSON

Addresses may be IPv4 or IPv6. Sends wait for nothing: the sink counts.
"""
from __future__ import annotations

import json
import select
import socket
import struct
import sys
import threading


def family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def send_udp(addr: str, spec: str, from_port: int = 0) -> None:
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    if from_port:
        s.bind(("::" if family(addr) == socket.AF_INET6 else "0.0.0.0", from_port))
    for part in spec.split(","):
        port, n = part.split(":")
        for _ in range(int(n)):
            s.sendto(b"x", (addr, int(port)))
    s.close()


def send_tcp(addr: str, port: int, n: int) -> None:
    for _ in range(n):
        c = socket.create_connection((addr, port), timeout=5)
        c.sendall(b"hello")
        c.shutdown(socket.SHUT_WR)
        while c.recv(100):
            pass
        c.close()


def sink(addr: str, udp_ports: str, tcp_port: int | None) -> None:
    counts: dict[str, int] = {}
    socks = {}
    for port in filter(None, udp_ports.split(",")):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.bind((addr, int(port)))
        socks[s.fileno()] = (s, port)
        counts[port] = 0
    if tcp_port:
        srv = socket.socket(family(addr), socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, tcp_port))
        srv.listen(64)
        counts["tcp"] = 0

        def serve():
            while True:
                c, _ = srv.accept()
                while c.recv(100):
                    pass
                counts["tcp"] += 1          # before the close the client waits for
                c.close()
        threading.Thread(target=serve, daemon=True).start()
    print("ready", file=sys.stderr, flush=True)
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    poller.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP)
    done = False
    while not done:
        for fd, _ in poller.poll():
            if fd == sys.stdin.fileno():
                done = True
                continue
            s, port = socks[fd]
            while True:
                try:
                    s.recv(100, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                counts[port] += 1
    # what arrived before stdin closed and is still queued
    for s, port in socks.values():
        while True:
            try:
                s.recv(100, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            counts[port] += 1
    print(json.dumps(counts), flush=True)


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(addr: str, n: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    for seq in range(n):
        body = struct.pack("!BBHHH", 8, 0, 0, 7, seq) + b"pytrace!"
        pkt = struct.pack("!BBHHH", 8, 0, _checksum(body), 7, seq) + b"pytrace!"
        s.sendto(pkt, (addr, 0))


def frames(iface: str, dst_mac: str, tags: str, dport: int, n: int) -> None:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4][:6]
    head = bytes.fromhex(dst_mac.replace(":", "")) + src_mac
    for tag in filter(None, tags.replace("-", "").split(",")):
        tpid, vid = tag.split(":")
        head += struct.pack("!HH", int(tpid, 16), int(vid))
    udp = struct.pack("!HHHH", 40000, dport, 9, 0) + b"x"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton("10.203.0.1"), socket.inet_aton("10.203.0.2"))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    frame = head + struct.pack("!H", 0x0800) + ip + udp
    for _ in range(n):
        s.send(frame)


def snmp() -> None:
    out = {}
    with open("/proc/net/snmp") as f:
        lines = f.read().splitlines()
    for head, values in zip(lines[::2], lines[1::2]):
        proto, names = head.split(":", 1)
        _, nums = values.split(":", 1)
        table = dict(zip(names.split(), map(int, nums.split())))
        if proto == "Udp":
            out["udp_out"] = table["OutDatagrams"]
        if proto == "Tcp":
            out["tcp_out"] = table["OutSegs"]
    print(json.dumps(out), flush=True)


def main(argv: list[str]) -> None:
    cmd, args = argv[0], argv[1:]
    if cmd == "udp":
        from_port = int(args[args.index("--from-port") + 1]) if "--from-port" in args else 0
        send_udp(args[0], args[1], from_port)
    elif cmd == "tcp":
        send_tcp(args[0], int(args[1]), int(args[2]))
    elif cmd == "sink":
        tcp_port = int(args[args.index("--tcp") + 1]) if "--tcp" in args else None
        sink(args[0], args[1], tcp_port)
    elif cmd == "ping":
        ping(args[0], int(args[1]))
    elif cmd == "frames":
        frames(args[0], args[1], args[2], int(args[3]), int(args[4]))
    elif cmd == "snmp":
        snmp()
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
