"""Options shared by the test suites.

``--update-golden`` rewrites the golden listings of tests/codegen from what
the compiler produces now (review the diff before committing it).

``--vm`` runs the tests marked ``vm`` (tests/vm: the kernel-function tests
inside QEMU guests of other kernels; minutes each); ``--vm=LEG,LEG`` only
those legs (x86_64-6.1, x86_64-6.12, arm64-6.1, arm64-6.12). Without it
they are skipped, so a plain ``pytest`` stays fast.
"""
import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/codegen/golden/*.txt from the current compiler")
    parser.addoption("--vm", action="store", nargs="?", const="all", default=None,
                     metavar="LEGS",
                     help="run the QEMU kernel matrix (tests/vm); optionally only the "
                          "comma-separated legs, e.g. --vm=x86_64-6.1")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--vm") is not None:
        return
    skip = pytest.mark.skip(reason="the QEMU kernel matrix runs with --vm")
    for item in items:
        if item.get_closest_marker("vm"):
            item.add_marker(skip)
