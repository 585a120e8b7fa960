"""Model-dir extensions: custom_fastapi.py and legacy custom_flask.py."""

from __future__ import annotations

from .loader import load_extensions

__all__ = ["load_extensions"]
