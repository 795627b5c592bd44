"""Run in a subprocess by test_nasty_inputs.py: compiles each case through
the library (no kernel: the fake machine of tests/netfakes.py) under a
1 GiB address-space limit and prints, as JSON, what each case gave: the
rendered error, "ok", or "TRACEBACK: …"."""
from __future__ import annotations

import io
import json
import resource
import sys
import traceback

GIB = 1 << 30


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))
    from pytrace.base.diagnostics import PytraceError
    from pytrace.render.output import make_printer
    from pytrace.runtime.compiling import compile_script
    from pytrace.runtime.options import Options
    from tests.netfakes import net_kernel
    kernel = net_kernel()
    cases = json.load(sys.stdin)
    results = {}
    for name, case in cases.items():
        err = io.StringIO()
        printer = make_printer("text", io.StringIO(), err)
        options = Options(case["text"], "-e", dump=frozenset(case.get("dump", ())),
                          unsafe=case.get("unsafe", False))
        try:
            compile_script(options, kernel, {}, printer, dump_out=io.StringIO())
            results[name] = "ok" + (": " + err.getvalue() if err.getvalue() else "")
        except PytraceError as exc:
            results[name] = exc.render()
        except BaseException:               # what the test exists to catch
            results[name] = "TRACEBACK: " + traceback.format_exc()[-2000:]
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
