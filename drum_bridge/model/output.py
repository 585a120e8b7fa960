"""Checking and encoding what scoring returned, with DRUM's rules and messages."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..config import TargetType
from ..errors import PredictionError

__all__ = ["encode_predictions", "frame_to_csv"]

PREDICTIONS_COLUMN = "Predictions"
_PROBABILITY_TOLERANCE = 1e-6


def _check_frame(out: Any, rows: int) -> pd.DataFrame:
    if not isinstance(out, pd.DataFrame):
        raise PredictionError(
            f"Model output must be a pandas DataFrame, but the model returned {type(out)}"
        )
    if len(out) != rows:
        raise PredictionError(
            f"Prediction output has {len(out)} rows, but the input had {rows} rows;"
            " they must match"
        )
    return out


def _split_extra(out: pd.DataFrame, wanted: Sequence[Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    extra = [c for c in out.columns if c not in wanted]
    if not extra:
        return out, None
    return out[[c for c in out.columns if c in wanted]], out[extra]


def _regression(out: pd.DataFrame) -> tuple[Any, pd.DataFrame | None]:
    if PREDICTIONS_COLUMN in out.columns:
        predictions, extra = _split_extra(out, [PREDICTIONS_COLUMN])
    elif out.shape[1] == 1:
        predictions, extra = out, None
    else:
        raise PredictionError(
            f"Regression output must have one column, or a {PREDICTIONS_COLUMN!r} column"
            f" beside extra ones; got columns {list(out.columns)}"
        )
    try:
        values = predictions.iloc[:, 0].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise PredictionError(f"Regression predictions must be numbers: {exc}") from exc
    return values, extra


def _classification(out: pd.DataFrame, labels: Sequence[str]) -> tuple[Any, pd.DataFrame | None]:
    by_name = {str(c): c for c in out.columns}
    if set(labels) - set(by_name):
        raise PredictionError(
            f"Expected predictions to have columns {list(labels)},"
            f" but encountered {list(out.columns)}"
        )
    probs_frame, extra = _split_extra(out, [by_name[label] for label in labels])
    try:
        probs = probs_frame.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise PredictionError(f"Class probabilities must be numbers: {exc}") from exc
    if ((probs < 0) | (probs > 1)).any():
        raise PredictionError("Your prediction probabilities must be between 0 and 1")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=_PROBABILITY_TOLERANCE):
        raise PredictionError("Your prediction probabilities do not add up to 1.")
    names = [str(c) for c in probs_frame.columns]
    return [dict(zip(names, row)) for row in probs.tolist()], extra


def encode_predictions(
    out: Any, *, rows: int, target_type: TargetType, labels: Sequence[str] | None
) -> bytes:
    """The JSON body of a /predict/ answer: ``{"predictions": [...]}`` (+ extraModelOutput)."""
    frame = _check_frame(out, rows)
    if target_type.is_classification:
        assert labels is not None  # Config guarantees labels for classification.
        predictions, extra = _classification(frame, labels)
    else:
        predictions, extra = _regression(frame)
    body: dict[str, Any] = {"predictions": predictions}
    if extra is not None:
        body["extraModelOutput"] = orjson.Fragment(extra.to_json(orient="split").encode())
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def frame_to_csv(data: Any) -> bytes:
    """CSV of a transform result: a header row, no index, CRLF line ends as DRUM sends."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue().encode()
