"""The loaded model and the structured operations on it: predict and transform.

Everything here is synchronous and runs in the model's worker threads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..config import Config, TargetType
from ..errors import DrumHTTPError, ModelLoadError, PredictionError, UnprocessableEntityError
from . import output
from .artifacts import find_artifact, load_artifact
from .frameworks import Framework, find_framework
from .hooks import CustomHooks, load_custom_hooks
from .payload import Payload, read_csv, to_frame

__all__ = ["LoadedModel", "load_model", "LOAD_ERROR_PREFIX"]

logger = logging.getLogger("drum_bridge.model")

LOAD_ERROR_PREFIX = "An error occurred when loading your artifact: \n\nRunning environment language: Python.\n"
NO_FRAMEWORK = "Could not find any framework to handle loaded model and a score hook is not provided"


@dataclass(frozen=True)
class LoadedModel:
    config: Config
    hooks: CustomHooks
    model: Any
    framework: Framework | None

    @property
    def predictor_name(self) -> str | None:
        return self.framework.name if self.framework is not None else None

    def score_kwargs(self) -> dict[str, Any]:
        config = self.config
        if config.target_type is TargetType.BINARY:
            return {
                "positive_class_label": config.positive_class_label,
                "negative_class_label": config.negative_class_label,
            }
        if config.target_type is TargetType.MULTICLASS:
            return {"class_labels": list(config.class_labels or ())}
        return {}

    def read_samples(self, payload: Payload) -> pd.DataFrame:
        if self.hooks.read_input_data is not None:
            return self.hooks.read_input_data(payload.data)  # type: ignore[no-any-return]
        return to_frame(payload)

    def predict(self, payload: Payload) -> bytes:
        """Score ``payload`` and answer the JSON body of ``/predict/``."""
        config = self.config
        data = self.read_samples(payload)
        try:
            if self.hooks.transform is not None:
                data = self.hooks.transform(data, self.model)
            if self.hooks.score is not None:
                out = self.hooks.score(data, self.model, **self.score_kwargs())
            else:
                assert self.framework is not None  # load_model() refuses this case.
                out = self._label_columns(self.framework.predict(self.model, data, config.target_type))
            if self.hooks.post_process is not None:
                out = self.hooks.post_process(out, self.model)
        except DrumHTTPError:
            raise
        except Exception as exc:
            raise PredictionError(f"Failure when making predictions. Exception: {exc!r}") from exc
        return output.encode_predictions(
            out, rows=len(data), target_type=config.target_type, labels=config.labels
        )

    def _label_columns(self, out: pd.DataFrame) -> pd.DataFrame:
        # Frameworks without class names give positional columns: name them by the labels,
        # negative class first for binary models, as their probability columns come.
        labels = self.config.labels
        if labels is None or not isinstance(out.columns, pd.RangeIndex):
            return out
        ordered = list(labels)
        if self.config.target_type is TargetType.BINARY:
            ordered = [self.config.negative_class_label or "", self.config.positive_class_label or ""]
        if out.shape[1] != len(ordered):
            return out
        return out.set_axis(ordered, axis=1)

    def transform(self, payload: Payload) -> tuple[bytes, pd.DataFrame | None]:
        """Transform ``payload``: the CSV of X, and y as parsed (None without a target)."""
        data = self.read_samples(payload)
        target = read_csv(payload.target) if payload.target else None
        try:
            if self.hooks.transform is not None:
                if target is not None:
                    result = self.hooks.transform(data, self.model, target)
                else:
                    result = self.hooks.transform(data, self.model)
                if isinstance(result, tuple):
                    result, target = result
            else:
                assert self.framework is not None
                result = self.framework.transform(self.model, data)
        except DrumHTTPError:
            raise
        except Exception as exc:
            raise PredictionError(f"Failure when making predictions. Exception: {exc!r}") from exc
        return output.frame_to_csv(result), target


def load_model(config: Config) -> LoadedModel:
    """Import custom.py, run ``init`` and ``load_model`` or load the artifact."""
    try:
        return _load(config)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{LOAD_ERROR_PREFIX}{exc!r}") from exc


def _load(config: Config) -> LoadedModel:
    hooks = load_custom_hooks(config.code_dir)
    if hooks.init is not None:
        hooks.init(code_dir=str(config.code_dir))
    if hooks.load_model is not None:
        model = hooks.load_model(str(config.code_dir))
    else:
        artifact = find_artifact(config.code_dir)
        model = load_artifact(artifact) if artifact is not None else None
    framework = find_framework(model) if model is not None else None
    if framework is None and not _hooks_can_serve(hooks, config.target_type):
        raise ModelLoadError(f"{LOAD_ERROR_PREFIX}{NO_FRAMEWORK}")
    logger.info("Model loaded (predictor: %s)", framework.name if framework else "custom hooks")
    return LoadedModel(config=config, hooks=hooks, model=model, framework=framework)


def _hooks_can_serve(hooks: CustomHooks, target_type: TargetType) -> bool:
    if target_type is TargetType.UNSTRUCTURED:
        return hooks.score_unstructured is not None
    if target_type is TargetType.TRANSFORM:
        return hooks.transform is not None
    if target_type is TargetType.TEXT_GENERATION:
        return hooks.score is not None or hooks.chat is not None
    return hooks.score is not None


__all__ += ["UnprocessableEntityError"]
