"""The REPL's engine (pytrace.runtime.live.LiveSession) running the firewall
example and changing its rules the way ``.set`` / ``.delete`` do; between
changes, 10 UDP datagrams from 127.0.0.1 to port 9999 and a count of what
arrived. Prints the counts as JSON, then the maps as the CLI prints them.
Run inside a test's network namespace:

    net_live_repl.py examples/firewall.pt RULES [--netlink]
"""
from __future__ import annotations

import io
import json
import socket
import sys
import time

from pytrace.cli import masked_features
from pytrace.runtime.live import LiveSession
from pytrace.runtime.session import Options

path, rules = sys.argv[1], sys.argv[2]
with open(path) as f:
    text = f.read()
out, err = io.StringIO(), io.StringIO()
masked = masked_features(["link"] if "--netlink" in sys.argv else [])
session = LiveSession.printing(Options("", "-", [rules], quiet=True, masked=masked), "text",
                               out, err)
counts = {}
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 9999))


def received_of_ten() -> int:
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(10):
        c.sendto(b"x", ("127.0.0.1", 9999))
    time.sleep(0.2)
    session.poll()
    n = 0
    while True:
        try:
            sink.recv(10, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return n
        n += 1


try:
    session.start()
    probes = session.add(text, path)
    counts["mechanism"] = [lp.mechanism for lp in probes]
    counts["rules_file"] = received_of_ten()
    session.write_entry('@rules[lpm(9999, "127.0.0.0/8")] = 2')       # .set
    counts["after_set_pass"] = received_of_ten()
    counts["deleted"] = session.delete_entry('@rules[lpm(9999, "127.0.0.0/8")]')   # .delete
    session.write_entry('@rules[lpm(0, "127.0.0.1/32")] = 1')
    counts["after_block_host"] = received_of_ten()
    counts["exit"] = session.finish()
finally:
    session.close()
print(json.dumps(counts, sort_keys=True))
print(out.getvalue(), end="")
print(err.getvalue(), end="", file=sys.stderr)
