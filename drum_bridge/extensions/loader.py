"""Loading the selected extensions into an app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Config, ExtensionStyle
from .discovery import find_extensions, select_extensions
from .fastapi_loader import load_fastapi_extension

if TYPE_CHECKING:
    from ..app import DrumApp

__all__ = ["load_extensions"]


def load_extensions(app: DrumApp, config: Config) -> None:
    for style, path in select_extensions(find_extensions(config.code_dir), config):
        if style is ExtensionStyle.FASTAPI:
            load_fastapi_extension(app, path)
        else:
            # Imported here: a FastAPI-only model dir never pays for Flask and a2wsgi.
            from .flask_loader import load_flask_extension

            load_flask_extension(app, config, path)
