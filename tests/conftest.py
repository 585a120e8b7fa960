from __future__ import annotations

import pytest

# The comparison helpers in tests/support assert; show their operands on failure.
pytest.register_assert_rewrite("support")
