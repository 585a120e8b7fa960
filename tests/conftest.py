from __future__ import annotations

import pytest

# The comparison helpers in tests/support assert; show their operands on failure.
pytest.register_assert_rewrite("support")


@pytest.fixture
def anyio_backend() -> str:
    """``@pytest.mark.anyio`` tests run on asyncio only: the server is uvicorn on asyncio."""
    return "asyncio"
