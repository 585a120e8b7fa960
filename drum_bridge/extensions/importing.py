"""Importing an extension file and calling its ``init_app``: shared by both extension styles."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from ..code_dir import import_file_as_module
from ..errors import ExtensionError

__all__ = ["call_init_app", "import_extension"]


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
