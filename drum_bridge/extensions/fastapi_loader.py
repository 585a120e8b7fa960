"""custom_fastapi.py: import it and hand the app to its ``init_app``."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi import FastAPI

from ..code_dir import import_file_as_module
from ..errors import ExtensionError

__all__ = ["import_extension", "load_fastapi_extension"]

logger = logging.getLogger("drum_bridge.extensions")


def import_extension(path: Path, prefix: str) -> ModuleType:
    """Import an extension file; tell a crash inside it from a missing file."""
    if not path.is_file():
        raise ExtensionError(f"Extension file {path} does not exist")
    try:
        return import_file_as_module(path, prefix)
    except ImportError as exc:
        raise ExtensionError(
            f"{path} raised {type(exc).__name__} while importing: {exc}"
            " (a package it imports is missing or broken)"
        ) from exc
    except Exception as exc:
        raise ExtensionError(f"{path} failed while importing: {exc!r}") from exc


def call_init_app(module: ModuleType, path: Path, app: Any) -> None:
    init_app = getattr(module, "init_app", None)
    if not callable(init_app):
        raise ExtensionError(f"{path} must define a function init_app(app); it has none")
    try:
        init_app(app)
    except Exception as exc:
        raise ExtensionError(f"init_app() of {path} failed: {exc!r}") from exc


def load_fastapi_extension(app: FastAPI, path: Path) -> None:
    logger.info("Detected %s .. trying to load FastAPI extensions", path.name)
    module = import_extension(path, "drum_bridge_custom_fastapi")
    call_init_app(module, path, app)
    logger.info("Successfully loaded FastAPI extensions")
