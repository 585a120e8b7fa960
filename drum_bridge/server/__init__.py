"""The server process: uvicorn, its worker processes, signals, the logging configuration."""

from __future__ import annotations

from .process import serve

__all__ = ["serve"]
