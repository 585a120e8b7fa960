"""drum-bridge: DataRobot's ``drum server`` on FastAPI and uvicorn.

Serves custom models with the DRUM HTTP contract and honours both extension
styles: ``custom_fastapi.py`` and legacy ``custom_flask.py``.  ``create_app``
builds the ASGI app, to serve alone or to mount in a host application.
"""

from __future__ import annotations

from .app import AppSettings, DrumApp, create_app
from .config import Batching, Config, ServerType, TargetType
from .errors import (
    ConfigError,
    CustomHTTPError,
    DrumBridgeError,
    DrumHTTPError,
    ExtensionError,
    ModelLoadError,
    PredictionError,
    UnprocessableEntityError,
)
from .version import __version__

__all__ = [
    "__version__",
    "AppSettings",
    "Batching",
    "Config",
    "ConfigError",
    "CustomHTTPError",
    "DrumApp",
    "DrumBridgeError",
    "DrumHTTPError",
    "ExtensionError",
    "ModelLoadError",
    "PredictionError",
    "ServerType",
    "TargetType",
    "UnprocessableEntityError",
    "create_app",
]
