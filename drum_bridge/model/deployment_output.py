"""``--deployment-config``: /predict/ answered in DataRobot's prediction server (PPS) shape.

The deployment config is DataRobot's deployment document, of which DRUM reads the
``target`` section: ``name``, ``class_mapping`` (``[[label, index], ...]``: the class
order) and ``prediction_threshold``.  The answer, as DRUM 1.18.1 builds it::

    {"data": [{"prediction": ..., "predictionValues": [{"label": ..., "value": ...}, ...],
               "rowId": 0, ...}, ...]}

- regression, anomaly and the text-like types: one value, labelled with the target name
  (anomaly: ``"Anomaly Score"``); ``prediction`` is that value;
- binary: the second class of the mapping is the positive one; its probability, then the
  negative class's (1 - it); ``prediction`` is the positive class when its probability is
  above the threshold, and ``predictionThreshold`` is added;
- multiclass: every class in mapping order; ``prediction`` is the first most probable one;
- multilabel: every class in mapping order; ``prediction`` lists those above the threshold;
- ``extraModelOutput``, when the model returned extra columns: that row's, by column.

Floats are written in full (DRUM's ``json.dumps``), not rounded as in the default shape.
Unlike DRUM, which answers a 500 for each request, a config that cannot serve the model
(no class mapping, or one that names other labels) stops start-up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import TargetType
from ..errors import ConfigError, PredictionError
from .output import Marshalled

__all__ = ["DeploymentTarget", "read_deployment_config", "encode_deployment_predictions"]

ANOMALY_LABEL = "Anomaly Score"
_THRESHOLD_TYPES = frozenset({TargetType.BINARY, TargetType.MULTILABEL})
_NOT_PREDICTED = frozenset({TargetType.TRANSFORM, TargetType.UNSTRUCTURED})


@dataclass(frozen=True)
class DeploymentTarget:
    """The ``target`` section of a deployment config."""

    name: Any = None
    #: The class labels in the mapping's order (by index); None without a mapping.
    class_names: tuple[Any, ...] | None = None
    threshold: Any = None


def _class_names(mapping: Any, where: str) -> tuple[Any, ...] | None:
    if mapping is None:
        return None
    if not isinstance(mapping, list) or not all(
        isinstance(pair, list) and len(pair) == 2 for pair in mapping
    ):
        raise ConfigError(f"'class_mapping' in {where} must be a list of [label, index] pairs")
    try:
        ordered = sorted(mapping, key=lambda pair: pair[1])
    except TypeError:
        raise ConfigError(f"'class_mapping' indexes in {where} must be numbers") from None
    return tuple(pair[0] for pair in ordered)


def read_deployment_config(path: Path) -> DeploymentTarget:
    """The target section of deployment config ``path``; a ConfigError says what is wrong."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"The file {path} does not exist!") from None
    except OSError as exc:
        raise ConfigError(f"Could not read deployment config json file '{path}': {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"Failed to parse deployment config json file '{path}'") from None
    if not isinstance(document, dict) or "target" not in document:
        raise ConfigError(f"'target' section not found in deployment config json file {path}")
    target = document["target"]
    if not isinstance(target, dict):
        raise ConfigError(f"'target' section of deployment config json file {path} must be an object")
    where = f"deployment config json file {path}"
    return DeploymentTarget(
        name=target.get("name"),
        class_names=_class_names(target.get("class_mapping"), where),
        threshold=target.get("prediction_threshold"),
    )


def check_deployment_target(
    target: DeploymentTarget, target_type: TargetType, labels: Sequence[str] | None
) -> None:
    """Refuse a deployment config that cannot answer for this model."""
    if target_type in _NOT_PREDICTED or labels is None:
        return
    if target.class_names is None:
        raise ConfigError(
            f"A {target_type.value} model's deployment config needs a 'class_mapping' in its"
            " 'target' section"
        )
    if sorted(map(str, target.class_names)) != sorted(labels):
        raise ConfigError(
            f"The deployment config's class_mapping labels {list(target.class_names)} are not"
            f" the model's class labels {list(labels)}"
        )
    if target_type in _THRESHOLD_TYPES and (
        isinstance(target.threshold, bool) or not isinstance(target.threshold, (int, float))
    ):
        raise ConfigError(
            f"A {target_type.value} model's deployment config needs a numeric"
            " 'prediction_threshold' in its 'target' section"
        )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value ``json`` writes."""
    return value.item() if isinstance(value, np.generic) else value


def _row_records(
    result: Marshalled, target: DeploymentTarget, target_type: TargetType
) -> list[dict[str, Any]]:
    rows: list[list[Any]] = result.values.tolist()
    if target.class_names is None or result.columns == ["Predictions"]:
        label = ANOMALY_LABEL if target_type is TargetType.ANOMALY else target.name
        return [
            {"prediction": row[0], "predictionValues": [{"label": label, "value": row[0]}]}
            for row in rows
        ]
    position = {str(label): i for i, label in enumerate(result.columns)}
    order = [position[str(name)] for name in target.class_names]
    records = []
    for row in rows:
        values = [{"label": name, "value": row[i]} for name, i in zip(target.class_names, order, strict=True)]
        if target_type is TargetType.BINARY:
            negative, positive = values[0], values[1]
            chance = positive["value"]
            records.append({
                "prediction": positive["label"] if chance > target.threshold else negative["label"],
                "predictionValues": [positive, {"label": negative["label"], "value": 1 - chance}],
                "predictionThreshold": target.threshold,
            })
        elif target_type is TargetType.MULTILABEL:
            records.append({
                "prediction": [v["label"] for v in values if v["value"] > target.threshold],
                "predictionValues": values,
                "predictionThreshold": target.threshold,
            })
        else:
            top = max(row)
            chosen = next(v["label"] for v in values if v["value"] >= top)
            records.append({"prediction": chosen, "predictionValues": values})
    return records


def encode_deployment_predictions(
    result: Marshalled, target: DeploymentTarget, *, rows: int | None, target_type: TargetType
) -> bytes:
    """The JSON body of a /predict/ answer in the PPS shape: ``{"data": [...]}``."""
    if rows is not None and len(result.values) != rows:
        raise PredictionError(
            f"The model returned {len(result.values)} predictions for {rows} input rows;"
            " they must match"
        )
    records = _row_records(result, target, target_type)
    extra = None if result.extra is None else result.extra.to_dict(orient="records")
    for row_id, record in enumerate(records):
        record["rowId"] = row_id
        if extra is not None:
            record["extraModelOutput"] = {key: _plain(v) for key, v in extra[row_id].items()}
    return json.dumps({"data": records}).encode()
