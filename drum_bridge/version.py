"""drum-bridge's own version: one source, read by setup.cfg and by the code that reports it."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
