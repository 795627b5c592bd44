import os

import pytest


def _check_golden(path: str, text: str, update: bool) -> None:
    """Compare ``text`` with the golden file at ``path``, or rewrite it under
    --update-golden."""
    if update:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return
    if not os.path.exists(path):
        pytest.fail(f"no golden listing {path}: run pytest tests/codegen --update-golden")
    with open(path) as f:
        assert text == f.read()


@pytest.fixture
def update_golden(request) -> bool:
    """Whether to rewrite golden files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def golden(update_golden):
    """golden(path, text): assert text equals the golden file (or rewrite it)."""
    return lambda path, text: _check_golden(path, text, update_golden)
