"""Handing the CLI's ``Config`` to uvicorn's worker processes, through the environment.

Worker processes import the app by name, so the Config travels as JSON in one
environment variable.  The encoding follows the dataclass fields' types, so a
new setting travels without a change here; ``decode(encode(c)) == c`` is tested
over a fully populated Config.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..config import Config

__all__ = ["CONFIG_ENV", "decode_config", "encode_config"]

CONFIG_ENV = "DRUM_BRIDGE_CONFIG"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def encode_config(config: Config) -> str:
    return json.dumps({f.name: _plain(getattr(config, f.name)) for f in fields(config)})


def _typed(hint: Any, value: Any) -> Any:
    """``value`` read back from JSON as a value of ``hint`` (one of Config's field types)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _typed(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_typed(item, v) for v in value)
    if origin is None and isinstance(hint, type) and issubclass(hint, (enum.Enum, Path)):
        return hint(value)
    return value


def decode_config(text: str) -> Config:
    data = json.loads(text)
    hints = typing.get_type_hints(Config)
    return Config(**{name: _typed(hints[name], value) for name, value in data.items()})
