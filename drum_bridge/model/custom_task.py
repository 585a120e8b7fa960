"""DRUM custom tasks: a custom.py whose ``CustomTask`` class implements one of DRUM's
custom task interfaces (``TransformerInterface``, ``RegressionEstimatorInterface``,
``BinaryEstimatorInterface``, ...), served as DRUM serves it.

``custom_task_hooks`` turns the class into the hooks the predictor already calls:
``load_model`` is ``CustomTask.load(code_dir)`` with the user secrets set on the task,
``score`` is ``predict`` (``predict_proba`` for classification), ``transform`` is
``transform``.  As in DRUM, a custom task's custom.py has no other hooks.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from ..config import TargetType
from ..errors import ModelLoadError, PredictionError, is_user_http_error

__all__ = ["CUSTOM_TASK_CLASS", "UserSecrets", "custom_task_hooks"]

logger = logging.getLogger("drum_bridge.model")

#: The name DRUM looks for in custom.py.
CUSTOM_TASK_CLASS = "CustomTask"
_INTERFACES = "datarobot_drum.custom_task_interfaces"
TRANSFORM_FAILED = "Model 'transform' hook failed to transform dataset."
_PREDICT = ("predict", "predict_proba")


@dataclass(frozen=True)
class UserSecrets:
    """Where a custom task's secrets come from (``--user-secrets-mount-path`` / ``-prefix``)."""

    mount_path: Path | None = None
    prefix: str | None = None


def _interfaces(submodule: str = "") -> Any:
    """DRUM's interfaces module: the installed datarobot-drum's, or drum-bridge's stand-in."""
    return importlib.import_module(_INTERFACES + submodule)


def _check_task_class(task_class: Any) -> None:
    base = _interfaces().CustomTaskInterface
    if not (isinstance(task_class, type) and issubclass(task_class, base)):
        raise ModelLoadError("The CustomTask class must inherit from the CustomTaskInterface")


def _loader(task_class: Any, custom_module: ModuleType, secrets: UserSecrets) -> Callable[[str], Any]:
    def load_model(code_dir: str) -> Any:
        # `drum fit` pickles the task as `custom.CustomTask` (DRUM imports custom.py as
        # `custom`): that name must find this very class, or `load` refuses the object.
        sys.modules["custom"] = custom_module
        try:
            task = task_class.load(code_dir)
            user_secrets = _interfaces(".user_secrets")
            mount_path = None if secrets.mount_path is None else str(secrets.mount_path)
            found = user_secrets.load_secrets(mount_path, secrets.prefix)
            user_secrets.patch_outputs_to_scrub_secrets(found.values())
            task.secrets = found
        except Exception as exc:
            raise ModelLoadError(f"Failed to load custom task class. Exception: {exc!r}") from exc
        if found:
            logger.info("Custom task loaded with user secrets: %s", ", ".join(sorted(found)))
        return task

    return load_model


def _predict(data: Any, model: Any, **kwargs: Any) -> Any:
    target_type = kwargs.get("target_type")
    if isinstance(target_type, TargetType) and target_type.is_classification:
        out = model.predict_proba(data, **kwargs)
    else:
        out = model.predict(data, **kwargs)
    if not isinstance(out, pd.DataFrame):
        # Raised inside the hook, so that it is reported as DRUM reports it: as the hook's failure.
        raise ValueError(f"score must return a dataframe, but received {type(out)}")
    return out


def _transform(data: Any, model: Any) -> Any:
    try:
        out = model.transform(data)
        if not isinstance(out, pd.DataFrame):
            raise ValueError(f"transform must return a dataframe, but received {type(out)}")
        if len(out) != len(data):
            raise ValueError("Transformation resulted in different number of rows than original data")
    except Exception as exc:
        if is_user_http_error(exc):
            raise
        logger.exception("%s", TRANSFORM_FAILED)
        raise PredictionError(f"{TRANSFORM_FAILED} Exception: {exc!r}") from exc
    return out


def custom_task_hooks(
    task_class: Any, *, custom_module: ModuleType, secrets: UserSecrets
) -> dict[str, Callable[..., Any]]:
    """The hooks that serve ``task_class`` (``CustomTask`` of ``custom_module``), by name."""
    _check_task_class(task_class)
    hooks: dict[str, Callable[..., Any]] = {
        "load_model": _loader(task_class, custom_module, secrets)
    }
    transformer = issubclass(task_class, _interfaces().TransformerInterface)
    if not transformer and any(callable(getattr(task_class, name, None)) for name in _PREDICT):
        hooks["score"] = _predict
    elif callable(getattr(task_class, "transform", None)):
        hooks["transform"] = _transform
    return hooks
