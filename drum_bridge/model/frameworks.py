"""Framework adapters: how to score a model that custom.py does not score itself."""

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

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> np.ndarray:
        """Predictions: values, or class probabilities with one column per class."""

    def class_labels(self, model: Any) -> list[Any] | None:
        """The model's own names of its probability columns, if it has them."""

    def transform(self, model: Any, data: pd.DataFrame) -> Any: ...


def _loaded(module: str) -> Any:
    # Only a framework that unpickling (or load_model) already imported can own the model.
    return sys.modules.get(module)


def _no_transform(name: str) -> None:
    raise TypeError(
        "Transform hook must be implemented for custom transforms, for non-sklearn transformer."
        f" ({name} model)"
    )


class _UnlabelledFramework:
    """Frameworks whose models name no classes and need a transform hook to transform."""

    name: str

    def class_labels(self, model: Any) -> list[Any] | None:
        return None

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        _no_transform(self.name)


class SklearnFramework:
    name = "scikit-learn"

    def handles(self, model: Any) -> bool:
        base = _loaded("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> np.ndarray:
        if target_type.is_classification:
            return np.asarray(model.predict_proba(data))
        return np.asarray(model.predict(data))

    def class_labels(self, model: Any) -> list[Any] | None:
        classes = getattr(model, "classes_", None)
        return list(classes) if classes is not None else None

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        return model.transform(data)


class XGBoostFramework(SklearnFramework):
    name = "xgboost"

    def handles(self, model: Any) -> bool:
        xgb = _loaded("xgboost")
        return xgb is not None and isinstance(model, (xgb.XGBModel, xgb.Booster))

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> np.ndarray:
        xgb = _loaded("xgboost")
        if isinstance(model, xgb.Booster):
            return np.asarray(model.predict(xgb.DMatrix(data)))
        return super().predict(model, data, target_type)

    def class_labels(self, model: Any) -> list[Any] | None:
        return None if isinstance(model, _loaded("xgboost").Booster) else super().class_labels(model)

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        _no_transform(self.name)


class TorchFramework(_UnlabelledFramework):
    name = "torch"

    def handles(self, model: Any) -> bool:
        torch = _loaded("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> np.ndarray:
        torch = _loaded("torch")
        with torch.no_grad():
            return np.asarray(model(torch.tensor(data.to_numpy(dtype=np.float32))).numpy())


class KerasFramework(_UnlabelledFramework):
    name = "keras"

    def handles(self, model: Any) -> bool:
        keras = _loaded("keras")
        return keras is not None and isinstance(model, keras.Model)

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> np.ndarray:
        return np.asarray(model.predict(data.to_numpy(), verbose=0))


class ONNXFramework(_UnlabelledFramework):
    name = "onnx"

    def handles(self, model: Any) -> bool:
        ort = _loaded("onnxruntime")
        return ort is not None and isinstance(model, ort.InferenceSession)

    def _run(self, model: Any, data: pd.DataFrame) -> list[Any]:
        feed = {model.get_inputs()[0].name: data.to_numpy(dtype=np.float32)}
        return list(model.run(None, feed))

    def predict(self, model: Any, data: pd.DataFrame, target_type: TargetType) -> np.ndarray:
        outputs = self._run(model, data)
        # Classifiers converted from scikit-learn answer (labels, probabilities).
        out = outputs[-1] if target_type.is_classification and len(outputs) > 1 else outputs[0]
        if isinstance(out, list) and out and isinstance(out[0], dict):
            return np.asarray(pd.DataFrame(out).to_numpy())
        return np.asarray(out)

    def transform(self, model: Any, data: pd.DataFrame) -> Any:
        return self._run(model, data)[0]


_FRAMEWORKS: tuple[Framework, ...] = (
    KerasFramework(),
    XGBoostFramework(),
    TorchFramework(),
    SklearnFramework(),
    ONNXFramework(),
)


def find_framework(model: Any) -> Framework | None:
    for framework in _FRAMEWORKS:
        if framework.handles(model):
            return framework
    return None
