"""Loading the selected extensions; what they add around the app comes back to ``create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import Config, ExtensionStyle
from .discovery import find_extensions, select_extensions
from .fastapi_extension import load_fastapi_extension
from .loaded import LoadedExtensions

__all__ = ["LoadedExtensions", "load_extensions"]


def load_extensions(app: FastAPI, config: Config) -> LoadedExtensions:
    loaded = LoadedExtensions()
    for style, path in select_extensions(find_extensions(config.code_dir), config):
        if style is ExtensionStyle.FASTAPI:
            load_fastapi_extension(app, path)
        else:
            # Imported here: a FastAPI-only model dir never pays for Flask and a2wsgi.
            from .flask.loader import load_flask_extension

            loaded = load_flask_extension(config, path, router=app.router)
    return loaded
