import pytest


@pytest.fixture
def update_golden(request) -> bool:
    """Whether to rewrite golden files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))
