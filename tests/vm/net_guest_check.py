"""xdp/tc probes under another kernel, inside a throw-away QEMU guest
(../shared/vm/vmrun.sh): the XDP link path and the netlink path on lo,
exact counts and drops, nothing left after exit, a program the verifier of
that kernel accepts, and a clear message where tc cannot work. Exits 1 on
the first failure. Run from the repository root (pyroute2 needs libsqlite3
in the guest; lark and pyroute2 come from the host in .vmdeps):

    mkdir -p .vmdeps && cp -r $(python3 -c 'import lark, pyroute2, os;
        print(os.path.dirname(lark.__path__[0]))')/{lark,pyroute2} .vmdeps/
    ../shared/vm/vmrun.sh [--arch arm64] --share "$PWD" --pkgs libsqlite3-0 -- \\
        env PYTHONPATH=/host/.vmdeps:/host python3 tests/vm/net_guest_check.py

Seen passing on Debian bookworm 6.1, x86_64 and arm64 (XDP links yes, tcx
no; the guest kernel has no clsact qdisc, so tc probes fail there with a
message saying so).
"""
import os
import signal
import socket
import subprocess
import sys
import time

ENV = dict(os.environ)


def pytrace(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pytrace", *args], capture_output=True,
                          text=True, env=ENV, timeout=300, **kw)


def check(ok: bool, what: str) -> None:
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        sys.exit(1)


def drain(s: socket.socket) -> int:
    n = 0
    while True:
        try:
            s.recv(10, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return n
        n += 1


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"])
    info = pytrace("--info").stdout
    print(info)
    from pyroute2 import IPRoute
    for extra in ([], ["--no-feature", "link"]):
        p = subprocess.Popen([sys.executable, "-m", "pytrace", *extra, "-e",
                              "xdp:lo /udp.dport == 9999/ { @[udp.dport] = count(); drop; }"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        check(p.stderr.readline().startswith("Attached"), f"attached {extra}")
        sinks = {}
        for port in (9999, 9998):
            sinks[port] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sinks[port].bind(("127.0.0.1", port))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for port in (9999, 9998):
            for _ in range(100):
                s.sendto(b"x", ("127.0.0.1", port))
        time.sleep(0.5)
        got = {port: drain(sink) for port, sink in sinks.items()}
        for sink in sinks.values():
            sink.close()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        check(got == {9999: 0, 9998: 100}, f"drops exactly port 9999 {extra}: {got}")
        check(out == "\n\n@[9999]: 100\n", f"counts 100 {extra}: {out!r} {err!r}")
        with IPRoute() as ipr:
            xdp = ipr.get_links(socket.if_nametoindex("lo"))[0].get_attr("IFLA_XDP")
            check(not xdp.get_attr("IFLA_XDP_PROG_ID"), f"no XDP program left {extra}")
    r = pytrace("--dry-run", "-e", "xdp:lo { @[eth.proto, macaddr(eth.src), ip6.saddr, "
                "icmp.type, tcp.flags, tcp.seq, udp.len, pkt.len, ntop(ip.saddr)] = count(); "
                "@k[lpm(tcp.dport, ip.saddr)] = 1; if (tcp) { drop; } }")
    check(r.returncode == 0, f"the verifier accepts the header views: {r.stderr}")
    r = pytrace("-e", "tc:lo:egress { @[ip.proto] = count(); }", "-c", "true")
    check(r.returncode in (0, 1) and "Traceback" not in r.stderr,
          f"tc: works or says why: {r.stderr.strip()}")


if __name__ == "__main__":
    main()
