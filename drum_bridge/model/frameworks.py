"""Framework adapters: how to score a model that custom.py did not score itself."""

from __future__ import annotations

import sys
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..config import TargetType

__all__ = ["Framework", "find_framework"]


class Framework(Protocol):
    #: What ``/info/`` reports as ``predictor``.
    name: str

    def handles(self, model: Any) -> bool: ...

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> pd.DataFrame: ...

    def transform(self, model: Any, data: pd.DataFrame) -> Any: ...


def _loaded(module: str) -> Any:
    # Only frameworks already imported (by unpickling) can own the model.
    return sys.modules.get(module)


class SklearnFramework:
    name = "scikit-learn"

    def handles(self, model: Any) -> bool:
        base = _loaded("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> pd.DataFrame:
        if target_type.is_classification:
            return pd.DataFrame(model.predict_proba(data), columns=list(model.classes_))
        return pd.DataFrame({"Predictions": np.asarray(model.predict(data), dtype=float).ravel()})

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        return model.transform(data)


class XGBoostFramework(SklearnFramework):
    name = "xgboost"

    def handles(self, model: Any) -> bool:
        xgb = _loaded("xgboost")
        return xgb is not None and isinstance(model, (xgb.XGBModel, xgb.Booster))

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> pd.DataFrame:
        if isinstance(model, _loaded("xgboost").Booster):
            out = model.predict(_loaded("xgboost").DMatrix(data))
            if target_type.is_classification:
                probs = np.asarray(out, dtype=float)
                if probs.ndim == 1:
                    probs = np.column_stack([1 - probs, probs])
                return pd.DataFrame(probs)
            return pd.DataFrame({"Predictions": np.asarray(out, dtype=float).ravel()})
        return super().predict(model, data, target_type)


class TorchFramework:
    name = "pytorch"

    def handles(self, model: Any) -> bool:
        torch = _loaded("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> pd.DataFrame:
        torch = _loaded("torch")
        with torch.no_grad():
            out = model(torch.tensor(data.to_numpy(dtype=np.float32))).numpy()
        return _frame(out, target_type)

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        raise TypeError("PyTorch models transform through a `transform` hook in custom.py")


class KerasFramework:
    name = "keras"

    def handles(self, model: Any) -> bool:
        keras = _loaded("keras")
        return keras is not None and isinstance(model, keras.Model)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> pd.DataFrame:
        return _frame(np.asarray(model.predict(data.to_numpy(), verbose=0)), target_type)

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        raise TypeError("Keras models transform through a `transform` hook in custom.py")


class ONNXFramework:
    name = "onnx"

    def handles(self, model: Any) -> bool:
        ort = _loaded("onnxruntime")
        return ort is not None and isinstance(model, ort.InferenceSession)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> pd.DataFrame:
        feed = {model.get_inputs()[0].name: data.to_numpy(dtype=np.float32)}
        outputs = model.run(None, feed)
        # Classifiers exported from scikit-learn give (labels, probabilities).
        out = outputs[-1] if target_type.is_classification and len(outputs) > 1 else outputs[0]
        if isinstance(out, list) and out and isinstance(out[0], dict):
            return pd.DataFrame(out)
        return _frame(np.asarray(out), target_type)

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        feed = {model.get_inputs()[0].name: data.to_numpy(dtype=np.float32)}
        return model.run(None, feed)[0]


def _frame(out: np.ndarray, target_type: TargetType) -> pd.DataFrame:
    out = np.asarray(out, dtype=float)
    if target_type.is_classification:
        if out.ndim == 1 or out.shape[1] == 1:
            positive = out.ravel()
            out = np.column_stack([1 - positive, positive])
        return pd.DataFrame(out)
    return pd.DataFrame({"Predictions": out.ravel()})


_FRAMEWORKS: tuple[Framework, ...] = (
    XGBoostFramework(),
    SklearnFramework(),
    TorchFramework(),
    KerasFramework(),
    ONNXFramework(),
)


def find_framework(model: Any) -> Framework | None:
    for framework in _FRAMEWORKS:
        if framework.handles(model):
            return framework
    return None
