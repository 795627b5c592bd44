"""Running a guest script's checks (copied into the guest beside
guest_arch.py and guest_user_probes.py; standard library only).

Each check is a function ``check_<name>()`` that raises when it fails;
every check is run whatever the others did, and reported on one line:

    CHECK <name> ok [(<seconds> s)]
    CHECK <name> FAIL <repr of what went wrong>
"""
from __future__ import annotations

import time


def checks_of(namespace: dict) -> list:
    """(name, function) of every ``check_*`` function in a module's globals, by name."""
    return [(name[len("check_"):], fn) for name, fn in sorted(namespace.items())
            if name.startswith("check_")]


def run_checks(checks: list, selected=lambda name: True, timed: bool = False) -> int:
    """Run the ``selected`` checks, one report line each; 1 if any failed."""
    failed = 0
    for name, fn in checks:
        if not selected(name):
            continue
        t = time.monotonic()
        try:
            fn()
            took = f" ({time.monotonic() - t:.1f} s)" if timed else ""
            print(f"CHECK {name} ok{took}", flush=True)
        except Exception as err:     # report every check, whatever it raised
            failed += 1
            print(f"CHECK {name} FAIL {err!r}".replace("\n", "\\n"), flush=True)
    return 1 if failed else 0
