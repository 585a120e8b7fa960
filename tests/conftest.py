from __future__ import annotations

from pathlib import Path

import pytest

# The comparison helpers in tests/support assert; show their operands on failure.
pytest.register_assert_rewrite("support")


@pytest.fixture
def anyio_backend() -> str:
    """``@pytest.mark.anyio`` tests run on asyncio only: the server is uvicorn on asyncio."""
    return "asyncio"


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """An empty model code dir."""
    code_dir = tmp_path / "model"
    code_dir.mkdir()
    return code_dir
