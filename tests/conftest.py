"""Options shared by the test suites.

``--update-golden`` rewrites the golden listings of tests/codegen from what
the compiler produces now (review the diff before committing it).
"""


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/codegen/golden/*.txt from the current compiler")
