"""``model-metadata.yaml`` in the code dir: the settings DRUM reads from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["ModelMetadata", "read_model_metadata"]

FILE_NAME = "model-metadata.yaml"


@dataclass(frozen=True)
class ModelMetadata:
    raw: dict[str, Any]
    target_type: str | None = None
    target_name: str | None = None
    positive_class_label: str | None = None
    negative_class_label: str | None = None
    class_labels: tuple[str, ...] | None = None


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def read_model_metadata(code_dir: Path) -> ModelMetadata | None:
    path = code_dir / FILE_NAME
    if not path.is_file():
        return None
    try:
        # Every scalar a string, as DRUM's strictyaml reads it: labels `yes`/`no`/`01` stay so.
        raw = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Could not read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of fields, got {type(raw).__name__}")
    inference = raw.get("inferenceModel") or {}
    if not isinstance(inference, dict):
        raise ConfigError(f"{path}: inferenceModel must be a mapping")
    labels = inference.get("classLabels")
    return ModelMetadata(
        raw=raw,
        target_type=raw.get("targetType"),
        target_name=_label(inference.get("targetName")),
        positive_class_label=_label(inference.get("positiveClassLabel")),
        negative_class_label=_label(inference.get("negativeClassLabel")),
        class_labels=tuple(str(label) for label in labels) if labels else None,
    )
