"""DataRobot runtime parameters: ``MLOPS_RUNTIME_PARAM_<NAME>`` environment variables.

DRUM sets them as JSON, ``{"type": "string", "payload": "fastapi"}``; people
setting them by hand often write the plain value, ``fastapi``.  Both are read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["PREFIX", "read_runtime_param", "runtime_params_env"]

PREFIX = "MLOPS_RUNTIME_PARAM_"


def read_runtime_param(name: str, environ: Mapping[str, str]) -> Any:
    """The payload of runtime parameter ``name``, or None when it is not set."""
    raw = environ.get(PREFIX + name)
    if raw is None:
        return None
    text = raw.strip()
    if not text.startswith("{"):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{PREFIX}{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict) or "payload" not in value:
        raise ConfigError(
            f'{PREFIX}{name} must be {{"type": ..., "payload": ...}} or a plain value, got {raw!r}'
        )
    return value["payload"]


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "numeric"
    if isinstance(value, dict):
        return "credential"
    return "string"


def runtime_params_env(path: Path) -> dict[str, str]:
    """The environment variables a ``--runtime-params-file`` (YAML, NAME: value) stands for."""
    try:
        values = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Could not read runtime parameters file {str(path)!r}: {exc}") from exc
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(
            f"Runtime parameters file {str(path)!r} must map parameter names to values"
        )
    return {
        f"{PREFIX}{name}": json.dumps({"type": _param_type(value), "payload": value})
        for name, value in values.items()
    }
