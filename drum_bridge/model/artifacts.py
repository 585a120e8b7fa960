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
        return pickle.load(fh, encoding="latin1")


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
    ".pth": _load_torch,
    ".h5": _load_keras,
    ".onnx": _load_onnx,
}


LANGUAGE_NOTE = "\n\nRunning environment language: Python.\n"


def find_artifact(code_dir: Path) -> Path:
    """The one artifact at the top of ``code_dir``; none or several are errors, as in DRUM."""
    entries = sorted(code_dir.iterdir())
    listed = " | ".join(p.name for p in entries)
    found = [p for p in entries if p.is_file() and p.suffix.lower() in ARTIFACT_EXTENSIONS]
    if len(found) > 1:
        raise ModelLoadError(
            f"{LANGUAGE_NOTE}Multiple serialized model files found. Remove extra artifacts or"
            f" overwrite custom.load_model()\nList of retrieved files are: {listed}"
        )
    if not found:
        raise ModelLoadError(
            f"{LANGUAGE_NOTE}Could not find model artifact file in: {code_dir} supported by"
            f" default predictors.\nThey support filenames with the following extensions"
            f" {sorted(ARTIFACT_EXTENSIONS)}.\nIf your artifact is not supported by default"
            f" predictor, implement custom.load_model() hook.\nList of retrieved files are: {listed}"
        )
    return found[0]


def load_artifact(path: Path) -> Any:
    logger.info("Loading artifact %s", path)
    loader = ARTIFACT_EXTENSIONS[path.suffix.lower()]
    try:
        return loader(path)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"Could not load artifact {path.name}: {exc!r}") from exc
