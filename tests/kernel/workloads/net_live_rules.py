"""Run the firewall example in this process and change its rules while it
runs, the way the REPL does (pytrace.runtime.mapedit on the session's maps); between
changes, send 10 UDP datagrams from 127.0.0.1 to port 9999 and count what
arrives. Prints one JSON object. Run inside a test's network namespace:

    net_live_rules.py examples/firewall.pt RULES
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

from pytrace.runtime import mapedit
from pytrace.api import CollectingPrinter, Result
from pytrace.runtime.session import Options, Session

path, rules = sys.argv[1], sys.argv[2]
with open(path) as f:
    text = f.read()
result = Result()
printer = CollectingPrinter(result)
session = Session(Options(text, path, [rules], quiet=True), printer)
printer.resolvers.special = session.resolve
out: dict = {}


def received_of_ten(sink: socket.socket) -> int:
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(10):
        c.sendto(b"x", ("127.0.0.1", 9999))
    c.close()
    time.sleep(0.2)
    n = 0
    while True:
        try:
            sink.recv(10, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return n
        n += 1


def drive() -> None:
    try:
        deadline = time.monotonic() + 20
        while not session.attachments.live and time.monotonic() < deadline:
            time.sleep(0.01)                      # until the xdp probe is attached
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 9999))
        out["rules_file"] = received_of_ten(sink)
        out["deleted"] = mapedit.delete_entry(session, "@rules", "9999 127.0.0.0/8")
        out["after_delete"] = received_of_ten(sink)
        mapedit.set_entry(session, "@rules", "0, 127.0.0.1/32", "1")
        out["after_set"] = received_of_ten(sink)
    except Exception as err:                      # reported, and the run still ends
        out["error"] = repr(err)
    finally:
        os.kill(os.getpid(), signal.SIGINT)


threading.Thread(target=drive, daemon=True).start()
try:
    session.run()
finally:
    session.close()
out["dropped"] = {", ".join(map(str, k)): v for k, v in result.maps.get("@dropped", {}).items()}
out["rules"] = {", ".join(map(str, k)): v for k, v in result.maps.get("@rules", {}).items()}
print(json.dumps(out, sort_keys=True))
