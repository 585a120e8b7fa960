"""Model-dir extensions: ``custom_fastapi.py`` and legacy ``custom_flask.py`` (``flask/``)."""

from __future__ import annotations

from .load import LoadedExtensions, load_extensions

__all__ = ["LoadedExtensions", "load_extensions"]
