"""What scoring returned: checked with DRUM's rules and messages, then encoded.

``marshal`` turns a score result into ``Marshalled``: the prediction values
(one column, or one per class label) and any extra columns.  ``encode_predictions``
writes the ``/predict/`` body.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..config import TargetType
from ..errors import PredictionError

__all__ = ["Marshalled", "marshal", "encode_predictions", "frame_to_csv", "check_frame"]

PREDICTIONS_COLUMN = "Predictions"
#: DRUM writes floats with pandas' ``to_json`` default: rounded to 10 decimal places.
DECIMALS = 10
_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"0", "false", "no", "n", "off", "f"}


@dataclass(frozen=True)
class Marshalled:
    #: 2-D: one column for single-value targets, one per label for classification.
    values: np.ndarray
    #: Column names of ``values``: the request's labels, or ``Predictions``.
    columns: list[str]
    extra: pd.DataFrame | None = None

    def predictions_frame(self) -> pd.DataFrame:
        """The predictions as ``post_process`` gets them: label columns or ``Predictions``."""
        frame: pd.DataFrame = pd.DataFrame(self.values, columns=self.columns)
        return frame


def check_frame(out: Any, what: str) -> pd.DataFrame:
    if not isinstance(out, pd.DataFrame):
        raise PredictionError(f"{what} must return a dataframe, but received {type(out)}")
    return out


def _standard(label: Any) -> Any:
    """DRUM compares labels loosely: as numbers, then as booleans, then case-insensitively."""
    try:
        return float(label)
    except (TypeError, ValueError):
        pass
    text = str(label).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return text


def _single_column(values: np.ndarray, frame: pd.DataFrame | None, name: str) -> Marshalled:
    if values.shape[1] == 1:
        return Marshalled(values=values, columns=[PREDICTIONS_COLUMN])
    quoted = len(name) >= 2 and name[0] == name[-1] == '"'
    if frame is not None and name not in frame.columns and quoted:
        name = name[1:-1]  # DRUM also accepts TARGET_NAME given in quotes
    if frame is None or name not in frame.columns:
        raise PredictionError(
            "Regression, Text Generation, Agentic Workflow and anomaly predictions must"
            f" contain only 1 column. Your predictions have {values.shape[1]} columns"
        )
    extra = frame.drop(columns=[name])
    return Marshalled(values=frame[[name]].to_numpy(), columns=[PREDICTIONS_COLUMN], extra=extra)


def _classification(
    values: np.ndarray,
    model_labels: list[Any],
    frame: pd.DataFrame | None,
    request_labels: Sequence[str],
    target_type: TargetType,
) -> Marshalled:
    wanted = {_standard(label): label for label in request_labels}
    label_positions = [i for i, label in enumerate(model_labels) if _standard(label) in wanted]
    extra = None
    if frame is not None and len(model_labels) > len(request_labels) and len(label_positions) == len(
        request_labels
    ):
        extra = frame.iloc[:, [i for i in range(len(model_labels)) if i not in label_positions]]
        values = values[:, label_positions]
        model_labels = [model_labels[i] for i in label_positions]
    if len(model_labels) != len(request_labels):
        raise PredictionError(
            "Your predictions must return the probability distribution for the correct number"
            f" of class labels. Expected {len(request_labels)} columns, but received"
            f" {len(model_labels)}"
        )
    if {_standard(label) for label in model_labels} != set(wanted):
        raise PredictionError(
            f"Expected predictions to have columns {list(request_labels)},"
            f" but encountered {list(model_labels)}"
        )
    try:
        probs = values.astype(float)
    except (TypeError, ValueError) as exc:
        raise PredictionError(f"Class probabilities must be numbers: {exc}") from exc
    if (probs < 0).any():
        raise PredictionError("Your prediction probabilities have negative values")
    if (probs > 1).any():
        raise PredictionError("Your prediction probabilities have values greater than 1")
    if target_type is not TargetType.MULTILABEL:  # one independent probability per label
        sums = probs.sum(axis=1)
        bad = ~np.isclose(sums, 1)
        if bad.any():
            rows = "\n".join(f"row {i}: sum {sums[i]!r}" for i in np.flatnonzero(bad)[:10])
            raise PredictionError(f"Your prediction probabilities do not add up to 1. \n{rows}")
    columns = [wanted[_standard(label)] for label in model_labels]
    return Marshalled(values=probs, columns=columns, extra=extra)


def marshal(
    out: Any,
    *,
    target_type: TargetType,
    request_labels: Sequence[str] | None,
    model_labels: Sequence[Any] | None = None,
    target_name: str = PREDICTIONS_COLUMN,
) -> Marshalled:
    """Check a score result (a DataFrame, or a framework's array) the way DRUM does."""
    frame = out if isinstance(out, pd.DataFrame) else None
    values = out.to_numpy() if frame is not None else np.asarray(out)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2:
        raise PredictionError(
            "predictions must return a 2 dimensional array, but we received a"
            f" {values.ndim} dimensional array"
        )
    if request_labels is None:
        result = _single_column(values, frame, target_name)
        if not target_type.has_float_predictions:
            return result
        try:
            return replace(result, values=result.values.astype(float))
        except (TypeError, ValueError) as exc:
            raise PredictionError(f"Predictions must be numbers: {exc}") from exc
    if model_labels is None:
        model_labels = list(frame.columns) if frame is not None else None
    if model_labels is None:
        # A framework without class names: one column is the positive class probability.
        if values.shape[1] == 1 and len(request_labels) == 2:
            values = np.column_stack([1 - values[:, 0], values[:, 0]])
        model_labels = list(request_labels)
    return _classification(values, list(model_labels), frame, request_labels, target_type)


def encode_predictions(result: Marshalled, *, rows: int | None, target_type: TargetType) -> bytes:
    """The JSON body of a /predict/ answer: ``{"predictions": [...]}`` (+ extraModelOutput)."""
    if rows is not None and len(result.values) != rows:
        raise PredictionError(
            f"The model returned {len(result.values)} predictions for {rows} input rows;"
            " they must match"
        )
    if result.columns == [PREDICTIONS_COLUMN]:
        column = result.values[:, 0]
        # orjson writes (C-contiguous) float arrays natively; other dtypes go as lists.
        predictions: Any = (
            np.round(column, DECIMALS) if column.dtype.kind == "f" else column.tolist()
        )
    else:
        table: list[list[float]] = np.round(result.values, DECIMALS).tolist()
        predictions = [dict(zip(result.columns, row, strict=True)) for row in table]
    body: dict[str, Any] = {"predictions": predictions}
    if result.extra is not None:
        body["extraModelOutput"] = orjson.Fragment(result.extra.to_json(orient="split").encode())
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def frame_to_csv(data: Any) -> bytes:
    """A transform result as DRUM sends it: header row, no index, CRLF line ends."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\r\n")
    return buffer.getvalue().removesuffix("\r\n").encode()
