"""custom_fastapi.py: import it and hand the app to its ``init_app``."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from .importing import call_init_app, import_extension

__all__ = ["load_fastapi_extension"]

logger = logging.getLogger("drum_bridge.extensions")


def load_fastapi_extension(app: FastAPI, path: Path) -> None:
    """Run ``init_app(app)``: what it adds (routes, middleware, handlers) lives in ``app``."""
    logger.info("Detected %s .. trying to load FastAPI extensions", path.name)
    module = import_extension(path, "drum_bridge_custom_fastapi")
    call_init_app(module, path, app)
    logger.info("Successfully loaded FastAPI extensions")
