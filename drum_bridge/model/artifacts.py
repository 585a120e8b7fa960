"""Artifact auto-loading: without ``load_model``, one artifact in the code dir is the model."""

from __future__ import annotations

import importlib
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

__all__ = ["ARTIFACT_EXTENSIONS", "find_artifact", "load_artifact"]

logger = logging.getLogger("drum_bridge.model")


def _import(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelLoadError(
            f"Loading this artifact needs the {package!r} package, which is not installed"
            f" ({exc}). Install it, e.g. `pip install {package}`."
        ) from exc


def _load_pickle(path: Path) -> Any:
    with path.open("rb") as fh:
        return pickle.load(fh)


def _load_joblib(path: Path) -> Any:
    return _import("joblib", "joblib").load(path)


def _load_torch(path: Path) -> Any:
    torch = _import("torch", "torch")
    model = torch.load(path, weights_only=False)
    model.eval()
    return model


def _load_keras(path: Path) -> Any:
    keras = _import("keras", "keras")
    return keras.models.load_model(path)


def _load_onnx(path: Path) -> Any:
    ort = _import("onnxruntime", "onnxruntime")
    return ort.InferenceSession(str(path))


ARTIFACT_EXTENSIONS: dict[str, Callable[[Path], Any]] = {
    ".pkl": _load_pickle,
    ".joblib": _load_joblib,
    ".pth": _load_torch,
    ".h5": _load_keras,
    ".onnx": _load_onnx,
}


def find_artifact(code_dir: Path) -> Path | None:
    """The one artifact at the top of ``code_dir``; several are an error."""
    found = sorted(
        p for p in code_dir.iterdir() if p.is_file() and p.suffix.lower() in ARTIFACT_EXTENSIONS
    )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ModelLoadError(
            f"Multiple serialized model files found ({names}). Remove extra artifacts or"
            " provide a `load_model` hook in custom.py that picks one."
        )
    return found[0] if found else None


def load_artifact(path: Path) -> Any:
    logger.info("Loading artifact %s", path)
    loader = ARTIFACT_EXTENSIONS[path.suffix.lower()]
    try:
        return loader(path)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"Could not load artifact {path.name}: {exc!r}") from exc
